#!/usr/bin/env bash
# The quick check, and the README's test command: builds the release preset
# and runs the whole test suite in it (every unit and integration test).
# scripts/check.sh adds the sanitizer and fuzz stages.
#
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -R integration.test_cli
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/stages.sh
timed release build scripts/build.sh release
timed release tests ctest --preset release "$@"
