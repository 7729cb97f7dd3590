#!/usr/bin/env bash
# A short tour on the embedded defaults: the daemon starts by itself, values
# go in and come out, and stats show what happened. Works in the "demo"
# tenant, so nothing else in your cache is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bin
export OMNICACHE_TENANT=demo

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "${*#"$bin/"}" "$plain"; }
run() { step "$*"; "$@"; }

started_here=no
if ! "$bin/omnicache" daemon status >/dev/null 2>&1; then
  started_here=yes
fi

run "$bin/omnicache" set greeting "hello" --ttl 10m --tag demo --tag env:dev
step "echo '{\"answer\":42}' | omnicache set result:1 --tag demo"
echo '{"answer":42}' | "$bin/omnicache" set result:1 --tag demo
run "$bin/omnicache" get greeting
echo
run "$bin/omnicache" get result:1
step "omnicache get missing || echo \"miss (exit \$?)\""
"$bin/omnicache" get missing || echo "miss (exit $?)"
run "$bin/omnicache" inspect result:1
run "$bin/omnicache" keys '*'
run "$bin/omnicache" invalidate demo
run "$bin/omnicache" stats
run "$bin/omnicache" daemon status

if [[ $started_here == yes ]]; then
  run "$bin/omnicache" daemon stop
else
  echo
  echo "(the daemon was already running; it keeps running)"
fi
