"""Runs one integration module as ctest does: `python3 run_module.py test_cli`.

It is `python3 -m unittest -v MODULE` with one difference: when the
environment says CI (CI=true, as CI services set it), a skipped test counts as
a failure. A test skips when a tool it needs is missing (redis-server, zsh,
fish, systemd-socket-activate, ...); on a developer's machine that is a note,
but in CI it means the set-up scripts no longer install what the suite needs,
and a silent skip would let that pass.
"""

import os
import sys
import unittest


def _in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes", "on")


class _StrictResult(unittest.TextTestResult):
    """A skip is reported as a failure, with its reason."""

    def addSkip(self, test, reason):
        try:
            raise AssertionError(f"skipped in CI, where every test must run: {reason}")
        except AssertionError:
            self.addFailure(test, sys.exc_info())


def main(argv):
    if len(argv) < 2:
        print("usage: run_module.py MODULE [MODULE ...]", file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromNames(argv[1:])
    result_class = _StrictResult if _in_ci() else unittest.TextTestResult
    runner = unittest.TextTestRunner(verbosity=2, resultclass=result_class)
    result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
