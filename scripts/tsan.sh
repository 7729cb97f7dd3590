#!/usr/bin/env bash
# Builds the ThreadSanitizer preset (only what the concurrency tests run: the
# daemon, the command, and the store's and the daemon's unit tests) and runs
# the tests labelled concurrency: the threaded store suites, the handlers'
# suites, and the integration modules that drive one daemon from several
# connections or threads. A race report fails the test that provoked it;
# tests/tsan.supp holds the suppressions.
#
#   scripts/tsan.sh [ctest arguments...]     e.g. scripts/tsan.sh -R protocol
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/stages.sh
timed tsan build scripts/build.sh tsan
timed tsan tests ctest --preset tsan "$@"
