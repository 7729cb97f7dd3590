#!/usr/bin/env python3
"""What the shared Redis tier costs and saves, on this machine, in one run.

A redis-server on a free loopback port and three omnicached in a temporary
directory: A and B share the Redis, C has no shared tier. One request in
flight on one connection per shape, 100-byte values:

  redis-get   GET straight to Redis (the reference: one Redis round trip)
  l1-hit      get on A of a key A holds
  l2-hit      get on B of a key only Redis holds (looked up, copied in, answered)
  miss        get on B of a key no tier holds (local miss, then Redis)
  miss-local  get on C of a key it does not hold (no shared tier)
  set         set on A (acknowledged after the local commit; Redis later)
  set-local   set on C
  propagate   del on A until B no longer serves the key (B polling)

    bench/tier.py [--bin DIR] [--requests N] [--json]

  --bin DIR       omnicached (default: $OMNICACHE_BIN_DIR, else build/release/bin)
  --requests N    timed requests per shape (default 2000; propagate takes N / 10)
  --json          the figures as one JSON object instead of a table
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import CLIENT_DIR, fail, options, summary

sys.path.insert(0, CLIENT_DIR)
import omnicache_client  # noqa: E402

READY_TIMEOUT = 30.0
VALUE = b"v" * 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of its own, and one RESP connection to it."""

    def __init__(self, root):
        binary = shutil.which("redis-server")
        if binary is None:
            fail("redis-server is missing; scripts/install-deps.sh installs it")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
             root, "--logfile", os.path.join(root, "redis.log")], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.file = self.sock.makefile("rb")
                if self.call(b"PING") == b"PONG":
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    fail("redis-server did not start")
                time.sleep(0.05)

    def call(self, *words):
        self.sock.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
        line = self.file.readline()
        if line[:1] == b"$":
            size = int(line[1:])
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if line[:1] == b"-":
            fail(f"Redis answered {line.decode().strip()}")
        return line[1:].strip()

    def close(self):
        self.sock.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def start_daemon(binary, root, name, redis_port):
    folder = os.path.join(root, name)
    os.mkdir(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICACHE_")}
    env.update(HOME=folder, XDG_RUNTIME_DIR=folder, XDG_CACHE_HOME=folder, XDG_CONFIG_HOME=folder)
    socket_path = os.path.join(folder, "omnicached.sock")
    args = [binary, "--foreground", "--socket", socket_path, "--database", os.path.join(folder, "cache.db")]
    if redis_port is not None:
        args += ["-o", f"tier.redis.url=redis://127.0.0.1:{redis_port}"]
    log = open(os.path.join(folder, "omnicached.log"), "wb")
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"omnicached {name} exited with {process.returncode}")
        try:
            client = omnicache_client.Client(socket_path, timeout=30)
            client.hello()
            return process, client
        except (OSError, omnicache_client.ServerError):
            time.sleep(0.05)
    fail(f"omnicached {name} did not answer")


def timed(requests, warmup, one):
    """Microseconds of each of `requests` calls of one(i), after `warmup` untimed ones."""
    out = []
    for i in range(warmup + requests):
        start = time.perf_counter_ns()
        one(i)
        elapsed = time.perf_counter_ns() - start
        if i >= warmup:
            out.append(elapsed / 1000)
    return out


def expect(condition, what):
    if not condition:
        fail(what)


def wait_until_mirrored(client, count):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        tier = client.call("stats")[0]["tier"]
        if tier["queued"] == 0 and tier["mirrored"] >= count:
            return
        time.sleep(0.05)
    fail("A's writes did not reach Redis")


def main():
    parsed, binary = options(__doc__)
    root = tempfile.mkdtemp(prefix="oc-bench-tier-")
    n = parsed.requests
    warmup = max(1, n // 10)
    run = time.monotonic_ns()
    redis = Redis(root)
    daemons = []
    figures = {}
    try:
        daemons = [start_daemon(binary, root, name, port)
                   for name, port in (("a", redis.port), ("b", redis.port), ("c", None))]
        a, b, c = (client for _, client in daemons)

        redis.call(b"SET", b"bench:get", VALUE)
        figures["redis-get"] = summary(timed(n, warmup, lambda i: redis.call(b"GET", b"bench:get")))

        a.call("set", {"key": "hot"}, VALUE)
        figures["l1-hit"] = summary(timed(n, warmup, lambda i: expect(a.call("get", {"key": "hot"})[0]["found"],
                                                                       "A lost its own key")))

        for i in range(warmup + n):
            a.call("set", {"key": f"shared-{run}-{i}"}, VALUE)
        wait_until_mirrored(a, warmup + n)

        def l2_hit(i):
            header, _ = b.call("get", {"key": f"shared-{run}-{i}"})
            expect(header.get("tier") == "L2", f"shared-{i} was not an L2 hit: {header}")
        figures["l2-hit"] = summary(timed(n, warmup, l2_hit))
        figures["miss"] = summary(timed(n, warmup, lambda i: b.call("get", {"key": f"absent-{run}-{i}"})))
        figures["miss-local"] = summary(timed(n, warmup, lambda i: c.call("get", {"key": f"absent-{run}-{i}"})))
        figures["set"] = summary(timed(n, warmup, lambda i: a.call("set", {"key": f"s-{run}-{i}"}, VALUE)))
        figures["set-local"] = summary(timed(n, warmup, lambda i: c.call("set", {"key": f"s-{run}-{i}"}, VALUE)))

        def propagate(i):
            key = f"shared-{run}-{i}"  # B copied it above
            a.call("del", {"keys": [key]})
            deadline = time.monotonic() + 5
            while b.call("get", {"key": key})[0]["found"]:
                expect(time.monotonic() < deadline, f"B still serves {key} 5 s after A removed it")
        figures["propagate"] = summary(timed(max(10, n // 10), 0, propagate))
        tier_b = b.call("stats")[0]["tier"]
    finally:
        for process, client in daemons:
            client.close()
            process.terminate()
            process.wait(timeout=30)
        redis.close()
        shutil.rmtree(root, ignore_errors=True)

    if parsed.json:
        print(json.dumps({"cores": os.cpu_count(), "loadavg": os.getloadavg(), "shapes": figures, "tier_b": tier_b},
                         indent=2))
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {os.cpu_count()} cores, load average {load}; {n} requests per shape, one connection, one in flight, "
          f"{len(VALUE)}-byte values")
    print(f"\n{'shape':<11} {'mean ms':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for name, v in figures.items():
        print(f"{name:<11} {v['mean_us'] / 1000:8.3f} {v['p50_us'] / 1000:8.3f} {v['p90_us'] / 1000:8.3f} "
              f"{v['p99_us'] / 1000:8.3f}")
    print(f"\nB: {tier_b['l2_hits']} shared hits, {tier_b['l2_misses']} shared misses, {tier_b['l2_errors']} errors, "
          f"{tier_b['invalidations_applied']} invalidations applied")


if __name__ == "__main__":
    main()
