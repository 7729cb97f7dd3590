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
source scripts/lib/stages.sh
timed fuzz build scripts/build.sh fuzz || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
run_root=build/fuzz/run
at_once=${OMNICACHE_BUILD_JOBS:-$(nproc)}

# fuzz_one NAME: runs one target for $seconds from a copy of its corpus; its
# log is $run_root/NAME/log and its exit status $run_root/NAME/status. The
# first corpus folder is where libFuzzer adds what it finds: the copy.
fuzz_one() {
  local name=$1 work=$run_root/$1 status=0
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/crashes"
  cp fuzz/corpus/"$name"/* "$work/corpus/" || status=$?
  if ((status == 0)); then
    build/fuzz/bin/fuzz_"$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/crashes/" "$work/corpus" >"$work/log" 2>&1 || status=$?
  fi
  echo "$status" >"$work/status"
}

# Runs the targets, as many at once as there are processors (each is one
# process on one core), then reports each in order; returns non-zero when any
# found a problem.
fuzz_targets() {
  local name runs input failed=()
  for name in "${names[@]}"; do
    while (($(jobs -rp | wc -l) >= at_once)); do
      wait -n || true
    done
    echo "==> fuzz_$name: ${seconds}s"
    fuzz_one "$name" &
  done
  wait
  for name in "${names[@]}"; do
    if [[ $(cat "$run_root/$name/status" 2>/dev/null) == 0 ]]; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_root/$name/log")
      echo "fuzz_$name: ok, ${runs:-?} runs, corpus $(find "$run_root/$name/corpus" -type f | wc -l) inputs"
    else
      failed+=("$name")
      echo "fuzz_$name: FOUND A PROBLEM; the end of $run_root/$name/log:"
      grep -v '^#[0-9]' "$run_root/$name/log" | tail -n 60 | sed 's/^/    | /'
      for input in "$run_root/$name"/crashes/*; do
        [[ -e $input ]] && echo "    input: $input (replay: build/fuzz/bin/fuzz_$name $input)"
      done
    fi
  done
  if ((${#failed[@]})); then
    echo "fuzz: problems found by: ${failed[*]}"
    return 1
  fi
  echo "fuzz: no problems in ${#names[@]} targets"
}

timed fuzz run fuzz_targets
