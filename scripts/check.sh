#!/usr/bin/env bash
# Builds and runs the whole test suite twice: the normal build, then the
# AddressSanitizer + UndefinedBehaviorSanitizer build. Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
for preset in release asan; do
  echo "==> ${preset}: build"
  scripts/build.sh "$preset"
  echo "==> ${preset}: test"
  ctest --preset "$preset"
done
