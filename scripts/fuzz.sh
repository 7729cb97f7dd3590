#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs each target
# for SECONDS (default 20) from a copy of its kept corpus, fuzz/corpus/<name>/,
# which it never writes. Exits non-zero when a target finds anything (crash,
# failed invariant, sanitizer report, unexpected exception, timeout, memory
# limit) and prints the input that did it. See fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS] [NAME...]     NAME: frame request table_reader config canonical
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift $(($# > 0 ? 1 : 0))
names=("$@")
if ((${#names[@]} == 0)); then
  names=(frame request table_reader config canonical)
fi
jobs=${OMNICACHE_BUILD_JOBS:-$(nproc)}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
run_root=build/fuzz/run
failed=()
for name in "${names[@]}"; do
  work=$run_root/$name
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/crashes"
  cp fuzz/corpus/"$name"/* "$work/corpus/"
  echo "==> fuzz_$name: ${seconds}s"
  # The first corpus folder is where libFuzzer adds what it finds: the copy.
  if build/fuzz/bin/fuzz_"$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/crashes/" "$work/corpus" >"$work/log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "    ok: ${runs:-?} runs, corpus $(find "$work/corpus" -type f | wc -l) inputs"
  else
    failed+=("$name")
    echo "    FOUND A PROBLEM; the end of $work/log:"
    grep -v '^#[0-9]' "$work/log" | tail -n 60 | sed 's/^/    | /'
    for input in "$work"/crashes/*; do
      [[ -e $input ]] && echo "    input: $input (replay: build/fuzz/bin/fuzz_$name $input)"
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: problems found by: ${failed[*]}"
  exit 1
fi
echo "fuzz: no problems in ${#names[@]} targets"
