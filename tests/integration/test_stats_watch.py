"""omnicache stats --watch: samples of the daemon's stats, as lines on a pipe
and as a redrawn screen on a terminal."""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import harness
from harness import CLI, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, WAIT, IntegrationTest

COLUMNS = ["time", "ops/s", "hits/s", "misses/s", "sets/s", "hit%", "overall", "entries", "raw", "stored", "saved", "conns"]
FIELDS = {"time_ms", "interval_ms", "version", "pid", "uptime_s", "tenant", "requests", "ops_per_s", "hits",
          "hits_per_s", "misses", "misses_per_s", "hit_rate", "hit_rate_overall", "sets", "sets_per_s", "entries",
          "raw_bytes", "stored_bytes", "cost_saved_usd", "connections"}
RATES = ["interval_ms", "ops_per_s", "hits_per_s", "misses_per_s", "sets_per_s"]

ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
ALTERNATE_ON, ALTERNATE_OFF = b"\x1b[?1049h", b"\x1b[?1049l"
CURSOR_HIDDEN, CURSOR_SHOWN = b"\x1b[?25l", b"\x1b[?25h"
HOME = b"\x1b[H"


class Output:
    """The output of a running command, read from a pipe or a pty without
    blocking past a deadline."""

    def __init__(self, fd):
        self.fd = fd
        self.data = b""
        self.closed = False

    def read_until(self, predicate, timeout=WAIT, message="output"):
        deadline = time.monotonic() + timeout
        while not predicate(self.data):
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                raise AssertionError(f"no {message} within {timeout:.0f}s; output so far: {self.data[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self._read_some()
        return self.data

    def read_to_end(self, timeout=WAIT):
        return self.read_until(lambda _: self.closed, timeout, "end of output")

    def _read_some(self):
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the pty's other side is closed
            chunk = b""
        if chunk:
            self.data += chunk
        else:
            self.closed = True


class Watch:
    """A running `omnicache stats --watch`, on a pipe or on a pseudo-terminal."""

    def __init__(self, test, *args, terminal=None):
        self.test = test
        argv = [CLI, "stats", "--watch", *args]
        if terminal:
            master, slave = pty.openpty()
            rows, columns = terminal
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            stdout = slave
        else:
            master, stdout = None, subprocess.PIPE
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                                        env=test.sandbox.environment(), cwd=test.sandbox.root)
        if terminal:
            os.close(slave)
            test.addCleanup(os.close, master)
            self.output = Output(master)
        else:
            self.output = Output(self.process.stdout.fileno())
        test.addCleanup(self._end)

    def _end(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()

    def lines(self, n):
        """The first `n` complete lines (waits for them)."""
        data = self.output.read_until(lambda d: d.count(b"\n") >= n, message=f"{n} lines")
        return data.decode().splitlines()[:n]

    def signal(self, sig):
        self.process.send_signal(sig)

    def finish(self, timeout=WAIT):
        """Reads the rest; returns (exit code, stdout bytes, stderr text)."""
        self.output.read_to_end(timeout)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.test.fail(f"omnicache stats --watch did not exit within {timeout:.0f}s")
        return code, self.output.data, self.process.stderr.read().decode(errors="replace")


def columns(line):
    return dict(zip(COLUMNS, line.split()))


class WatchTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.client = self.client()

    def set_keys(self, prefix, n):
        for i in range(n):
            self.client.call("set", {"key": f"{prefix}{i}"}, b"value")

    def get_keys(self, prefix, n):
        for i in range(n):
            self.client.call("get", {"key": f"{prefix}{i}"})

    def between_samples(self, watch, samples, work):
        """Waits for `samples` output lines, then does `work` with the watch
        stopped, so that it falls between that sample and the next whatever
        the machine's speed."""
        watch.lines(samples)
        watch.signal(signal.SIGSTOP)
        try:
            work()
        finally:
            watch.signal(signal.SIGCONT)


class OnAPipe(WatchTest):

    def test_plain_output_is_a_header_then_one_line_per_sample(self):
        result = self.cli("stats", "--watch", "-i", "200ms", "-n", "3")
        lines = result.text.splitlines()
        self.assertEqual(len(lines), 4, result.describe())
        self.assertEqual(lines[0].split(), COLUMNS)
        for line in lines[1:]:
            self.assertEqual(len(line.split()), len(COLUMNS), line)
            self.assertRegex(columns(line)["time"], r"^\d\d:\d\d:\d\d$")
        # No interval before the first sample: no rates yet.
        self.assertEqual(columns(lines[1])["ops/s"], "-")
        self.assertRegex(columns(lines[2])["ops/s"], r"^\d+\.\d$")

    def test_json_gives_one_object_per_sample_per_line(self):
        result = self.cli("stats", "--watch", "-i", "200ms", "-n", "3", "--json")
        samples = [json.loads(line) for line in result.text.splitlines()]
        self.assertEqual(len(samples), 3, result.describe())
        for sample in samples:
            self.assertEqual(set(sample), FIELDS)
            self.assertEqual(sample["pid"], self.daemon.pid)
            self.assertEqual(sample["tenant"], "default")
        for field in RATES + ["hit_rate", "hit_rate_overall"]:
            self.assertIsNone(samples[0][field], field)
        for sample in samples[1:]:
            for field in RATES:
                self.assertGreaterEqual(sample[field], 0, field)
        self.assertGreater(samples[1]["time_ms"], samples[0]["time_ms"] - 1)

    def test_all_tenants_reports_no_single_tenant(self):
        samples = [json.loads(line) for line in self.cli("stats", "--watch", "--all-tenants", "-n", "1", "--json")
                   .text.splitlines()]
        self.assertEqual(len(samples), 1)
        self.assertIsNone(samples[0]["tenant"])

    def test_the_rates_count_exactly_what_happened_between_two_samples(self):
        hits, misses = 40, 10
        self.set_keys("k", hits)
        watch = Watch(self, "-i", "1s", "-n", "2", "--json")
        self.between_samples(watch, 1, lambda: (self.get_keys("k", hits), self.get_keys("absent", misses)))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        first, second = [json.loads(line) for line in out.decode().splitlines()]
        # Every request the daemon read in between: ours, and the watch's one
        # stats request, which its rate leaves out.
        self.assertEqual(second["requests"] - first["requests"], hits + misses + 1)
        self.assertEqual(second["hits"] - first["hits"], hits)
        self.assertEqual(second["misses"] - first["misses"], misses)
        self.assertEqual(second["hit_rate"], hits / (hits + misses))
        self.assertEqual(second["hit_rate_overall"], second["hits"] / (second["hits"] + second["misses"]))
        seconds = second["interval_ms"] / 1000
        self.assertAlmostEqual(second["ops_per_s"] * seconds, hits + misses, places=6)
        self.assertAlmostEqual(second["hits_per_s"] * seconds, hits, places=6)
        self.assertAlmostEqual(second["misses_per_s"] * seconds, misses, places=6)
        self.assertEqual(second["sets_per_s"], 0)

    def test_sets_per_second_counts_the_sets_between_two_samples(self):
        sets = 25
        watch = Watch(self, "-i", "1s", "-n", "2")
        # The header, then the first sample.
        self.between_samples(watch, 2, lambda: self.set_keys("s", sets))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        lines = out.decode().splitlines()
        self.assertEqual(lines[0].split(), COLUMNS)
        first, second = (columns(line) for line in lines[1:])
        self.assertEqual(first["sets/s"], "-")
        self.assertGreater(float(second["sets/s"]), 0)
        self.assertEqual(int(second["entries"]) - int(first["entries"]), sets)

    def test_entries_grow_and_ops_per_second_shows_the_load_between_samples(self):
        batch = 30
        watch = Watch(self, "-i", "1s", "-n", "3")
        # Sample 1 is the second line, after the header.
        self.between_samples(watch, 2, lambda: (self.set_keys("a", batch), self.get_keys("a", batch)))
        self.between_samples(watch, 3, lambda: (self.set_keys("b", batch), self.get_keys("b", batch)))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        samples = [columns(line) for line in out.decode().splitlines()[1:]]
        self.assertEqual(len(samples), 3, out)
        entries = [int(sample["entries"]) for sample in samples]
        self.assertEqual(entries, [entries[0], entries[0] + batch, entries[0] + 2 * batch])
        for sample in samples[1:]:
            self.assertGreater(float(sample["ops/s"]), 0)
            self.assertGreater(float(sample["hits/s"]), 0)
            self.assertEqual(sample["hit%"], "100.0%")

    def test_lines_reach_a_pipe_as_they_are_sampled(self):
        # A long interval and no count: the first line can only come
        # through the pipe because it was flushed as soon as it was taken.
        watch = Watch(self, "-i", "1h")
        header, first = watch.lines(2)
        self.assertEqual(header.split(), COLUMNS)
        self.assertEqual(len(first.split()), len(COLUMNS))
        watch.signal(signal.SIGINT)
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        self.assertEqual(err, "")


class WhenTheDaemonGoesAway(WatchTest):

    def assert_ends_unreachable(self, stop):
        watch = Watch(self, "-i", "200ms")
        watch.lines(2)
        stop()
        code, _, err = watch.finish()
        self.assertEqual(code, EXIT_UNREACHABLE, err)
        self.assertIn("the daemon went away", err)
        # Nothing started another daemon behind the user's back.
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_a_killed_daemon_ends_the_watch_with_the_unreachable_code(self):
        self.assert_ends_unreachable(self.daemon.kill9)

    def test_a_stopped_daemon_ends_the_watch_with_the_unreachable_code(self):
        self.assert_ends_unreachable(lambda: self.stop_daemon(self.daemon))


class OnATerminal(WatchTest):

    def test_the_screen_is_redrawn_in_place_and_sigint_leaves_the_last_one(self):
        self.set_keys("k", 3)
        watch = Watch(self, "-i", "200ms", terminal=(30, 100))
        watch.output.read_until(lambda d: d.count(HOME) >= 2, message="two screens")
        watch.signal(signal.SIGINT)
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        self.assertTrue(out.startswith(CURSOR_HIDDEN), out[:100])
        # Not on the alternate screen, and nothing cleared at the end: the
        # last figures stay on the terminal, the cursor below them.
        self.assertNotIn(ALTERNATE_ON, out)
        self.assertNotIn(ALTERNATE_OFF, out)
        last = out[out.rindex(HOME):]
        self.assertTrue(last.endswith(b"\x1b[J" + CURSOR_SHOWN), out[-100:])
        text = ESCAPE.sub(b"", last).decode()
        title = text.splitlines()[0]
        self.assertIn(f"pid {self.daemon.pid}", title)
        self.assertRegex(title, r"^omnicached \S+  pid \d+  up \S+  tenant default")
        self.assertRegex(text, r"ops/s +\d+\.\d")
        self.assertRegex(text, r"sets/s +\d+\.\d +sets +3\b")
        self.assertRegex(text, r"\nlayer +entries")
        self.assertRegex(text, r"\nkv +3 ")

    def test_a_resized_terminal_is_redrawn_at_once_to_its_new_width(self):
        watch = Watch(self, "-i", "1h", terminal=(30, 100))
        watch.output.read_until(lambda d: b"\x1b[J" in d, message="a screen")
        fcntl.ioctl(watch.output.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 36, 0, 0))
        watch.signal(signal.SIGWINCH)
        data = watch.output.read_until(lambda d: d.count(b"\x1b[J") >= 2, message="a second screen")
        second = ESCAPE.sub(b"", data[data.rindex(HOME):]).decode()
        self.assertIn("ops/s", second)
        self.assertLessEqual(max(len(line) for line in second.split("\r\n")), 36, second)
        watch.signal(signal.SIGINT)
        code, _, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)

    def test_a_short_terminal_leaves_out_the_layers_rather_than_scroll(self):
        self.set_keys("k", 3)
        watch = Watch(self, "-n", "1", terminal=(12, 100))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        text = ESCAPE.sub(b"", out).decode()
        self.assertRegex(text, r"entries +3 ")
        self.assertNotIn("layer", text)
        self.assertLess(text.count("\r\n"), 12, text)

    def test_the_terminal_width_is_respected(self):
        self.set_keys("k", 3)
        watch = Watch(self, "-n", "1", terminal=(30, 32))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        text = ESCAPE.sub(b"", out).decode()
        lines = [line for line in text.split("\r\n") if line]
        self.assertGreater(len(lines), 5, text)
        self.assertLessEqual(max(len(line) for line in lines), 32, text)
        # A count keeps the last screen in view: no alternate screen.
        self.assertNotIn(ALTERNATE_ON, out)
        self.assertTrue(out.endswith(CURSOR_SHOWN), out[-100:])

    def test_sigterm_ends_a_long_sleep_at_once_with_the_cursor_back(self):
        watch = Watch(self, "-i", "1h", terminal=(30, 100))
        watch.output.read_until(lambda d: HOME in d and b"\x1b[J" in d, message="a screen")
        watch.signal(signal.SIGTERM)
        # Within WAIT, not an hour: the sleep is interrupted.
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        self.assertTrue(out.endswith(CURSOR_SHOWN), out[-100:])

    def test_a_daemon_that_goes_away_gives_the_screen_back_and_says_so(self):
        watch = Watch(self, "-i", "200ms", terminal=(30, 100))
        watch.output.read_until(lambda d: b"\x1b[J" in d, message="a screen")
        self.daemon.kill9()
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_UNREACHABLE, err)
        self.assertIn("the daemon went away", err)
        self.assertTrue(out.endswith(CURSOR_SHOWN), out[-100:])
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_json_on_a_terminal_stays_json_lines(self):
        watch = Watch(self, "-n", "2", "-i", "100ms", "--json", terminal=(30, 100))
        code, out, err = watch.finish()
        self.assertEqual(code, EXIT_OK, err)
        self.assertNotIn(b"\x1b", out)
        samples = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual([set(sample) for sample in samples], [FIELDS, FIELDS])


class BadUsage(IntegrationTest):

    def test_a_bad_interval_or_count_is_a_usage_error_naming_the_flag(self):
        cases = [(["-i", "0"], "--interval"), (["--interval=-5s"], "--interval"), (["-i", "soon"], "--interval"),
                 (["-i", "never"], "--interval"), (["-n", "0"], "--count"), (["--count=-1"], "--count"),
                 (["-n", "many"], "--count")]
        for args, flag in cases:
            with self.subTest(args=args):
                result = self.run_cli("stats", "--watch", *args)
                self.assertEqual(result.code, EXIT_USAGE, result.describe())
                self.assertIn(flag, result.stderr)
        # Refused before any daemon was asked, or started.
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_interval_and_count_need_watch(self):
        for args in (["-i", "1s"], ["-n", "2"]):
            with self.subTest(args=args):
                result = self.run_cli("stats", *args)
                self.assertEqual(result.code, EXIT_USAGE, result.describe())
                self.assertIn("--watch", result.stderr)
