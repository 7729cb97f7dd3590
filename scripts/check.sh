#!/usr/bin/env bash
# Builds and runs the whole test suite twice: the normal build, then the
# AddressSanitizer + UndefinedBehaviorSanitizer build. Then the concurrency
# tests under ThreadSanitizer, and each libFuzzer target briefly from its kept
# corpus (scripts/fuzz.sh; fuzz/README.md tells how to fuzz for longer).
set -euo pipefail
cd "$(dirname "$0")/.."
for preset in release asan; do
  echo "==> ${preset}: build"
  scripts/build.sh "$preset"
  echo "==> ${preset}: test"
  ctest --preset "$preset"
done
echo "==> tsan: build and test"
scripts/tsan.sh
echo "==> fuzz: build and run"
scripts/fuzz.sh "${OMNICACHE_FUZZ_SECONDS:-20}"
