#!/usr/bin/env python3
"""The latency the HTTP caching proxy adds, on this machine, in one run.

A fake OpenAI-style provider (tests/integration/fake_llm.py, in its own
process) and an omnicached with [proxy] listening on a free loopback port,
in a temporary directory. One keep-alive HTTP/1.1 connection per shape, one
request in flight, POST /v1/chat/completions with a short prompt:

  direct    straight to the fake provider
  bypass    through the proxy with Cache-Control: no-store (forwarding only)
  miss      through the proxy, a new prompt each time (lookup, upstream, store)
  hit       through the proxy, the same prompt each time (answered from the cache)
  hit-sse   the same with stream: true (the stored answer replayed as events)

    bench/proxy.py [--bin DIR] [--requests N] [--json]

  --bin DIR       omnicached (default: $OMNICACHE_BIN_DIR, else build/release/bin)
  --requests N    timed requests per shape (default 2000), after N / 10 untimed ones
  --json          the figures as one JSON object instead of a table

Only differences mean much: the fake provider is Python and answers in a
fraction of a millisecond, far faster than a real one.
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import CLIENT_DIR, ROOT, fail, summary
from benchlib import options as parse_options

FAKE = os.path.join(ROOT, "tests", "integration", "fake_llm.py")
READY_TIMEOUT = 30.0

# Runs the fake provider until its standard input closes; prints its port.
FAKE_MAIN = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("fake_llm", sys.argv[1])
fake_llm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_llm)
fake = fake_llm.FakeLLM()
print(fake.port, flush=True)
sys.stdin.read()
fake.close()
"""


def start_fake():
    process = subprocess.Popen([sys.executable, "-c", FAKE_MAIN, FAKE], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        fail("the fake provider did not start")
    return process, int(line)


def start_daemon(binary, root, upstream):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICACHE_")}
    for name in ("home", "run", "cache", "cfg"):
        os.mkdir(os.path.join(root, name), 0o700)
    env.update(HOME=os.path.join(root, "home"), XDG_RUNTIME_DIR=os.path.join(root, "run"),
               XDG_CACHE_HOME=os.path.join(root, "cache"), XDG_CONFIG_HOME=os.path.join(root, "cfg"))
    config = os.path.join(root, "config.toml")
    with open(config, "w") as f:
        f.write(f'[proxy]\nlisten = "127.0.0.1:0"\nupstream = "{upstream}"\n')
    socket_path = os.path.join(root, "run", "omnicached.sock")
    log = open(os.path.join(root, "omnicached.log"), "wb")
    process = subprocess.Popen([binary, "--foreground", "--config", config, "--socket", socket_path, "--database",
                                os.path.join(root, "cache", "cache.db")], stdin=subprocess.DEVNULL, stdout=log,
                               stderr=log, env=env)
    return process, socket_path


def proxy_port(process, socket_path):
    sys.path.insert(0, CLIENT_DIR)
    import omnicache_client

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"omnicached exited with {process.returncode}")
        try:
            with omnicache_client.Client(socket_path, timeout=5) as client:
                address = client.hello().get("proxy")
            if address:
                return int(address.rpartition(":")[2])
        except (OSError, ValueError, omnicache_client.ServerError):
            pass
        time.sleep(0.05)
    fail("the daemon did not report a proxy address in its hello reply (is [proxy] built in?)")


def measure(port, requests, warmup, body_of, headers):
    """Latencies in microseconds of `requests` sequential requests on one
    keep-alive connection, after `warmup` untimed ones."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    try:
        for i in range(warmup + requests):
            data = json.dumps(body_of(i)).encode()
            start = time.perf_counter_ns()
            connection.request("POST", "/v1/chat/completions", body=data, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter_ns() - start
            if response.status != 200:
                fail(f"request {i} got HTTP {response.status}")
            if i >= warmup:
                out.append(elapsed / 1000)
    finally:
        connection.close()
    return out


def chat(text, **params):
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **params}


def main():
    options, daemon_binary = parse_options(__doc__)

    root = tempfile.mkdtemp(prefix="oc-bench-proxy-")
    fake, fake_port = start_fake()
    daemon = None
    try:
        daemon, socket_path = start_daemon(daemon_binary, root, f"http://127.0.0.1:{fake_port}")
        port = proxy_port(daemon, socket_path)
        warmup = max(1, options.requests // 10)
        json_headers = {"Content-Type": "application/json"}
        run = time.monotonic_ns()
        shapes = {
            "direct": (fake_port, lambda i: chat(f"Direct question {run} {i}?"), json_headers),
            "bypass": (port, lambda i: chat(f"Bypass question {run} {i}?"),
                       dict(json_headers, **{"Cache-Control": "no-store"})),
            "miss": (port, lambda i: chat(f"Miss question {run} {i}?"), json_headers),
            "hit": (port, lambda i: chat("What is the capital of France?"), json_headers),
            "hit-sse": (port, lambda i: chat("What is the capital of France?", stream=True), json_headers),
        }
        figures = {name: summary(measure(p, options.requests, warmup, body_of, headers))
                   for name, (p, body_of, headers) in shapes.items()}
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=30)
        fake.stdin.close()
        fake.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)

    direct = figures["direct"]
    for name, values in figures.items():
        values["added_p50_us"] = values["p50_us"] - direct["p50_us"]
        values["added_mean_us"] = values["mean_us"] - direct["mean_us"]
    if options.json:
        print(json.dumps({"cores": os.cpu_count(), "loadavg": os.getloadavg(), "shapes": figures}, indent=2))
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {os.cpu_count()} cores, load average {load}; {options.requests} requests per shape, one connection, "
          "one in flight")
    print(f"\n{'shape':<8} {'mean ms':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}  "
          f"{'added p50':>10} {'added mean':>11}")
    for name, v in figures.items():
        print(f"{name:<8} {v['mean_us'] / 1000:8.3f} {v['p50_us'] / 1000:8.3f} {v['p90_us'] / 1000:8.3f} "
              f"{v['p99_us'] / 1000:8.3f}  {v['added_p50_us'] / 1000:+10.3f} {v['added_mean_us'] / 1000:+11.3f}")
    print("\nadded = the shape's figure minus direct's (a hit never reaches the provider, so a negative figure "
          "is the provider's time saved)")


if __name__ == "__main__":
    main()
