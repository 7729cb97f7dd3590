#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer it may not use.

The libraries' links in the CMakeLists.txt files say which library may use
which; this keeps the #include "..." lines in step with them, so that an
include across the grain is caught by ctest rather than by the linker, or
not at all. docs/architecture.md draws the layers.

Usage: check_layers.py [SOURCE_DIR]  (default: the folder above this one)
"""

import pathlib
import re
import sys

# Path prefixes to layers; the longest prefix that matches wins.
LAYER_OF = {
    "protocol/": "protocol",
    "store/": "store",
    "cli/": "cli",
    "bench/": "bench",
    "fuzz/": "fuzz",
    "daemon/": "core",
    "daemon/handlers/": "handlers",
    "daemon/log.": "log",
    "daemon/net/": "net",
    "daemon/embedders/": "embed",
    # The interface the embedders implement and the core calls.
    "daemon/embedder.hpp": "embed",
    "daemon/tier/": "tier",
    "daemon/proxy/": "proxy",
    # omnicached's main: the one place that composes the libraries.
    "daemon/main.cpp": "app",
    "daemon/daemon_main.": "app",
}

# Headers the build generates (omnicache_version.hpp): any layer may use them.
GENERATED = "generated"

# What each layer may include besides itself.
ALLOWED = {
    "protocol": set(),
    "store": {"protocol"},
    "cli": {"protocol"},
    "log": set(),
    "net": {"protocol"},
    "embed": {"net", "log", "store", "protocol"},
    "tier": {"net", "store", "protocol"},
    "core": {"handlers", "tier", "embed", "log", "store", "protocol"},
    # The handlers reach the shared tier through the core's Replication
    # (daemon/replication.hpp), not daemon/tier/ itself.
    "handlers": {"core", "embed", "log", "store", "protocol"},
    "proxy": {"core", "handlers", "net", "log", "store", "protocol"},
    "app": {"proxy", "core", "handlers", "tier", "embed", "net", "log", "store", "protocol"},
    "bench": {"protocol", "store"},
    "fuzz": {"protocol", "cli"},
}

# Includes allowed against the rules above until the code is changed, each
# with a comment saying why: {("daemon/handlers/x.cpp", "daemon/tier/y.hpp")}.
# An entry no longer needed fails the check, so that it goes too.
EXCEPTIONS = set()

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
SOURCES = ("*.cpp", "*.hpp", "*.h", "*.cc")


def layer_of(path):
    best = None
    for prefix, layer in LAYER_OF.items():
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return best[1] if best else None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = []
    used_exceptions = set()
    checked = 0
    for folder in ("protocol", "store", "cli", "daemon", "bench", "fuzz"):
        for pattern in SOURCES:
            for file in sorted((root / folder).rglob(pattern)):
                path = file.relative_to(root).as_posix()
                layer = layer_of(path)
                checked += 1
                text = file.read_text(encoding="utf-8", errors="replace")
                for number, line in enumerate(text.splitlines(), 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    header = match.group(1)
                    if "/" not in header:
                        # Beside the file, or generated (omnicache_version.hpp).
                        continue
                    target = layer_of(header)
                    if target is None or target == layer or target in ALLOWED[layer]:
                        continue
                    if (path, header) in EXCEPTIONS:
                        used_exceptions.add((path, header))
                        continue
                    problems.append(
                        f"{path}:{number}: includes {header}: the {layer} layer may not use the {target} layer"
                        f" (it may use: {', '.join(sorted(ALLOWED[layer])) or 'nothing'})"
                    )
    for stale in sorted(EXCEPTIONS - used_exceptions):
        problems.append(f"{stale[0]}: no longer includes {stale[1]}: remove it from EXCEPTIONS in {__file__}")
    for problem in problems:
        print(problem)
    if checked == 0:
        print(f"no sources found under {root}")
        return 1
    print(f"{checked} files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
