#!/usr/bin/env bash
# The full check, for contributors and CI: the quick check (scripts/test.sh:
# the release build and the whole suite), then the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, the concurrency tests under
# ThreadSanitizer, and each libFuzzer target for 20 seconds from its kept
# corpus. Every stage runs even when an earlier one fails; the exit status is
# non-zero when any failed, and the last lines give each stage's time.
#
#   scripts/check.sh [STAGE...]     STAGE: release asan tsan fuzz (default: all four)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/stages.sh

stages=("$@")
if ((${#stages[@]} == 0)); then
  stages=(release asan tsan fuzz)
fi

failed=()
for stage in "${stages[@]}"; do
  echo "==> $stage"
  case $stage in
    release) scripts/test.sh ;;
    asan) timed asan build scripts/build.sh asan && timed asan tests ctest --preset asan ;;
    tsan) scripts/tsan.sh ;;
    fuzz) scripts/fuzz.sh "${OMNICACHE_FUZZ_SECONDS:-20}" ;;
    *) echo "check: unknown stage '$stage' (release, asan, tsan or fuzz)" >&2; exit 2 ;;
  esac || failed+=("$stage")
done

if ((${#failed[@]})); then
  echo "check: failed: ${failed[*]}"
  exit 1
fi
echo "check: every stage passed: ${stages[*]}"
