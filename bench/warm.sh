#!/usr/bin/env bash
# How fast `omnicache warm` imports, into a daemon of its own in a temporary
# directory (nothing of your cache is touched):
#   plain     ROWS rows of key,value CSV with short values, into an empty cache
#   again     the same file a second time: every row is skipped as cached
#   prompts   ROWS rows of prompt,response CSV: response entries, keyed by a
#             SHA-256 of the canonical request, tagged and with meta
#
#   bench/warm.sh [ROWS]        ROWS defaults to 1000000
#
# The binaries come from $OMNICACHE_BIN_DIR, else build/release/bin.
set -euo pipefail

rows=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${OMNICACHE_BIN_DIR:-$root/build/release/bin}
for program in omnicache omnicached; do
  if [[ ! -x $bin/$program ]]; then
    echo "bench/warm.sh: $bin/$program is missing; build first (scripts/build.sh) or set OMNICACHE_BIN_DIR" >&2
    exit 2
  fi
done

tmp=$(mktemp -d /tmp/oc-bench-XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# An environment of its own, as the integration tests make one.
while IFS='=' read -r name _; do
  unset "$name"
done < <(env | grep '^OMNICACHE_' || true)
export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/cfg
mkdir -m 700 "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
socket=$XDG_RUNTIME_DIR/omnicache/omnicached.sock
database=$XDG_CACHE_HOME/omnicache/cache.db

echo "generating $rows rows of each kind in $tmp"
awk -v n="$rows" 'BEGIN { print "key,value"; for (i = 0; i < n; i++) printf "bench:%08d,value %d\n", i, i }' \
  >"$tmp/plain.csv"
awk -v n="$rows" 'BEGIN {
  print "prompt,response"
  for (i = 0; i < n; i++) printf "What is %d plus %d?,%d\n", i, i, 2 * i
}' >"$tmp/prompts.csv"

"$bin/omnicached" --foreground --socket "$socket" --database "$database" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  "$bin/omnicache" -s "$socket" ping >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin/omnicache" -s "$socket" ping >/dev/null

now_ns() { date +%s%N; }

# measure NAME FILE ARGS...: runs warm once, prints rows/s
measure() {
  local name=$1 file=$2
  shift 2
  local start end report
  start=$(now_ns)
  report=$("$bin/omnicache" -s "$socket" warm "$file" --json "$@")
  end=$(now_ns)
  awk -v name="$name" -v rows="$rows" -v ns=$((end - start)) -v report="$report" 'BEGIN {
    s = ns / 1e9
    counts = ""
    split("imported skipped failed", fields, " ")
    for (i = 1; i <= 3; i++) {
      if (match(report, "\"" fields[i] "\":[0-9]+")) {
        skip = length(fields[i]) + 3
        counts = counts " " fields[i] " " substr(report, RSTART + skip, RLENGTH - skip)
      }
    }
    printf "%-8s %9d rows in %6.2f s  %9.0f rows/s  %s\n", name, rows, s, rows / s, counts
  }'
}

measure plain "$tmp/plain.csv"
measure again "$tmp/plain.csv"
measure prompts "$tmp/prompts.csv" --model bench-model
if ! kill -0 "$daemon_pid" 2>/dev/null; then
  echo "bench/warm.sh: omnicached exited during the run; the end of its log:" >&2
  tail -n 20 "$tmp/daemon.log" >&2
  exit 1
fi
echo "database and its WAL: $(du -ch "$database" "$database-wal" 2>/dev/null | tail -n 1 | cut -f1)"
