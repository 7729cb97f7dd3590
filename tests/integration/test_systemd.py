"""omnicached under systemd: socket activation (a listening socket passed in
LISTEN_FDS), readiness and state reported to NOTIFY_SOCKET, and the user
units. systemd-socket-activate (Debian's systemd package) plays the part of
the socket unit where it can; elsewhere the test holds the socket itself, as
the user's systemd does between two starts of the daemon."""

import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from harness import (COMMAND_TIMEOUT, DAEMON, READY_TIMEOUT, STOP_TIMEOUT, Daemon, IntegrationTest, frame,
                     hello_ok, omnicache_client, read_reply, wait_for)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
BUILD_DIR = os.environ.get("OMNICACHE_TEST_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "release")
UNITS_DIR = os.path.join(BUILD_DIR, "systemd")

# What a service manager does: the socket as descriptor 3, LISTEN_PID the
# pid that runs the daemon (this one, which then execs it), LISTEN_FDS.
# argv[1]: the descriptors to pass, comma-separated, in order.
PASS_FD = ("import os, sys\n"
           "fds = [int(fd) for fd in sys.argv[1].split(',')]\n"
           "moved = [os.dup(fd) for fd in fds]\n"
           "for target, fd in enumerate(moved, 3):\n"
           "    os.dup2(fd, target)\n"
           "    os.set_inheritable(target, True)  # dup2 onto itself keeps os.dup's close-on-exec\n"
           "for fd in fds:\n"
           "    if fd >= 3 + len(fds):\n"
           "        os.close(fd)\n"
           "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)))\n"
           "os.execv(sys.argv[2], sys.argv[2:])\n")


def open_descriptors(pid):
    """What each of a process's descriptors points at. A descriptor closed between the listing and
    its readlink (the daemon ending a connection meanwhile) is skipped, not an error."""
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return held


class PassedSocketDaemon(Daemon):
    """omnicached --foreground started by `launcher` (systemd-socket-activate
    or PASS_FD); stopped and checked at the end of the test like the others."""

    def __init__(self, sandbox, socket_path, database, launcher, options=(), env=None, pass_fds=()):
        self.sandbox = sandbox
        self.socket = socket_path
        self.database = database
        self.log_path = os.path.join(sandbox.root, f"daemon-{time.monotonic_ns()}.log")
        self.args = [*launcher, DAEMON, "--foreground", "--database", database]
        for option in options:
            self.args += ["-o", option]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        env=sandbox.environment(env), pass_fds=pass_fds)
        self.pid = self.process.pid
        self.exit_code = None


def socket_file(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


class SocketActivationTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.sandbox.runtime, "activated", "omnicached.sock")
        os.mkdir(os.path.dirname(self.path), 0o700)

    def activate(self, *options):
        """systemd-socket-activate listening on self.path, to exec omnicached
        on the first connection."""
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            self.skipTest("systemd-socket-activate is not installed (Debian package systemd)")
        # It passes on only the variables named with -E.
        launcher = [SOCKET_ACTIVATE, "-l", self.path]
        for name in ("PATH", "HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "ASAN_OPTIONS",
                     "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            if name in self.sandbox.env:
                launcher += ["-E", name]
        daemon = PassedSocketDaemon(self.sandbox, self.path, self.sandbox.database, launcher, options=options)
        self.daemons.append(daemon)
        # Its own message: a socket file may be there already, left by the one before.
        wait_for(lambda: "Listening on" in daemon.log_text() or not daemon.running(),
                 message="systemd-socket-activate to listen")
        self.assertTrue(daemon.running(), daemon.log_text())
        return daemon

    def pass_socket(self, listener, *options, extra=()):
        fds = (listener.fileno(), *(sock.fileno() for sock in extra))
        daemon = PassedSocketDaemon(self.sandbox, self.path, self.sandbox.database,
                                    [sys.executable, "-c", PASS_FD, ",".join(map(str, fds))], options=options,
                                    pass_fds=fds)
        self.daemons.append(daemon)
        return daemon

    def cli_on(self, *args, **kwargs):
        return self.cli("-s", self.path, *args, **kwargs)

    def test_the_first_command_starts_the_daemon_through_the_socket_and_it_comes_back_after_idle_exit(self):
        daemon = self.activate("daemon.idle_timeout=3s")
        self.cli_on("set", "k", "kept", input=None)
        # A connection held open keeps the idle timer from running out while we look.
        client = omnicache_client.Client(self.path, timeout=30)
        self.addCleanup(client.close)
        self.assertEqual(os.path.basename(os.readlink(f"/proc/{daemon.pid}/exe")), "omnicached",
                         "systemd-socket-activate execs the daemon in its own process")
        self.assertEqual(self.cli_on("get", "k").stdout, b"kept")
        self.cli_on("ping")
        server = self.cli_json("-s", self.path, "stats")["server"]
        self.assertEqual(server["socket"], self.path)
        self.assertEqual(server["pid"], daemon.pid)
        self.assertRegex(daemon.log_text(), r"serving the socket passed by the service manager: .*activated")
        # daemon.socket (the sandbox's default) names another path: said, and not created.
        self.assertIn(f"daemon.socket ({self.sandbox.socket}) is not used", daemon.log_text())
        self.assertFalse(os.path.exists(self.sandbox.socket))

        client.close()
        code = daemon.wait_exit(timeout=STOP_TIMEOUT + 3)
        self.assertIsNotNone(code, f"no idle exit under socket activation:\n{daemon.log_text()}")
        self.assert_clean_exit(daemon, code)
        self.assertIn("exiting", daemon.log_text())
        self.assertTrue(socket_file(self.path), "the socket file belongs to the service manager: left in place")

        # The manager listens again, as the socket unit does; the next command starts the daemon once more.
        again = self.activate("daemon.idle_timeout=3s")
        self.assertEqual(self.cli_on("get", "k").stdout, b"kept")
        self.assertEqual(self.cli_json("-s", self.path, "stats")["server"]["pid"], again.pid)
        self.stop_daemon(again)
        self.assertTrue(socket_file(self.path), "a stopped daemon leaves the passed socket's file")

    def test_connections_waiting_in_the_socket_while_the_daemon_is_stopped_are_served_by_the_next_start(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        listener.listen(16)
        first = self.pass_socket(listener, "daemon.idle_timeout=1s")
        self.cli_on("set", "k", "before")
        self.assert_clean_exit(first, first.wait_exit(timeout=STOP_TIMEOUT + 1))
        self.assertTrue(socket_file(self.path))

        # No daemon runs: the connection and its request wait in the socket.
        waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(waiting.close)
        waiting.settimeout(READY_TIMEOUT)
        waiting.connect(self.path)
        waiting.sendall(frame({"op": "hello", "id": 1, "version": omnicache_client.PROTOCOL_VERSION}))
        waiting.sendall(frame({"op": "get", "id": 2, "key": "k"}))
        # The manager sees the socket readable and starts the daemon.
        readable, _, _ = select.select([listener], [], [], READY_TIMEOUT)
        self.assertEqual(readable, [listener])
        second = self.pass_socket(listener, "daemon.idle_timeout=1m")
        hello = read_reply(waiting)
        self.assertIsNotNone(hello, f"the waiting connection was dropped:\n{second.log_text()}")
        self.assertTrue(hello[0]["ok"], hello)
        header, value = read_reply(waiting)
        self.assertTrue(header["ok"], header)
        self.assertEqual(value, b"before")
        waiting.close()
        self.stop_daemon(second)
        self.assertTrue(socket_file(self.path))

    def test_a_removed_socket_file_is_not_replaced_by_the_daemon(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        listener.listen(16)
        daemon = self.pass_socket(listener)
        self.cli_on("set", "k", "v")
        os.unlink(self.path)
        wait_for(lambda: "belongs to the service manager" in daemon.log_text(), message="the warning")
        self.assertFalse(os.path.exists(self.path), "the daemon must not bind a socket of its own there")
        self.stop_daemon(daemon)

    def test_of_several_sockets_the_first_is_served_and_the_others_closed(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        listener.listen(16)
        other_path = os.path.join(os.path.dirname(self.path), "other.sock")
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(other_path)
        other.listen(16)
        daemon = self.pass_socket(listener, extra=(other,))
        self.cli_on("set", "k", "v")
        self.assertIn("the service manager passed 2 sockets; serving the first (descriptor 3)", daemon.log_text())
        held = open_descriptors(daemon.pid)
        self.assertIn(f"socket:[{os.fstat(listener.fileno()).st_ino}]", held)
        self.assertNotIn(f"socket:[{os.fstat(other.fileno()).st_ino}]", held, "the second socket is closed")
        self.stop_daemon(daemon)

    def test_a_daemon_does_not_replace_a_socket_another_process_listens_on(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        listener.listen(16)
        before = os.lstat(self.path).st_ino
        result = self.run_daemon("--foreground", "--socket", self.path)
        self.assertEqual(result.code, 1, result.describe())
        self.assertIn(f"another process listens on {self.path}", result.stderr)
        self.assertEqual(os.lstat(self.path).st_ino, before)

    def test_variables_meant_for_another_process_are_ignored(self):
        daemon = self.start_daemon(env={"LISTEN_PID": "1", "LISTEN_FDS": "1"})
        self.assertTrue(socket_file(self.sandbox.socket))
        self.assertNotIn("service manager", daemon.log_text())
        self.stop_daemon(daemon)
        self.assertFalse(os.path.exists(self.sandbox.socket), "its own socket is removed at exit")


class BadPassedSocketTest(IntegrationTest):
    """A descriptor 3 that cannot be served stops the start with exit code 1
    and a message naming what it is."""

    def run_with_fd3(self, fd):
        # Through PASS_FD; it becomes descriptor 3 of the daemon.
        done = subprocess.run([sys.executable, "-c", PASS_FD, str(fd), DAEMON, "--foreground"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.sandbox.environment(), pass_fds=(fd,), timeout=COMMAND_TIMEOUT)
        self.assertFalse(os.path.exists(self.sandbox.socket), "no socket of its own instead")
        return done.returncode, done.stderr.decode(errors="replace")

    def assert_refused(self, fd, what):
        code, stderr = self.run_with_fd3(fd)
        self.assertEqual(code, 1, stderr)
        self.assertIn("socket passed by the service manager (LISTEN_FDS, descriptor 3)", stderr)
        self.assertIn(what, stderr)

    def test_a_regular_file(self):
        with tempfile.TemporaryFile(dir=self.sandbox.root) as f:
            self.assert_refused(f.fileno(), "is a regular file, not a socket")

    def test_a_udp_socket(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            self.assert_refused(udp.fileno(), "is an AF_INET (IPv4) socket, not a Unix socket")

    def test_a_tcp_listener(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            tcp.listen(1)
            self.assert_refused(tcp.fileno(), "AF_INET (IPv4) socket, not a Unix socket")

    def test_a_unix_datagram_socket(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dgram:
            self.assert_refused(dgram.fileno(), "is a Unix datagram socket, not a stream socket")

    def test_a_unix_stream_socket_that_does_not_listen(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
            self.assert_refused(stream.fileno(), "is a Unix stream socket that is not listening")


class NotifyTest(IntegrationTest):
    """sd_notify: what the daemon tells the manager, and when."""

    def notify_socket(self, abstract=False):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        if abstract:
            name = f"omnicache-test-{uuid.uuid4().hex}"
            sock.bind("\0" + name)
            address = "@" + name
        else:
            address = os.path.join(self.sandbox.root, "notify")
            sock.bind(address)
        sock.settimeout(READY_TIMEOUT)
        return sock, address

    def next_message(self, sock):
        data = sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def test_ready_reloading_and_stopping_are_reported(self):
        sock, address = self.notify_socket()
        daemon = self.start_daemon(env={"NOTIFY_SOCKET": address}, wait=False)
        ready = self.next_message(sock)
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertEqual(ready.get("MAINPID"), str(daemon.pid))
        self.assertIn(f"serving {self.sandbox.socket}", ready.get("STATUS", ""))
        self.assertTrue(hello_ok(self.sandbox.socket), "READY=1 means requests are accepted")

        before = time.monotonic_ns() // 1000
        daemon.send(signal.SIGHUP)
        reloading = self.next_message(sock)
        after = time.monotonic_ns() // 1000
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        self.assertLessEqual(before, int(reloading["MONOTONIC_USEC"]))
        self.assertLessEqual(int(reloading["MONOTONIC_USEC"]), after)
        self.assertEqual(self.next_message(sock).get("READY"), "1")
        wait_for(lambda: "SIGHUP: configuration unchanged" in daemon.log_text(), message="the reload")

        daemon.send(signal.SIGTERM)
        stopping = self.next_message(sock)
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assert_clean_exit(daemon, daemon.wait_exit())

    def test_an_abstract_notify_socket(self):
        sock, address = self.notify_socket(abstract=True)
        daemon = self.start_daemon(env={"NOTIFY_SOCKET": address}, wait=False)
        ready = self.next_message(sock)
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertEqual(ready.get("MAINPID"), str(daemon.pid))
        self.stop_daemon(daemon)
        self.assertEqual(self.next_message(sock).get("STOPPING"), "1")

    def test_a_notify_socket_nobody_listens_on_does_not_stop_the_daemon(self):
        daemon = self.start_daemon(env={"NOTIFY_SOCKET": os.path.join(self.sandbox.root, "nobody")},
                                   args=("--log-level", "debug"))
        self.assertIn("cannot report the daemon's state to the service manager", daemon.log_text())
        self.cli("set", "k", "v")
        self.stop_daemon(daemon)


def read_unit(path):
    """A unit file as {section: [(key, value)]}: keys may repeat."""
    sections = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            key, value = line.split("=", 1)
            current.append((key.strip(), value.strip()))
    return sections


def value_of(sections, section, key):
    values = [v for k, v in sections.get(section, []) if k == key]
    return values[-1] if values else None


class UnitsTest(IntegrationTest):

    def unit(self, name):
        path = os.path.join(UNITS_DIR, name)
        if not os.path.exists(path):
            self.fail(f"{path} was not configured (systemd/CMakeLists.txt)")
        return path

    def test_the_service_is_notify_type_with_reload_and_restart(self):
        service = read_unit(self.unit("omnicached.service"))
        self.assertEqual(value_of(service, "Service", "Type"), "notify")
        exec_start = value_of(service, "Service", "ExecStart")
        self.assertTrue(exec_start.startswith("/") and exec_start.endswith("/omnicached --foreground"), exec_start)
        self.assertNotIn("@", exec_start, "configured, not a template any more")
        self.assertEqual(value_of(service, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(value_of(service, "Service", "Restart"), "on-failure")
        self.assertEqual(value_of(service, "Service", "UMask"), "0077")
        self.assertNotIn("Requires", dict(service.get("Unit", [])), "startable without the socket")

    def test_the_socket_listens_where_the_daemon_listens_by_default(self):
        sock = read_unit(self.unit("omnicached.socket"))
        listen = value_of(sock, "Socket", "ListenStream")
        self.assertEqual(value_of(sock, "Socket", "SocketMode"), "0600")
        self.assertEqual(value_of(sock, "Socket", "DirectoryMode"), "0700")
        shown = self.run_daemon("--check-config")
        self.assertEqual(shown.code, 0, shown.describe())
        default = next(line.split(" = ", 1)[1] for line in shown.text.splitlines()
                       if line.split(" = ", 1)[0].endswith(" daemon.socket"))
        self.assertEqual(default, self.sandbox.socket)
        # %t is $XDG_RUNTIME_DIR in a user manager.
        self.assertEqual(listen.replace("%t", self.sandbox.runtime), default)

    def test_systemd_analyze_verify_accepts_the_units(self):
        if SYSTEMD_ANALYZE is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        # The units as installed, with ExecStart naming the binary under test.
        folder = os.path.join(self.sandbox.root, "units")
        os.mkdir(folder)
        for name in ("omnicached.service", "omnicached.socket"):
            with open(self.unit(name)) as f:
                text = f.read()
            if name.endswith(".service"):
                text = "\n".join(f"ExecStart={DAEMON} --foreground" if line.startswith("ExecStart=") else line
                                 for line in text.splitlines()) + "\n"
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
        done = subprocess.run([SYSTEMD_ANALYZE, "--user", "verify", "--man=no",
                               os.path.join(folder, "omnicached.socket"), os.path.join(folder, "omnicached.service")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.sandbox.environment(),
                              timeout=COMMAND_TIMEOUT)
        output = done.stdout.decode(errors="replace")
        if done.returncode != 0 and ("Failed to initialize manager" in output or "Failed to connect" in output
                                     or "XDG_RUNTIME_DIR" in output and "not set" in output):
            self.skipTest(f"systemd-analyze verify cannot run here: {output.strip()[:300]}")
        self.assertEqual(done.returncode, 0, output)
        self.assertEqual(output.strip(), "", "no warnings")


if __name__ == "__main__":
    unittest.main()
