"""omnicache run end to end: a real daemon, the real command, and small
scripts written into the sandbox that count how often they run."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import unittest

import harness
from harness import CLI, COMMAND_TIMEOUT, EXIT_OK, IntegrationTest, Result, wait_for

KEY = re.compile(r"^(HIT|MISS|WAITED) (run:[0-9a-f]{32})$", re.M)

# Counts its runs (a line each in $OC_COUNT), prints "start ARGS", sleeps
# $OC_SLEEP (or until the file $OC_GATE exists), prints "end $OC_TEXT",
# copies its stdin, writes $OC_STDERR on stderr and exits $OC_EXIT. The OC_*
# variables are not part of any key unless a test names them with --env.
TOOL = """#!/bin/sh
echo run >> "$OC_COUNT"
printf 'start %s\\n' "$*"
if [ -n "$OC_SLEEP" ]; then sleep "$OC_SLEEP"; fi
if [ -n "$OC_GATE" ]; then while [ ! -e "$OC_GATE" ]; do sleep 0.05; done; fi
printf 'end %s\\n' "$OC_TEXT"
cat
if [ -n "$OC_STDERR" ]; then printf '%s' "$OC_STDERR" >&2; fi
exit "${OC_EXIT:-0}"
"""

# Prints "start", then becomes the sleep: a signal it gets ends it.
SLEEPER = """#!/bin/sh
echo run >> "$OC_COUNT"
printf 'start\\n'
exec sleep "${OC_SLEEP:-30}"
"""

# Counts its runs and prints its first argument; never reads its stdin.
LINE = """#!/bin/sh
echo run >> "$OC_COUNT"
printf 'line %s\\n' "$1"
"""

# A loop over lines from a pipe (or from a file, with OC_FROM set), one run
# each, with the options given to the script.
LOOP = """
if [ -n "$OC_FROM" ]; then
  while read -r line; do "$OC_CLI" run --status "$@" -- "$OC_TOOL" "$line"; done < "$OC_FROM"
else
  printf 'a\\nb\\nc\\n' | while read -r line; do "$OC_CLI" run --status "$@" -- "$OC_TOOL" "$line"; done
fi
"""

BIG = 100 << 20

# Runs the command with stdout to a file and prints the peak RSS (KiB) of the
# command, its only waited-for child tree.
MEASURE = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    code = subprocess.call(sys.argv[2:], stdout=out, stdin=subprocess.DEVNULL)
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


class Run(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.count_file = os.path.join(self.sandbox.root, "count")
        self.tool = self.script("tool.sh", TOOL)
        self.sleeper = self.script("sleeper.sh", SLEEPER)

    def script(self, name, text):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path

    def env(self, **extra):
        env = {"OC_COUNT": self.count_file}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def runs(self):
        try:
            with open(self.count_file) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0

    def run_(self, *args, input=None, env=None, cwd=None, timeout=COMMAND_TIMEOUT):
        """omnicache run --status ARGS; returns a Result."""
        argv = [CLI, "run", "--status", *args]
        done = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=self.sandbox.environment(env or self.env()), cwd=cwd or self.sandbox.root)
        return Result(argv, done.returncode, done.stdout, done.stderr.decode(errors="replace"))

    def start(self, *args, env=None):
        return subprocess.Popen([CLI, "run", "--status", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.sandbox.environment(env or self.env()),
                                cwd=self.sandbox.root)

    def finish(self, process):
        try:
            out, err = process.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            self.fail(f"omnicache run did not finish: {err!r}")
        return Result(process.args, process.returncode, out, err.decode(errors="replace"))

    def status(self, result):
        """(word, key) from --status."""
        match = KEY.search(result.stderr)
        self.assertIsNotNone(match, f"no status line{result.describe()}")
        return match.group(1), match.group(2)

    def expect(self, result, word, code=EXIT_OK):
        self.assertEqual(result.code, code, f"unexpected exit code{result.describe()}")
        self.assertEqual(self.status(result)[0], word, result.describe())
        return result

    def wait_runs(self, n):
        wait_for(lambda: self.runs() >= n, message=f"{n} runs of the script")


class HitsAndMisses(Run):

    def test_a_miss_runs_the_command_and_a_hit_replays_the_same_bytes(self):
        first = self.expect(self.run_("--", self.tool, "a b", "-x"), "MISS")
        second = self.expect(self.run_("--", self.tool, "a b", "-x"), "HIT")
        self.assertEqual(first.stdout, b"start a b -x\nend \n")
        self.assertEqual(second.stdout, first.stdout)
        self.assertEqual(self.status(first)[1], self.status(second)[1])
        self.assertEqual(self.runs(), 1)

    def test_the_stored_value_is_the_output_itself(self):
        result = self.run_("--", self.tool)
        self.assertEqual(self.cli("get", self.status(result)[1]).stdout, result.stdout)

    def test_options_after_the_command_name_belong_to_the_command(self):
        result = self.run_(self.tool, "--ttl", "-q")
        self.assertEqual(result.stdout, b"start --ttl -q\nend \n", result.describe())

    def test_the_key_covers_arguments_stdin_files_env_and_key_extra(self):
        notes = os.path.join(self.sandbox.root, "notes.txt")
        with open(notes, "w") as f:
            f.write("v1")
        base = ["--file", notes, "--env", "MODEL", "--key-extra", "prompt-v1", "--", self.tool, "arg"]
        env = self.env(MODEL="gpt-4o")
        self.expect(self.run_(*base, input=b"in", env=env), "MISS")
        self.expect(self.run_(*base, input=b"in", env=env), "HIT")
        variants = [
            (base[:-1] + ["other"], b"in", env),
            (base, b"other input", env),
            (base, b"in", self.env(MODEL="gpt-4o-mini")),
            (base, b"in", self.env()),  # unset differs from set
            (base[:4] + ["--key-extra", "prompt-v2"] + base[6:], b"in", env),
        ]
        for n, (args, data, variant_env) in enumerate(variants, start=2):
            self.expect(self.run_(*args, input=data, env=variant_env), "MISS")
            self.assertEqual(self.runs(), n)
        with open(notes, "w") as f:
            f.write("v2")
        self.expect(self.run_(*base, input=b"in", env=env), "MISS")

    def test_the_key_leaves_out_the_working_directory_and_unnamed_variables(self):
        elsewhere = os.path.join(self.sandbox.root, "elsewhere")
        os.mkdir(elsewhere)
        self.expect(self.run_("--", self.tool, input=b"x"), "MISS")
        self.expect(self.run_("--", self.tool, input=b"x", cwd=elsewhere, env=self.env(OC_TEXT="ignored")), "HIT")

    def test_stdin_from_a_file_is_hashed_and_still_read_by_the_command(self):
        path = os.path.join(self.sandbox.root, "in.txt")
        with open(path, "wb") as f:
            f.write(b"from a file\n")
        for word in ("MISS", "HIT"):
            with open(path, "rb") as f:
                done = subprocess.run([CLI, "run", "--status", "--", self.tool], stdin=f, capture_output=True,
                                      env=self.sandbox.environment(self.env()), timeout=COMMAND_TIMEOUT)
            self.assertEqual(done.stdout, b"start \nend \nfrom a file\n")
            self.assertIn(word, done.stderr.decode())

    def test_binary_output_round_trips_byte_for_byte(self):
        data = bytes(range(256)) * 3
        first = self.expect(self.run_("--", "cat", input=data), "MISS")
        second = self.expect(self.run_("--", "cat", input=data), "HIT")
        self.assertEqual(first.stdout, data)
        self.assertEqual(second.stdout, data)

    def test_output_that_looks_framed_round_trips(self):
        data = b"\0OCRUN1\n\0\0\0\x02{}rest"
        self.run_("--", "cat", input=data)
        self.assertEqual(self.expect(self.run_("--", "cat", input=data), "HIT").stdout, data)

    def test_refresh_runs_again_and_overwrites(self):
        self.run_("--", self.tool, env=self.env(OC_TEXT="one"))
        refreshed = self.expect(self.run_("--refresh", "--", self.tool, env=self.env(OC_TEXT="two")), "MISS")
        self.assertEqual(refreshed.stdout, b"start \nend two\n")
        hit = self.expect(self.run_("--", self.tool, env=self.env(OC_TEXT="three")), "HIT")
        self.assertEqual(hit.stdout, b"start \nend two\n")
        self.assertEqual(self.runs(), 2)

    def test_no_store_looks_up_but_stores_nothing(self):
        self.expect(self.run_("--no-store", "--", self.tool), "MISS")
        self.expect(self.run_("--no-store", "--", self.tool), "MISS")
        self.assertEqual(self.runs(), 2)
        self.run_("--", self.tool)
        self.expect(self.run_("--no-store", "--", self.tool), "HIT")
        self.assertEqual(self.runs(), 3)

    def test_tags_and_ttl_apply_to_the_entry(self):
        result = self.run_("--tag", "project:docs", "--ttl", "7d", "--", self.tool)
        entry = self.cli_json("inspect", self.status(result)[1])["entry"]
        self.assertEqual(entry["layer"], "run")
        self.assertIn("project:docs", entry["tags"])
        self.assertGreater(entry["expires_ms"], harness.now_ms() + 6 * 86400 * 1000)
        self.cli("invalidate", "project:docs")
        self.expect(self.run_("--", self.tool), "MISS")

    def test_file_and_dep_are_recorded_as_dependencies(self):
        path = os.path.join(self.sandbox.root, "contract.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF terms")
        result = self.run_("--file", "contract.pdf", "--dep", "doc:contract", "--dep", "prompt=v3", "--",
                           self.tool, "contract.pdf")
        deps = self.cli_json("inspect", self.status(result)[1])["entry"]["deps"]
        names = {d["name"]: d.get("version", "") for d in deps}
        self.assertEqual(names, {"file:" + path: hashlib.sha256(b"%PDF terms").hexdigest(), "doc:contract": "",
                                 "prompt": "v3"})


class Failures(Run):

    def test_a_failing_command_is_not_stored_and_its_status_passes_through(self):
        for n in (1, 2):
            result = self.expect(self.run_("--", self.tool, env=self.env(OC_EXIT=3)), "MISS", code=3)
            self.assertEqual(result.stdout, b"start \nend \n")
            self.assertEqual(self.runs(), n)

    def test_cache_failures_stores_the_status_and_a_hit_replays_it(self):
        self.expect(self.run_("--cache-failures", "--", self.tool, env=self.env(OC_EXIT=5)), "MISS", code=5)
        hit = self.expect(self.run_("--cache-failures", "--", self.tool), "HIT", code=5)
        self.assertEqual(hit.stdout, b"start \nend \n")
        self.assertEqual(self.runs(), 1)

    def test_a_command_killed_by_a_signal_is_never_stored(self):
        args = ["--cache-failures", "--", "sh", "-c", "echo partial; kill -KILL $$"]
        for _ in range(2):
            result = self.expect(self.run_(*args), "MISS", code=128 + signal.SIGKILL)
            self.assertEqual(result.stdout, b"partial\n")

    def test_stderr_passes_through_and_is_not_cached(self):
        miss = self.run_("--", self.tool, env=self.env(OC_STDERR="careful"))
        self.assertIn("careful", miss.stderr)
        hit = self.expect(self.run_("--", self.tool, env=self.env(OC_STDERR="careful")), "HIT")
        self.assertNotIn("careful", hit.stderr)

    def test_cache_stderr_replays_it_on_stderr(self):
        self.run_("--cache-stderr", "--", self.tool, env=self.env(OC_STDERR="careful\n"))
        hit = self.expect(self.run_("--cache-stderr", "--", self.tool), "HIT")
        self.assertIn("careful\n", hit.stderr)
        self.assertEqual(hit.stdout, b"start \nend \n")

    def test_a_command_not_found_exits_127_and_not_executable_126(self):
        missing = self.run_("--", "no-such-command-omnicache")
        self.assertEqual(missing.code, 127, missing.describe())
        self.assertIn("command not found", missing.stderr)
        plain = os.path.join(self.sandbox.root, "plain.txt")
        with open(plain, "w") as f:
            f.write("not a program\n")
        self.assertEqual(self.run_("--", plain).code, 126)

    def test_a_missing_file_is_a_usage_error(self):
        result = self.run_("--file", "absent.txt", "--", self.tool)
        self.assertEqual(result.code, harness.EXIT_USAGE, result.describe())
        self.assertIn("absent.txt", result.stderr)
        self.assertEqual(self.runs(), 0)

    def test_max_output_streams_but_does_not_store_a_larger_output(self):
        big = self.run_("--max-output", "8", "--", self.tool)
        self.assertEqual(big.stdout, b"start \nend \n")
        self.assertIn("not cached", big.stderr)
        self.expect(self.run_("--max-output", "8", "--", self.tool), "MISS")
        self.run_("--max-output", "1KiB", "--", self.tool)
        self.expect(self.run_("--", self.tool), "HIT")

    def test_an_output_the_daemon_refuses_still_streams_with_a_warning(self):
        self.stop_daemon(self.daemon)
        self.daemon = self.start_daemon("limits.max_frame_bytes=64KiB", "limits.max_header_bytes=16KiB")
        producer = self.script("medium.sh", "#!/bin/sh\nseq 1 99999 | head -c 200000\n")
        result = self.expect(self.run_("--", producer), "MISS")
        self.assertEqual(len(result.stdout), 200000)
        self.assertIn("not cached", result.stderr)
        self.expect(self.run_("--", producer), "MISS")

    def test_disable_runs_the_command_without_a_daemon(self):
        self.stop_daemon(self.daemon)
        result = self.run_("--", self.tool, env=self.env(OMNICACHE_DISABLE=1))
        self.assertEqual((result.code, result.stdout), (0, b"start \nend \n"), result.describe())
        self.assertNotRegex(result.stderr, KEY)
        self.assertTrue(self.no_daemons_left(timeout=1), "OMNICACHE_DISABLE must not start a daemon")

    def test_an_unreachable_daemon_still_runs_the_command(self):
        blocker = os.path.join(self.sandbox.root, "blocker")
        open(blocker, "w").close()
        env = self.env(OMNICACHE_SOCKET=os.path.join(blocker, "sock"), OC_EXIT=4)
        result = self.run_("--", self.tool, input=b"still here\n", env=env)
        self.assertEqual((result.code, result.stdout), (4, b"start \nend \nstill here\n"), result.describe())
        self.assertIn("without the cache", result.stderr)


class Concurrency(Run):

    def test_identical_runs_started_together_execute_once(self):
        processes = [self.start("--", self.tool, env=self.env(OC_SLEEP=1)) for _ in range(5)]
        results = [self.finish(p) for p in processes]
        words = sorted(self.status(r)[0] for r in results)
        self.assertEqual(self.runs(), 1, words)
        self.assertEqual(words.count("MISS"), 1, words)
        self.assertIn("WAITED", words)
        for result in results:
            self.assertEqual((result.code, result.stdout), (0, b"start \nend \n"), result.describe())

    def test_a_killed_runner_leaves_nothing_and_a_waiter_takes_over(self):
        runner = self.start("--", self.tool, env=self.env(OC_SLEEP=2, OC_TEXT="runner"))
        self.wait_runs(1)
        waiter = self.start("--", self.tool, env=self.env(OC_TEXT="waiter"))
        time.sleep(0.3)  # the waiter is waiting on the runner's lease
        runner.kill()
        runner.communicate()
        result = self.finish(waiter)
        self.expect(result, "MISS")
        self.assertEqual(result.stdout, b"start \nend waiter\n")
        self.assertEqual(self.runs(), 2)
        self.assertEqual(self.expect(self.run_("--", self.tool), "HIT").stdout, b"start \nend waiter\n")

    def test_sigterm_goes_to_the_command_and_nothing_is_stored(self):
        process = self.start("--", self.sleeper)
        self.wait_runs(1)
        wait_for(lambda: any(harness.cmdline(pid)[:1] == ["sleep"] for pid in child_pids(process.pid)),
                 message="the script to exec sleep")
        process.send_signal(signal.SIGTERM)
        result = self.finish(process)
        self.assertEqual(result.code, 128 + signal.SIGTERM, result.describe())
        self.assertEqual(result.stdout, b"start\n")
        self.expect(self.run_("--", self.sleeper, env=self.env(OC_SLEEP=0)), "MISS")

    def test_a_waiter_outlasts_its_reply_timeout_while_the_runner_works(self):
        env = self.env(OMNICACHE_TIMEOUT="1s")
        gate = os.path.join(self.sandbox.root, "gate")
        runner = self.start("--", self.tool, env=self.env(OMNICACHE_TIMEOUT="1s", OC_GATE=gate))
        self.wait_runs(1)
        waiter = self.start("--", self.tool, env=env)
        # The runner works until the waiter has been answered "still running"
        # at least once (its wait is shorter than its 1 s reply timeout) and
        # has asked again: however slowly the waiter started.
        wait_for(lambda: self.stats()["operations"].get("get_or_lease", {}).get("count", 0) >= 2,
                 timeout=COMMAND_TIMEOUT, message="the waiter to outlast one wait for the lease")
        with open(gate, "w"):
            pass
        self.expect(self.finish(runner), "MISS")
        waited = self.expect(self.finish(waiter), "WAITED")
        self.assertEqual(waited.stdout, b"start \nend \n")
        self.assertEqual(self.runs(), 1)

    def test_a_waiter_is_released_when_the_runner_fails(self):
        runner = self.start("--", self.tool, env=self.env(OC_SLEEP=1, OC_EXIT=1))
        self.wait_runs(1)
        waiter = self.start("--", self.tool)
        self.assertEqual(self.finish(runner).code, 1)
        self.expect(self.finish(waiter), "MISS")
        self.assertEqual(self.runs(), 2)


class StandardInput(Run):
    """Which standard input is part of the key: --no-stdin, --stdin,
    OMNICACHE_RUN_STDIN, and empty input keyed as none."""

    def loop(self, tool, *options, env=None):
        done = subprocess.run(["sh", "-c", LOOP, "loop", *options], stdin=subprocess.DEVNULL, capture_output=True,
                              env=self.sandbox.environment({**self.env(OC_CLI=CLI, OC_TOOL=tool), **(env or {})}),
                              cwd=self.sandbox.root, timeout=COMMAND_TIMEOUT)
        result = Result(["sh", "-c", LOOP], done.returncode, done.stdout, done.stderr.decode(errors="replace"))
        self.assertEqual(result.code, 0, result.describe())
        return result, KEY.findall(result.stderr)

    def tty_run(self, *args, typed=None):
        """omnicache run --status ARGS with a terminal as stdin; `typed` is
        typed on it, then Ctrl-D."""
        import pty
        master, slave = pty.openpty()
        try:
            if typed is not None:
                os.write(master, typed + b"\x04")
            done = subprocess.run([CLI, "run", "--status", *args], stdin=slave, capture_output=True,
                                  env=self.sandbox.environment(self.env()), cwd=self.sandbox.root,
                                  timeout=COMMAND_TIMEOUT)
        finally:
            os.close(slave)
            os.close(master)
        return Result(["run", *args], done.returncode, done.stdout, done.stderr.decode(errors="replace"))

    def test_a_shell_loop_over_a_pipe_runs_each_line_with_no_stdin(self):
        first, statuses = self.loop(self.tool, "--no-stdin")
        self.assertEqual(first.stdout, b"start a\nend \nstart b\nend \nstart c\nend \n",
                         "each line is a run, and the command reads /dev/null, not the loop's lines")
        self.assertEqual([word for word, _ in statuses], ["MISS"] * 3, first.describe())
        self.assertEqual(len({key for _, key in statuses}), 3, "each line is a distinct run")
        self.assertEqual(self.runs(), 3)
        again, replayed = self.loop(self.tool, env={"OMNICACHE_RUN_STDIN": "0"})
        self.assertEqual(again.stdout, first.stdout)
        self.assertEqual(replayed, [("HIT", key) for _, key in statuses],
                         "OMNICACHE_RUN_STDIN=0 is --no-stdin for a whole script")
        self.assertEqual(self.runs(), 3)

    def test_a_loop_over_a_file_runs_each_line_as_it_is(self):
        lines = os.path.join(self.sandbox.root, "lines.txt")
        with open(lines, "w") as f:
            f.write("a\nb\nc\n")
        line_tool = self.script("line.sh", LINE)
        result, statuses = self.loop(line_tool, env={"OC_FROM": lines})
        self.assertEqual(result.stdout, b"line a\nline b\nline c\n", result.describe())
        self.assertEqual([word for word, _ in statuses], ["MISS"] * 3)

    def test_a_loop_over_a_closed_pipe_runs_each_line_as_it_is(self):
        # The pipe's rest is keyed where it lies, not consumed: each run's
        # key covers the lines after its own, and the loop keeps them.
        line_tool = self.script("line.sh", LINE)
        result, statuses = self.loop(line_tool)
        self.assertEqual(result.stdout, b"line a\nline b\nline c\n", result.describe())
        self.assertEqual([word for word, _ in statuses], ["MISS"] * 3)
        self.assertEqual(len({key for _, key in statuses}), 3)
        again, replayed = self.loop(line_tool)
        self.assertEqual(replayed, [("HIT", key) for _, key in statuses])
        self.assertEqual(self.runs(), 3)

    def test_a_pipe_bigger_than_its_buffer_is_keyed_and_read_whole(self):
        data = os.urandom(300 << 10)
        first = self.expect(self.run_("--", "cat", input=data), "MISS")
        self.assertEqual(first.stdout, data)
        self.expect(self.run_("--", "cat", input=data), "HIT")
        other = self.expect(self.run_("--", "cat", input=data[:-1] + bytes([data[-1] ^ 1])), "MISS")
        self.assertNotEqual(self.status(other)[1], self.status(first)[1])

    def test_no_stdin_does_not_wait_for_a_pipe_that_stays_open(self):
        process = subprocess.Popen([CLI, "run", "--status", "--no-stdin", "--", self.tool], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.sandbox.environment(self.env()), cwd=self.sandbox.root)
        try:
            process.stdin.write(b"not for the command\n")
            process.stdin.flush()
            # Our end of the pipe stays open until the run is over.
            code = process.wait(timeout=COMMAND_TIMEOUT)
            out, err = process.stdout.read(), process.stderr.read().decode(errors="replace")
        except subprocess.TimeoutExpired:
            process.kill()
            self.fail("run --no-stdin waited for its standard input to close")
        finally:
            process.stdin.close()
            process.wait()
            process.stdout.close()
            process.stderr.close()
        self.assertEqual((code, out), (0, b"start \nend \n"), err)

    def test_a_terminal_dev_null_and_an_empty_pipe_key_alike_and_input_does_not(self):
        on_tty = self.expect(self.tty_run("--", "echo", "same"), "MISS")
        key = self.status(on_tty)[1]
        from_cron = self.expect(self.run_("--", "echo", "same"), "HIT")  # stdin is /dev/null
        from_empty_pipe = self.expect(self.run_("--", "echo", "same", input=b""), "HIT")
        self.assertEqual({self.status(from_cron)[1], self.status(from_empty_pipe)[1]}, {key})
        with_input = self.expect(self.run_("--", "echo", "same", input=b"x"), "MISS")
        self.assertNotEqual(self.status(with_input)[1], key, "input is part of the key")
        self.assertEqual(self.tty_run("--print-key", "--", "echo", "same").text.strip(), key)

    def test_stdin_reads_a_terminal_into_the_key(self):
        typed = self.expect(self.tty_run("--stdin", "--", "cat", typed=b"typed here\n"), "MISS")
        self.assertEqual(typed.stdout, b"typed here\n", "the command reads what was typed")
        piped = self.expect(self.run_("--", "cat", input=b"typed here\n"), "HIT")
        self.assertEqual(self.status(piped)[1], self.status(typed)[1])

    def test_print_key_names_the_entry_a_run_stores_and_runs_nothing(self):
        self.stop_daemon(self.daemon)
        args = ["--key-extra", "v1", "--", self.tool, "arg"]
        printed = self.cli("run", "--print-key", *args, input=b"question\n", env=self.env())
        key = printed.text.strip()
        self.assertRegex(key, r"^run:[0-9a-f]{32}$")
        self.assertEqual(self.runs(), 0, "--print-key runs nothing")
        self.assertFalse(os.path.exists(self.sandbox.socket), "--print-key starts no daemon")
        self.assertTrue(self.no_daemons_left(timeout=1))
        self.daemon = self.start_daemon()
        stored = self.expect(self.run_(*args, input=b"question\n"), "MISS")
        self.assertEqual(self.status(stored)[1], key)
        self.assertEqual(self.cli("keys", "--layer", "run").text.split(), [key])

    def test_conflicting_stdin_choices_are_refused(self):
        self.cli("run", "--stdin", "--no-stdin", "--", "true", code=harness.EXIT_USAGE)
        result = self.cli("run", "--", "true", code=harness.EXIT_USAGE, env={"OMNICACHE_RUN_STDIN": "sometimes"})
        self.assertIn("OMNICACHE_RUN_STDIN", result.stderr)


class LargeOutput(Run):

    def test_a_100_mib_output_streams_and_hits_without_being_held_in_memory(self):
        # Numbered lines: any byte out of place changes the digest, and the
        # daemon's compression keeps the test quick.
        producer = self.script("big.sh", f"#!/bin/sh\nseq 1 99999999 | head -c {BIG}\n")
        measure = os.path.join(self.sandbox.root, "measure.py")
        with open(measure, "w") as f:
            f.write(MEASURE)
        digests = []
        for word in ("MISS", "HIT"):
            out = os.path.join(self.sandbox.root, f"out-{word}")
            started = time.monotonic()
            done = subprocess.run([sys.executable, measure, out, CLI, "run", "--status", "--", producer],
                                  capture_output=True, env=self.sandbox.environment(self.env()),
                                  timeout=COMMAND_TIMEOUT)
            elapsed = time.monotonic() - started
            code, peak_kib = map(int, done.stdout.split())
            self.assertEqual(code, 0, done.stderr)
            self.assertIn(word, done.stderr.decode())
            self.assertEqual(os.path.getsize(out), BIG)
            with open(out, "rb") as f:
                digests.append(hashlib.file_digest(f, "sha256").hexdigest()
                               if hasattr(hashlib, "file_digest") else hashlib.sha256(f.read()).hexdigest())
            os.unlink(out)
            if os.environ.get("OMNICACHE_TEST_VERBOSE"):
                sys.stderr.write(f"\n{word}: {elapsed:.2f}s, peak RSS {peak_kib // 1024} MiB\n")
            if not harness.SANITIZED:
                self.assertLess(peak_kib * 1024, BIG // 2, f"{word}: peak RSS {peak_kib} KiB")
        self.assertEqual(digests[0], digests[1])


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


if __name__ == "__main__":
    unittest.main()
