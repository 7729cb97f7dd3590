"""What the Python benches share: where things are, their common options,
and how latencies are summed up."""

import argparse
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_DIR = os.path.join(ROOT, "protocol", "python")


def fail(message):
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {message}\n")
    sys.exit(1)


def options(doc):
    """--bin, --requests and --json, checked; returns them and the omnicached to run."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    default_bin = os.environ.get("OMNICACHE_BIN_DIR") or os.path.join(ROOT, "build", "release", "bin")
    parser.add_argument("--bin", default=default_bin)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parsed = parser.parse_args()
    if parsed.requests < 10:
        fail("--requests must be at least 10")
    daemon = os.path.join(parsed.bin, "omnicached")
    if not os.access(daemon, os.X_OK):
        fail(f"{daemon} is missing; build it (cmake --build build/release --target omnicached)")
    return parsed, daemon


def summary(latencies):
    ordered = sorted(latencies)

    def quantile(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"requests": len(ordered), "mean_us": statistics.fmean(ordered), "p50_us": quantile(0.50),
            "p90_us": quantile(0.90), "p99_us": quantile(0.99)}
