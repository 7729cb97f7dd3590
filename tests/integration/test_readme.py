"""The README's 30-second start, run as written: a reader who pastes it into
a shell gets what the comments beside each line say."""

import os
import re
import subprocess
import unittest

from harness import CLI, COMMAND_TIMEOUT, SOURCE_DIR, IntegrationTest

README = os.path.join(SOURCE_DIR, "README.md")
MARKER = "<!-- quick-start:"


def quick_start_block():
    """The shell block that follows the quick-start marker."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    at = text.index(MARKER)
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, at)
    return match.group(1)


class ReadmeQuickStartTest(IntegrationTest):

    def run_block(self, block):
        # The block puts "$PWD/build/release/bin" on PATH: give it one that
        # holds the binaries under test (a sanitizer build's, say).
        build_bin = os.path.join(self.sandbox.root, "build", "release", "bin")
        os.makedirs(os.path.dirname(build_bin))
        os.symlink(os.path.dirname(CLI), build_bin)
        return subprocess.run(["bash", "-e", "-c", block], stdin=subprocess.DEVNULL, capture_output=True,
                              env=self.sandbox.environment(), cwd=self.sandbox.root, timeout=COMMAND_TIMEOUT)

    def test_the_quick_start_prints_what_its_comments_say(self):
        block = quick_start_block()
        done = self.run_block(block)
        out = done.stdout.decode()
        err = done.stderr.decode()
        self.assertEqual(done.returncode, 0, f"the quick start failed:\n{out}\n{err}")
        self.assertEqual(out.splitlines(), ["Paris", "Paris", "capital of France", "capital of Italy", "hello"],
                         err)
        statuses = [line.split()[0] for line in err.splitlines() if line.split()[:1] in (["MISS"], ["HIT"])]
        self.assertEqual(statuses, ["MISS", "HIT"], err)
        self.cli("daemon", "stop")


if __name__ == "__main__":
    unittest.main()
