#!/usr/bin/env bash
# omnicached against redis-server on this machine, in the same run: both on
# Unix sockets in a temporary directory (redis with `port 0`, no TCP), loaded
# alternately (redis, omnicache, redis, omnicache ...) by redis-benchmark and
# omnicache-bench with the same shape:
#
#   get        50 connections, one request in flight each, GET of a present key
#   set        50 connections, one in flight each, SET (redis: appendonly yes,
#              appendfsync everysec, the durability of omnicached's WAL with
#              daemon.sync = normal)
#   get-P16    50 connections, 16 requests in flight each, GET
#   get-c1     1 connection, one in flight: the round trip's latency
#
# Values are 1 KiB, keys key:<12 digits> out of a keyspace of 100000, all set
# before the first round. Then whole-command latency with hyperfine: the
# omnicache command's get against redis-cli's GET and against omnicache-floor
# (a bare C client: the least a command can cost). Last, both servers' memory
# and what they store.
#
#   bench/compare.sh [--bin DIR] [--requests N] [--rounds R] [--keyspace K] [--quick]
#
#   --bin DIR       omnicached, omnicache, omnicache-bench and omnicache-floor
#                   (default: $OMNICACHE_BIN_DIR, else build/release/bin)
#   --requests N    requests per get run (default 50000); set sends N / 2,
#                   get-P16 2 N, get-c1 N / 5, so that each run takes a few seconds
#   --rounds R      runs of each server per shape (default 3); the summary
#                   gives the median of the rounds
#   --keyspace K    distinct keys (default 100000)
#   --quick         --requests 10000 --rounds 1 --keyspace 20000, fewer hyperfine runs
#
# redis-server, redis-benchmark, redis-cli and hyperfine come from
# scripts/install-deps.sh --bench. Only ratios mean anything: the machine and
# its load decide the absolute figures.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${OMNICACHE_BIN_DIR:-$root/build/release/bin}
requests=50000
rounds=3
keyspace=100000
hyperfine_runs=300
value_size=1024

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keyspace) keyspace=$2; shift 2 ;;
    --quick) requests=10000; rounds=1; keyspace=20000; hyperfine_runs=100; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for number in "$requests" "$rounds" "$keyspace"; do
  if ! [[ $number =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/compare.sh: '$number' is not a positive whole number" >&2
    exit 2
  fi
done
if ((requests < 10)); then
  echo "bench/compare.sh: --requests must be at least 10" >&2
  exit 2
fi
for program in omnicached omnicache omnicache-bench omnicache-floor; do
  if [[ ! -x $bin/$program ]]; then
    echo "bench/compare.sh: $bin/$program is missing; build it (cmake --build build/release --target $program)" \
      "or pass --bin" >&2
    exit 2
  fi
done
for program in redis-server redis-benchmark redis-cli hyperfine python3; do
  if ! command -v "$program" >/dev/null; then
    echo "bench/compare.sh: $program is missing; run scripts/install-deps.sh --bench" >&2
    exit 2
  fi
done

tmp=$(mktemp -d /tmp/oc-compare-XXXXXX)
redis_pid=
daemon_pid=
cleanup() {
  trap - EXIT INT TERM
  for pid in $redis_pid $daemon_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $redis_pid $daemon_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# An environment of its own, as the integration tests make one: nothing of
# the user's cache or configuration is read or touched.
while IFS='=' read -r name _; do
  unset "$name"
done < <(env | grep '^OMNICACHE_' || true)
export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/cfg
mkdir -m 700 "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$tmp/redis"
socket=$XDG_RUNTIME_DIR/omnicache/omnicached.sock
database=$XDG_CACHE_HOME/omnicache/cache.db
redis_socket=$tmp/redis/redis.sock

cat >"$tmp/redis/redis.conf" <<EOF
port 0
unixsocket $redis_socket
unixsocketperm 700
dir $tmp/redis
daemonize no
save ""
appendonly yes
appendfsync everysec
logfile $tmp/redis/redis.log
EOF
redis-server "$tmp/redis/redis.conf" &
redis_pid=$!
"$bin/omnicached" --foreground --socket "$socket" --database "$database" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  if redis-cli -s "$redis_socket" ping >/dev/null 2>&1 && "$bin/omnicache" -s "$socket" ping >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
redis-cli -s "$redis_socket" ping >/dev/null || { echo "bench/compare.sh: redis-server did not start" >&2; exit 1; }
"$bin/omnicache" -s "$socket" ping >/dev/null || { echo "bench/compare.sh: omnicached did not start" >&2; exit 1; }

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | cut -d' ' -f1-3)," \
  "omnicached $("$bin/omnicache" -s "$socket" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["version"])')"
echo "# $value_size-byte values, keyspace $keyspace, $requests requests per get run, $rounds rounds"

# The same keys in both: key:<12 digits>, as redis-benchmark's -r writes them.
start=$(date +%s.%N)
python3 - "$keyspace" "$value_size" <<'EOF' | redis-cli -s "$redis_socket" --pipe >/dev/null
import sys
count, size = int(sys.argv[1]), int(sys.argv[2])
value = b"x" * size
out = sys.stdout.buffer
for i in range(count):
    key = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
EOF
echo "# prefill: redis $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" \
  "$(date +%s.%N)") s (redis-cli --pipe), omnicached: $("$bin/omnicache-bench" -s "$socket" --prefill -n 0 \
  -r "$keyspace" -d "$value_size" --ops get 2>&1)"

results=$tmp/results.tsv
: >"$results"

# redis SHAPE CONNECTIONS PIPELINE N TEST: one redis-benchmark run, one line of results.
redis() {
  local shape=$1 connections=$2 pipeline=$3 n=$4 test=$5 csv
  csv=$(redis-benchmark -s "$redis_socket" -c "$connections" -P "$pipeline" -n "$n" -d "$value_size" \
    -r "$keyspace" -t "$test" --csv)
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  python3 - "$shape" "$csv" >>"$results" <<'EOF'
import csv, io, sys
rows = list(csv.reader(io.StringIO(sys.argv[2])))
row = rows[-1]
print("\t".join([sys.argv[1], "redis", row[1], str(float(row[4]) * 1000), str(float(row[6]) * 1000), "0"]))
EOF
}

# ours SHAPE CONNECTIONS PIPELINE N OP: one omnicache-bench run, one line of results.
ours() {
  local shape=$1 connections=$2 pipeline=$3 n=$4 op=$5 json
  json=$("$bin/omnicache-bench" -s "$socket" -c "$connections" -P "$pipeline" -n "$n" -d "$value_size" \
    -r "$keyspace" --ops "$op" --json)
  python3 - "$shape" "$op" "$json" >>"$results" <<'EOF'
import json, sys
one = json.loads(sys.argv[3])["ops"][sys.argv[2]]
print("\t".join(str(x) for x in [sys.argv[1], "omnicache", one["ops_per_s"], one["p50_us"], one["p99_us"], one["errors"]]))
EOF
}

printf '\n%-8s %5s  %12s %12s %7s  %9s %9s  %9s %9s\n' shape round "redis ops/s" "ours ops/s" ratio \
  "redis p50" "ours p50" "redis p99" "ours p99"
# shape: name, connections, pipeline, requests, redis test, our op
shapes=(
  "get 50 1 $requests get get"
  "set 50 1 $((requests / 2)) set set"
  "get-P16 50 16 $((requests * 2)) get get"
  "get-c1 1 1 $((requests / 5)) get get"
)
for line in "${shapes[@]}"; do
  read -r shape connections pipeline n test op <<<"$line"
  for round in $(seq "$rounds"); do
    redis "$shape" "$connections" "$pipeline" "$n" "$test"
    ours "$shape" "$connections" "$pipeline" "$n" "$op"
    tail -n 2 "$results" | python3 -c '
import sys
(shape, _, r_ops, r50, r99, _e), (_, _, o_ops, o50, o99, _e2) = (l.split("\t") for l in sys.stdin.read().splitlines())
f = float
print(f"{shape:<8} {sys.argv[1]:>5}  {f(r_ops):12.0f} {f(o_ops):12.0f} {f(o_ops) / f(r_ops):6.2f}x  "
      f"{f(r50):7.0f}µs {f(o50):7.0f}µs  {f(r99):7.0f}µs {f(o99):7.0f}µs")' "$round"
  done
done

echo
echo "# median of the rounds (ratio: the median of the rounds' omnicache / redis; latency in µs)"
python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
shapes = list(dict.fromkeys(r[0] for r in rows))
print(f"{'shape':<8}  {'redis ops/s':>12} {'ours ops/s':>12} {'ratio':>7}  {'redis p50':>9} {'ours p50':>9}"
      f"  {'redis p99':>9} {'ours p99':>9}  {'errors':>6}")
for shape in shapes:
    def column(server, index):
        return [float(r[index]) for r in rows if r[0] == shape and r[1] == server]
    def median(server, index):
        return statistics.median(column(server, index))
    ratio = statistics.median(o / r for o, r in zip(column("omnicache", 2), column("redis", 2)))
    errors = sum(int(r[5]) for r in rows if r[0] == shape)
    print(f"{shape:<8}  {median('redis', 2):12.0f} {median('omnicache', 2):12.0f} {ratio:6.2f}x"
          f"  {median('redis', 3):9.0f} {median('omnicache', 3):9.0f}"
          f"  {median('redis', 4):9.0f} {median('omnicache', 4):9.0f}  {errors:>6}")
EOF

echo
echo "# whole-command latency: one get of a present key, process start to exit"
key=key:000000000042
hyperfine -N --warmup 20 --runs "$hyperfine_runs" --style basic --export-markdown "$tmp/hyperfine.md" \
  -n "omnicache get" "$bin/omnicache -s $socket get $key" \
  -n "redis-cli GET" "redis-cli -s $redis_socket GET $key" \
  -n "omnicache-floor" "$bin/omnicache-floor $socket $key" >"$tmp/hyperfine.log" 2>&1 \
  || { cat "$tmp/hyperfine.log" >&2; exit 1; }
cat "$tmp/hyperfine.md"

echo
echo "# memory and storage after the runs"
rss() { awk '/^VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }
redis_used=$(redis-cli -s "$redis_socket" info memory | awk -F: '/^used_memory:/ { printf "%.1f MiB", $2 / 1048576 }')
redis_keys=$(redis-cli -s "$redis_socket" dbsize)
"$bin/omnicache" -s "$socket" stats --json >"$tmp/stats.json"
ours_stored=$(python3 - "$tmp/stats.json" <<'EOF'
import json, sys
totals = json.load(open(sys.argv[1]))["totals"]
mib = (totals["stored_bytes"] + totals["key_bytes"]) / 1048576
print(f"{totals['entries']} entries, {mib:.1f} MiB of values and keys")
EOF
)
disk() { du -cb "$@" 2>/dev/null | awk 'END { printf "%.1f MiB", $1 / 1048576 }'; }
echo "redis-server   RSS $(rss "$redis_pid"), used_memory $redis_used, $redis_keys keys," \
  "append-only files $(disk "$tmp/redis"/appendonlydir)"
echo "omnicached     RSS $(rss "$daemon_pid"), $ours_stored, database $(disk "$database"), WAL $(disk "$database-wal")"

if ! kill -0 "$daemon_pid" 2>/dev/null; then
  echo "bench/compare.sh: omnicached exited during the run; the end of its log:" >&2
  tail -n 20 "$tmp/daemon.log" >&2
  exit 1
fi
