"""omnicached's life: auto-start, one daemon per database, its socket,
signals, configuration reloads and the idle timeout."""

import os
import signal
import stat
import subprocess
import threading
import time
import unittest

import harness
from harness import EXIT_MISS, EXIT_OK, EXIT_USAGE, IntegrationTest, ServerError, wait_for

# Room for the sanitizer build to start a daemon.
AUTO_START_ENV = {"OMNICACHE_START_TIMEOUT": "30s"}


class AutoStart(IntegrationTest):

    def autostart_cli(self, *args, env=None, **kwargs):
        return self.cli(*args, env={**AUTO_START_ENV, **(env or {})}, **kwargs)

    def test_the_first_command_starts_a_background_daemon_and_daemon_stop_ends_it(self):
        self.cli("daemon", "status", code=EXIT_MISS)
        self.autostart_cli("set", "greeting", "hello")
        pid = self.background_pid()
        self.assertIsNotNone(pid, "the database lock names a live daemon")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [pid])
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertNotEqual(parent, os.getpid(), "the daemon is detached from the command")
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(self.sandbox.database), "omnicached.log")),
                        "a background daemon logs beside its database")

        self.assertEqual(self.cli("get", "greeting").stdout, b"hello")
        status = self.cli("daemon", "status")
        self.assertIn(f"pid {pid}", status.text)
        self.assertIn(self.sandbox.socket, status.text)
        self.assertIn(self.sandbox.database, status.text)
        status = self.cli_json("daemon", "status")
        self.assertEqual((status["running"], status["pid"], status["entries"]), (True, pid, 1))

        stop = self.cli("daemon", "stop")
        self.assertIn(f"stopped omnicached (pid {pid})", stop.text)
        self.assertFalse(harness.pid_alive(pid), "daemon stop returns once the daemon has exited")
        self.assertFalse(os.path.exists(self.sandbox.socket), "the socket is removed")
        status = self.cli("daemon", "status", code=EXIT_MISS)
        self.assertIn("not running", status.text)
        self.assertEqual(self.cli_json("daemon", "status", code=EXIT_MISS)["running"], False)
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_the_value_survives_a_stop_and_the_next_auto_start(self):
        self.autostart_cli("set", "k", "persisted")
        first = self.background_pid()
        self.cli("daemon", "stop")
        self.assertEqual(self.autostart_cli("get", "k").stdout, b"persisted")
        second = self.background_pid()
        self.assertIsNotNone(second)
        self.assertNotEqual(first, second)
        self.cli("daemon", "stop")

    def test_daemon_start_twice_says_the_second_time_that_it_is_running(self):
        first = self.autostart_cli("daemon", "start")
        pid = self.background_pid()
        self.assertIn(f"started omnicached (pid {pid})", first.text)
        second = self.autostart_cli("daemon", "start")
        self.assertIn(f"already running (pid {pid})", second.text)
        reply = self.cli_json("daemon", "start")
        self.assertEqual((reply["running"], reply["started"], reply["pid"]), (True, False, pid))
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [pid])
        self.cli("daemon", "stop")

    def test_daemon_stop_when_none_runs_says_so(self):
        result = self.cli("daemon", "stop")
        self.assertIn("not running", result.text)
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [], "stop starts nothing")

    def test_concurrent_commands_start_exactly_one_daemon(self):
        env = self.sandbox.environment(AUTO_START_ENV)
        processes = [subprocess.Popen([harness.CLI, "set", f"key{i}", f"value{i}"], env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(8)]
        for i, process in enumerate(processes):
            out, err = process.communicate(timeout=harness.COMMAND_TIMEOUT)
            self.assertEqual(process.returncode, 0, f"command {i}: {err.decode()}")
        pids = harness.daemon_pids_under(self.sandbox.root)
        self.assertEqual(len(pids), 1, f"one daemon for the socket, found {pids}")
        self.assertEqual(self.background_pid(), pids[0])
        for i in range(8):
            self.assertEqual(self.cli("get", f"key{i}").stdout, f"value{i}".encode())
        log_path = os.path.join(os.path.dirname(self.sandbox.database), "omnicached.log")
        with open(log_path) as f:
            log = f.read()
        self.assertEqual(log.count(" serving "), 1, f"only one daemon ever served:\n{log}")
        self.assertNotIn("already uses", log, f"no second daemon was even tried:\n{log}")
        self.cli("daemon", "stop")

    def test_the_started_daemon_takes_its_settings_from_the_environment_and_the_config_flag(self):
        other = self.sandbox.write_config("[limits]\nmax_tags = 3\n", os.path.join(self.sandbox.root, "o.toml"))
        self.autostart_cli("--config", other, "set", "k", "v", env={"OMNICACHE_MAX_KEY_BYTES": "32"})
        hello = self.client().hello()
        self.assertEqual(hello["limits"]["max_key_bytes"], 32, "OMNICACHE_* reaches the daemon")
        self.assertEqual(hello["limits"]["max_tags"], 3, "--config reaches the daemon")
        self.cli("daemon", "stop")

    def test_a_killed_background_daemon_is_replaced_on_next_use(self):
        self.autostart_cli("set", "k", "kept")
        pid = self.background_pid()
        harness.kill_pid(pid)
        wait_for(lambda: not harness.pid_alive(pid), message="the killed daemon to go")
        self.assertTrue(os.path.exists(self.sandbox.socket), "a stale socket is left behind")
        self.cli("daemon", "status", code=EXIT_MISS)
        self.assertEqual(self.autostart_cli("get", "k").stdout, b"kept")
        new_pid = self.background_pid()
        self.assertNotIn(new_pid, (None, pid))
        self.cli("daemon", "stop")

    def test_omnicached_without_foreground_returns_once_it_serves(self):
        result = self.run_daemon("--socket", self.sandbox.socket, "--database", self.sandbox.database)
        self.assertEqual(result.code, 0, result.describe())
        pid = self.background_pid()
        self.assertIsNotNone(pid, "the detached daemon runs on")
        self.assertTrue(harness.hello_ok(self.sandbox.socket), "it serves by the time its parent returns")
        self.cli("set", "k", "v")
        self.cli("daemon", "stop")
        self.assertFalse(harness.pid_alive(pid))

    def test_a_background_start_that_fails_says_why(self):
        folder = os.path.join(self.sandbox.root, "open")
        os.mkdir(folder)
        os.chmod(folder, 0o777)
        result = self.run_daemon("--socket", os.path.join(folder, "d.sock"), "--database", self.sandbox.database)
        self.assertEqual(result.code, 1, result.describe())
        self.assertIn("writable by other", result.stderr)
        self.assertTrue(self.no_daemons_left(), "the daemon that refused to start is gone")

    def test_an_idle_background_daemon_exits_by_itself_after_the_last_client_leaves(self):
        env = {"OMNICACHE_IDLE_TIMEOUT": "1s"}
        self.autostart_cli("set", "k", "v", env=env)
        pid = self.background_pid()
        self.assertIsNotNone(pid)
        client = self.client()
        time.sleep(2.5)  # longer than the idle timeout: a connected client keeps it alive
        self.assertTrue(harness.pid_alive(pid), "the daemon stays while a client is connected")
        header, value = client.call("get", {"key": "k"})
        self.assertEqual(value, b"v")
        client.close()
        wait_for(lambda: not harness.pid_alive(pid), message="the idle daemon to exit")
        self.assertFalse(os.path.exists(self.sandbox.socket))
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])


class OneDaemonPerDatabase(IntegrationTest):

    def test_a_second_daemon_on_the_same_database_exits_with_a_message_naming_it(self):
        first = self.start_daemon()
        other_socket = os.path.join(self.sandbox.root, "s2", "d.sock")
        second = self.start_daemon(socket_path=other_socket, wait=False)
        code = second.wait_exit()
        self.assertNotEqual(code, 0)
        log = second.log_text(tail=None)
        self.assertIn(self.sandbox.database, log)
        self.assertIn(f"pid {first.pid}", log)
        self.assertIn("already uses", log)
        self.assertFalse(os.path.exists(other_socket), "the second daemon does not listen")
        self.cli("set", "k", "v")
        self.assertTrue(first.running())

    def test_a_second_daemon_on_the_same_socket_exits_with_a_message_naming_it(self):
        first = self.start_daemon()
        second = self.start_daemon(database=os.path.join(self.sandbox.root, "other.db"), wait=False)
        self.assertNotEqual(second.wait_exit(), 0)
        self.assertIn(self.sandbox.socket, second.log_text(tail=None))
        self.assertTrue(first.hello_ok(), "the first daemon still serves")

    def test_a_daemon_killed_with_sigkill_can_be_replaced_at_once(self):
        first = self.start_daemon()
        self.cli("set", "k", "v")
        first.kill9()
        self.assertTrue(os.path.exists(self.sandbox.socket), "a stale socket is left behind")
        self.start_daemon()
        self.assertEqual(self.cli("get", "k").stdout, b"v")


class SocketSafety(IntegrationTest):

    def test_the_socket_folder_is_0700_and_the_socket_0600(self):
        self.start_daemon()
        folder = os.path.dirname(self.sandbox.socket)
        self.assertEqual(stat.S_IMODE(os.stat(folder).st_mode), 0o700)
        mode = os.lstat(self.sandbox.socket).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)

    def refused(self, socket_path, reason):
        daemon = self.start_daemon(socket_path=socket_path, wait=False)
        code = daemon.wait_exit()
        self.assertNotEqual(code, 0, daemon.log_text())
        self.assertIn(reason, daemon.log_text(tail=None))
        return daemon

    def test_a_symlinked_socket_folder_is_refused(self):
        real = os.path.join(self.sandbox.root, "real")
        os.mkdir(real, 0o700)
        os.symlink(real, os.path.join(self.sandbox.root, "link"))
        self.refused(os.path.join(self.sandbox.root, "link", "d.sock"), "symbolic link")
        self.assertEqual(os.listdir(real), [], "nothing was created through the link")

    def test_a_socket_folder_writable_by_others_is_refused(self):
        folder = os.path.join(self.sandbox.root, "open")
        os.mkdir(folder)
        os.chmod(folder, 0o777)
        self.refused(os.path.join(folder, "d.sock"), "writable by other")

    def test_a_socket_folder_owned_by_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give a folder to another user")
        folder = os.path.join(self.sandbox.root, "foreign")
        os.mkdir(folder, 0o700)
        os.chown(folder, 65534, 65534)
        self.refused(os.path.join(folder, "d.sock"), "belongs to uid 65534")

    def test_a_socket_path_through_a_regular_file_is_refused(self):
        path = os.path.join(self.sandbox.root, "file")
        open(path, "w").close()
        self.refused(os.path.join(path, "d.sock"), "not a directory")

    def test_a_file_that_is_not_a_socket_is_never_replaced(self):
        folder = os.path.join(self.sandbox.root, "s")
        os.mkdir(folder, 0o700)
        path = os.path.join(folder, "d.sock")
        with open(path, "w") as f:
            f.write("precious")
        self.refused(path, "not a socket")
        with open(path) as f:
            self.assertEqual(f.read(), "precious")


class Signals(IntegrationTest):

    def stop_with_requests_in_flight(self, sig):
        daemon = self.start_daemon()
        client = self.client()
        frames = b"".join(harness.frame({"op": "set", "id": 1000 + i, "key": f"k{i:04d}"}, f"value {i}".encode())
                          for i in range(500))
        client.send_raw(frames)
        acknowledged = []
        header, _ = client.receive()  # the daemon is at work on the pipeline
        self.assertTrue(header["ok"], header)
        acknowledged.append(header["id"])
        daemon.send(sig)
        while True:
            try:
                header, _ = client.receive()
            except (ConnectionError, OSError):
                break
            self.assertTrue(header["ok"], f"a request taken in is finished, not refused: {header}")
            acknowledged.append(header["id"])
        self.assertEqual(acknowledged, list(range(1000, 1000 + len(acknowledged))), "replies come in order")
        self.assert_clean_exit(daemon, daemon.wait_exit())
        self.assertFalse(os.path.exists(self.sandbox.socket), "the socket is removed on the way out")
        self.assertIn("omnicached stopped", daemon.log_text(tail=None))

        self.start_daemon()
        check = self.client()
        replies = harness.pipeline(check, [("get", {"key": f"k{i - 1000:04d}"}, b"") for i in acknowledged])
        missing = [acknowledged[n] - 1000 for n, (h, _) in enumerate(replies) if not h.get("found")]
        self.assertEqual(missing, [], f"acknowledged sets lost after {sig.name}")
        for n, (_, value) in enumerate(replies):
            self.assertEqual(value, f"value {acknowledged[n] - 1000}".encode())

    def test_sigterm_finishes_the_requests_in_flight_and_removes_the_socket(self):
        self.stop_with_requests_in_flight(signal.SIGTERM)

    def test_sigint_finishes_the_requests_in_flight_and_removes_the_socket(self):
        self.stop_with_requests_in_flight(signal.SIGINT)

    def test_daemon_stop_stops_a_foreground_daemon_cleanly(self):
        daemon = self.start_daemon()
        self.cli("set", "k", "v")
        result = self.run_cli_reaping(daemon, "daemon", "stop")
        self.assertEqual(result.code, EXIT_OK, result.describe())
        self.assertIn(f"stopped omnicached (pid {daemon.pid})", result.text)
        # Stopped means the database is closed and its lock released; the
        # process may still be tearing down (slowly, under ASan's leak check).
        code = daemon.wait_exit(timeout=harness.STOP_TIMEOUT)
        self.assertIsNotNone(code, "omnicached did not exit after daemon stop")
        self.assert_clean_exit(daemon, code)


class CleanExit(IntegrationTest):

    def test_the_daemon_exits_0_with_no_sanitizer_report_after_serving(self):
        daemon = self.start_daemon("daemon.io_threads=2")
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"k{i}"}, b"v") for i in range(50)])
        client.call("get", {"key": "k1"})
        client.close()
        code = daemon.stop()
        log = daemon.log_text(tail=None)
        self.assertEqual(code, 0, log[-6000:])
        for marker in harness.SANITIZER_MARKERS:
            self.assertNotIn(marker, log)


class StopWithoutReaping(IntegrationTest):

    def test_daemon_stop_returns_once_the_daemon_has_exited_even_before_it_is_reaped(self):
        daemon = self.start_daemon()
        result = self.run_cli("daemon", "stop")
        self.assert_clean_exit(daemon, daemon.wait_exit())
        self.assertEqual(result.code, EXIT_OK, result.describe())
        self.assertIn(f"stopped omnicached (pid {daemon.pid})", result.text)


class Reload(IntegrationTest):

    def max_key_bytes(self):
        return self.client().hello()["limits"]["max_key_bytes"]

    def test_sighup_applies_a_changed_live_setting(self):
        self.sandbox.write_config("[limits]\nmax_key_bytes = 16\n")
        daemon = self.start_daemon()
        self.cli("set", "k" * 20, "v", code=EXIT_USAGE)
        self.sandbox.write_config("[limits]\nmax_key_bytes = 64\n")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: self.max_key_bytes() == 64, message="the new max_key_bytes after SIGHUP")
        self.cli("set", "k" * 20, "v")
        self.assertIn("limits.max_key_bytes = 64", daemon.log_text(tail=None))

    def test_sighup_applies_a_lower_max_entries_to_the_store(self):
        daemon = self.start_daemon()
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"k{i:02d}"}, b"v") for i in range(10)])
        self.sandbox.write_config("[store]\nmax_entries = 4\n")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: self.stats()["totals"]["entries"] == 4, message="eviction down to the new max_entries")
        self.assertEqual(self.stats()["totals"]["evictions"], 6)

    def test_sighup_says_which_settings_need_a_restart(self):
        daemon = self.start_daemon()
        self.sandbox.write_config("[daemon]\nio_threads = 2\n")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: "daemon.io_threads" in daemon.log_text(tail=None), message="a log line about io_threads")
        self.assertIn("restart", daemon.log_text(tail=None))
        self.assertTrue(daemon.hello_ok())

    def test_sighup_with_a_bad_config_keeps_the_old_one_and_keeps_serving(self):
        self.sandbox.write_config("[limits]\nmax_key_bytes = 16\n")
        daemon = self.start_daemon()
        self.cli("set", "k", "before")
        self.sandbox.write_config("[limits]\nmax_key_bytes = 64\nmax_kye_bytes = 3\n")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: "keeping the current configuration" in daemon.log_text(tail=None), message="the reload to be refused")
        log = daemon.log_text(tail=None)
        self.assertIn(f"{self.sandbox.config_file}:3", log)
        self.assertIn("limits.max_kye_bytes", log)
        self.assertTrue(daemon.running())
        # The command refuses the bad file too, so ask the daemon directly.
        client = self.client()
        self.assertEqual(client.hello()["limits"]["max_key_bytes"], 16,
                         "the good value in the bad file is not applied either")
        with self.assertRaises(ServerError) as refused:
            client.call("set", {"key": "k" * 20}, b"v")
        self.assertEqual(refused.exception.code, "TOO_LARGE")
        self.assertEqual(client.call("get", {"key": "k"})[1], b"before")
        client.call("set", {"key": "k2"}, b"after")

        self.sandbox.write_config("[limits]\nmax_key_bytes = 64\n")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: self.max_key_bytes() == 64, message="the fixed file to be applied")


class ReloadUnderLoad(IntegrationTest):

    def test_repeated_sighups_while_clients_work_lose_nothing(self):
        daemon = self.start_daemon("daemon.io_threads=4")
        self.sandbox.write_config("[limits]\nmax_key_bytes = 100\n")
        errors = []

        def work(n):
            try:
                with harness.omnicache_client.Client(self.sandbox.socket) as client:
                    client.hello()
                    for i in range(150):
                        client.call("set", {"key": f"w{n}:{i}"}, b"x" * i)
                        if client.call("get", {"key": f"w{n}:{i}"})[1] != b"x" * i:
                            errors.append(f"worker {n}: wrong value for {i}")
            except Exception as e:  # reported below
                errors.append(f"worker {n}: {e!r}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for i in range(30):
            self.sandbox.write_config(f"[limits]\nmax_key_bytes = {100 + i}\n")
            daemon.send(signal.SIGHUP)
            time.sleep(0.01)
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertTrue(daemon.running(), daemon.log_text())
        wait_for(lambda: self.client().hello()["limits"]["max_key_bytes"] == 129, message="the last reload")
        self.assertEqual(self.stats()["totals"]["entries"], 900)


class FailFast(IntegrationTest):
    """A daemon that cannot start says why at once: the command waits for the
    started process to exit, not for the socket until client.start_timeout
    (30 s here, so that waiting it out could not pass)."""

    # Generous: a failed start takes some tens of milliseconds; the bound only
    # tells "at once" from "after the start timeout".
    BOUND = 10.0 if harness.SANITIZED else 3.0

    def lock_files(self):
        return sorted(os.path.join(folder, name) for folder, _, names in os.walk(self.sandbox.root)
                      for name in names if name.endswith(".lock"))

    def failed_start(self, what, env, *reasons):
        started = time.monotonic()
        result = self.run_cli("set", "k", "v", env={**AUTO_START_ENV, **env})
        elapsed = time.monotonic() - started
        harness.report(f"failed start ({what}): the command exited {result.code} after {elapsed:.3f} s")
        self.assertEqual(result.code, harness.EXIT_UNREACHABLE, result.describe())
        self.assertIn("starting the daemon failed", result.stderr)
        for reason in reasons:
            self.assertIn(reason, result.stderr, result.describe())
        self.assertNotIn("cannot connect", result.stderr, "one message: the daemon's reason")
        self.assertLess(elapsed, self.BOUND, result.describe())
        self.assertTrue(self.no_daemons_left(), "the daemon that could not start is gone")
        self.assertEqual(self.lock_files(), [], "a failed start leaves no lock file")
        return result

    def test_a_database_that_is_a_folder_fails_at_once_and_leaves_no_lock(self):
        folder = os.path.join(self.sandbox.root, "db-folder")
        os.mkdir(folder)
        self.failed_start("database is a folder", {"OMNICACHE_DATABASE": folder}, "cannot open database", folder)

    def test_a_database_under_a_regular_file_fails_at_once(self):
        blocker = os.path.join(self.sandbox.root, "blocker")
        open(blocker, "w").close()
        database = os.path.join(blocker, "cache.db")
        self.failed_start("database under a file", {"OMNICACHE_DATABASE": database}, database, "Not a directory")

    def test_a_socket_folder_writable_by_others_fails_at_once(self):
        folder = os.path.join(self.sandbox.root, "open")
        os.mkdir(folder)
        os.chmod(folder, 0o777)
        self.failed_start("socket folder writable by others", {"OMNICACHE_SOCKET": os.path.join(folder, "d.sock")},
                          "writable by other")

    def test_a_socket_path_holding_a_regular_file_fails_at_once(self):
        folder = os.path.join(self.sandbox.root, "s")
        os.mkdir(folder, 0o700)
        path = os.path.join(folder, "d.sock")
        open(path, "w").close()
        self.failed_start("socket path is a file", {"OMNICACHE_SOCKET": path}, "not a socket")

    def test_run_runs_the_command_uncached_with_one_warning(self):
        folder = os.path.join(self.sandbox.root, "db-folder")
        os.mkdir(folder)
        started = time.monotonic()
        result = self.run_cli("run", "--", "echo", "hi", env={**AUTO_START_ENV, "OMNICACHE_DATABASE": folder})
        elapsed = time.monotonic() - started
        harness.report(f"failed start under run: the command exited {result.code} after {elapsed:.3f} s")
        self.assertEqual((result.code, result.stdout), (0, b"hi\n"), result.describe())
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.describe())
        self.assertIn("cannot open database", lines[0])
        self.assertIn("without the cache", lines[0])
        self.assertLess(elapsed, self.BOUND, result.describe())
        self.assertEqual(self.lock_files(), [])

    def test_a_start_blocked_by_a_stopping_daemon_waits_for_it(self):
        # A daemon that holds the database's lock may be on its way out: the
        # start fails with "already uses", and the command tries again.
        first = self.start_daemon(socket_path=os.path.join(self.sandbox.root, "s1", "d.sock"))
        stopper = threading.Timer(0.5, first.stop)
        stopper.start()
        try:
            result = self.run_cli("set", "k", "v", env=AUTO_START_ENV)
        finally:
            stopper.join()
        self.assertEqual(result.code, EXIT_OK, result.describe())
        self.assertEqual(self.cli("get", "k").stdout, b"v")
        self.cli("daemon", "stop")


class BadConfiguration(IntegrationTest):

    def assert_refused(self, result, *needles):
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        for needle in needles:
            self.assertIn(needle, result.stderr, result.describe())

    def daemon_args(self):
        return ["--foreground", "--socket", self.sandbox.socket, "--database", self.sandbox.database]

    def test_the_daemon_refuses_to_start_on_an_unknown_key(self):
        self.sandbox.write_config("[store]\nmax_entries = 5\n\nmax_bites = 10\n")
        result = self.run_daemon(*self.daemon_args())
        self.assert_refused(result, f"{self.sandbox.config_file}:4", "store.max_bites", "unknown key")
        self.assertFalse(os.path.exists(self.sandbox.socket))

    def test_the_daemon_refuses_to_start_on_a_bad_value(self):
        self.sandbox.write_config('[daemon]\nlog_level = "info"\nidle_timeout = "soon"\n')
        result = self.run_daemon(*self.daemon_args())
        self.assert_refused(result, f"{self.sandbox.config_file}:3", "daemon.idle_timeout", "soon")

    def test_the_daemon_refuses_an_out_of_range_value(self):
        self.sandbox.write_config("[daemon]\nio_threads = 0\n")
        result = self.run_daemon(*self.daemon_args())
        self.assert_refused(result, f"{self.sandbox.config_file}:2", "daemon.io_threads")

    def test_the_daemon_refuses_a_bad_option_flag(self):
        self.assert_refused(self.run_daemon(*self.daemon_args(), "-o", "store.nonsense=1"), "store.nonsense")
        self.assert_refused(self.run_daemon(*self.daemon_args(), "-o", "store.max_entries"), "KEY=VALUE")
        self.assert_refused(self.run_daemon(*self.daemon_args(), "-o", "store.max_entries=many"),
                            "store.max_entries", "many")
        self.assert_refused(self.run_daemon(*self.daemon_args(), "--no-such-flag"), "--no-such-flag")

    def test_the_daemon_refuses_a_bad_environment_variable(self):
        result = self.run_daemon(*self.daemon_args(), env={"OMNICACHE_SYNC": "sometimes"})
        self.assert_refused(result, "OMNICACHE_SYNC", "sometimes")

    def test_the_command_with_a_bad_config_exits_2_and_starts_nothing(self):
        self.sandbox.write_config("[store]\nmax_entries = -3\n")
        result = self.run_cli("daemon", "start", env=AUTO_START_ENV)
        self.assert_refused(result, f"{self.sandbox.config_file}:2", "store.max_entries")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_check_config_prints_the_configuration_and_exits_0_without_starting(self):
        self.sandbox.write_config("[store]\nmax_bytes = \"1GiB\"\n")
        result = self.run_daemon("--check-config", "-o", "store.max_entries=5", "--socket", self.sandbox.socket,
                                 env={"OMNICACHE_TTL_KV": "1h"})
        self.assertEqual(result.code, 0, result.describe())
        lines = result.text.splitlines()
        self.assertIn("(flag) store.max_entries = 5", lines)
        self.assertIn("(file) store.max_bytes = 1GiB", lines)
        self.assertIn("(env) ttl.kv = 1h", lines)
        self.assertIn(f"(flag) daemon.socket = {self.sandbox.socket}", lines)
        self.assertFalse(os.path.exists(self.sandbox.socket), "--check-config serves nothing")
        self.assertFalse(os.path.exists(self.sandbox.database), "--check-config opens no database")

    def test_check_config_with_a_bad_config_exits_2(self):
        self.sandbox.write_config("[store]\nmax_entries = \"x\"\n")
        result = self.run_daemon("--check-config")
        self.assert_refused(result, f"{self.sandbox.config_file}:2", "store.max_entries")

    def test_daemon_help_explains_exit_codes_and_signals(self):
        result = self.run_daemon("--help")
        self.assertEqual(result.code, 0)
        for needle in ("--foreground", "--check-config", "Exit codes", "SIGTERM", "SIGHUP"):
            self.assertIn(needle, result.text)


if __name__ == "__main__":
    unittest.main()
