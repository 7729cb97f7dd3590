"""Faults: kill -9 under load, a full disk, the socket file removed under a
running daemon, and the daemon dying while runs share a lease.

Each scenario prints its figures on stderr in one line, e.g.
`kill -9: 50000 sets sent by 4 clients, 21000 acknowledged, 0 lost`."""

import os
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

import harness
from harness import CLI, COMMAND_TIMEOUT, IntegrationTest, Result, ServerError, report, wait_for

MIB = 1 << 20


def integrity(database):
    """PRAGMA integrity_check of a database file, read-only."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()


def value_of(key):
    return f"value of {key} ".encode() * 4


class KillDuringLoad(IntegrationTest):

    CLIENTS = 4
    SETS = 10000 if harness.SANITIZED else 50000

    def test_every_acknowledged_set_survives_kill_9(self):
        daemon = self.start_daemon()
        per_client = self.SETS // self.CLIENTS
        acked = [[] for _ in range(self.CLIENTS)]
        sent = [0] * self.CLIENTS
        failures = {}
        lock = threading.Lock()

        def load(n):
            try:
                with harness.omnicache_client.Client(self.sandbox.socket, timeout=harness.WAIT) as client:
                    pending = []
                    i = 0
                    while i < per_client or pending:
                        while i < per_client and len(pending) < 128:
                            key = f"c{n}:{i}"
                            client.send("set", {"key": key}, value_of(key))
                            pending.append(key)
                            sent[n] += 1
                            i += 1
                        header, _ = client.receive()
                        key = pending.pop(0)
                        if header.get("ok"):
                            acked[n].append(key)
                        else:
                            with lock:
                                code = header["error"]["code"]
                                failures[code] = failures.get(code, 0) + 1
            except (OSError, ValueError) as e:  # the kill ends every connection
                with lock:
                    failures[type(e).__name__] = failures.get(type(e).__name__, 0) + 1

        threads = [threading.Thread(target=load, args=(n,)) for n in range(self.CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        wait_for(lambda: sum(map(len, acked)) >= self.SETS * 2 // 5, timeout=120, interval=0.001,
                 message="two fifths of the sets to be acknowledged")
        daemon.kill9()
        killed_after = time.monotonic() - started
        for t in threads:
            t.join(timeout=60)
        total_sent, total_acked = sum(sent), sum(map(len, acked))
        self.assertLess(total_acked, self.SETS, "the kill came after the load had finished")

        started = time.monotonic()
        restarted = self.start_daemon()
        restart_s = time.monotonic() - started
        client = self.client()
        keys = [key for keys in acked for key in keys]
        replies = harness.pipeline(client, [("get", {"key": key}, b"") for key in keys])
        lost = [key for key, (header, value) in zip(keys, replies) if not header["found"] or value != value_of(key)]
        stored = client.call("stats")[0]["totals"]["entries"]
        self.stop_daemon(restarted)
        check = integrity(self.sandbox.database)
        report(f"kill -9: {total_sent} sets sent by {self.CLIENTS} pipelining clients, {total_acked} acknowledged, "
               f"{len(lost)} lost, {stored} stored after restart, errors seen {failures or 'none'}; "
               f"killed at {killed_after:.2f} s, restarted in {restart_s:.2f} s, integrity_check {check[0][0]}")
        self.assertEqual(lost, [], "acknowledged sets missing or changed after kill -9")
        self.assertGreaterEqual(stored, total_acked)
        self.assertLessEqual(stored, total_sent)
        self.assertEqual(check, [("ok",)])
        self.assertEqual(set(failures) - {"ConnectionError", "ConnectionResetError", "BrokenPipeError"}, set(),
                         "only the kill may fail a set")


class FullDisk(IntegrationTest):
    """The database on a small tmpfs that fills up."""

    SIZE = 8 * MIB
    FILLER = 2 * MIB
    VALUE = 64 << 10

    def setUp(self):
        super().setUp()
        self.disk = os.path.join(self.sandbox.root, "disk")
        os.mkdir(self.disk)
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE},mode=0700", "tmpfs", self.disk],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if mounted.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {mounted.stdout.decode(errors='replace').strip()}")
        self.mounted = True

    def tearDown(self):
        # The daemon keeps files open on the tmpfs: stop it before unmounting.
        for daemon in self.daemons:
            if daemon.running():
                daemon.stop()
        if subprocess.run(["umount", self.disk]).returncode != 0:
            subprocess.run(["umount", "-l", self.disk])
        super().tearDown()

    def fill(self, client, stored):
        """Sets incompressible values until one fails; returns that error."""
        for i in range(4 * self.SIZE // self.VALUE):
            key = f"fill{len(stored)}"
            value = os.urandom(self.VALUE)
            try:
                client.call("set", {"key": key}, value)
            except ServerError as e:
                return e
            stored[key] = value
        self.fail(f"{4 * self.SIZE} bytes stored on a {self.SIZE}-byte disk")

    def test_a_full_disk_fails_writes_clearly_keeps_reads_and_recovers(self):
        database = os.path.join(self.disk, "cache.db")
        filler = os.path.join(self.disk, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * self.FILLER)
        daemon = self.start_daemon(database=database)
        client = self.client()
        stored = {}
        error = self.fill(client, stored)
        self.assertEqual(error.code, "DISK_FULL", error.message)
        self.assertIn("full", error.message)
        # Still full: writes fail the same way, also when they share a commit.
        self.assertEqual(self.fill(client, {}).code, "DISK_FULL")
        keys = [f"group{i}" for i in range(32)]
        values = [os.urandom(self.VALUE) for _ in keys]
        replies = harness.pipeline(client, [("set", {"key": k}, v) for k, v in zip(keys, values)])
        codes = {}
        for key, value, (header, _) in zip(keys, values, replies):
            code = "ok" if header["ok"] else header["error"]["code"]
            codes[code] = codes.get(code, 0) + 1
            if header["ok"]:
                stored[key] = value
        self.assertEqual(set(codes) - {"ok"}, {"DISK_FULL"}, codes)
        result = self.run_cli("set", "cli-key", input=os.urandom(self.VALUE))
        self.assertEqual(result.code, harness.EXIT_DAEMON, result.describe())
        self.assertIn("DISK_FULL", result.stderr)
        self.assertIn("full", result.stderr.replace("DISK_FULL", ""))
        unreadable = [key for key, value in stored.items() if client.call("get", {"key": key})[1] != value]
        self.assertEqual(unreadable, [], "entries stored before the disk filled up")
        while_full = integrity(database)
        self.assertEqual(while_full, [("ok",)])

        os.unlink(filler)
        started = time.monotonic()

        def write_works():
            try:
                client.call("set", {"key": "after"}, b"space again")
                return True
            except ServerError as e:
                self.assertEqual(e.code, "DISK_FULL", e.message)
                return False

        wait_for(write_works, message="a write to succeed once space returned")
        recovered_s = time.monotonic() - started
        self.assertEqual(client.call("get", {"key": "after"})[1], b"space again")
        self.cli("set", "cli-key", "fine")
        self.assertEqual(self.cli("get", "cli-key").stdout, b"fine")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [daemon.pid], "the same daemon throughout")
        client.close()
        self.stop_daemon(daemon)
        after = integrity(database)
        restarted = self.start_daemon(database=database)
        with harness.omnicache_client.Client(self.sandbox.socket) as again:
            lost = [key for key, value in stored.items() if again.call("get", {"key": key})[1] != value]
        self.stop_daemon(restarted)
        report(f"full disk: {len(stored)} sets of {self.VALUE >> 10} KiB stored on a {self.SIZE >> 20} MiB tmpfs "
               f"before DISK_FULL ({error.message!r}), then 32 pipelined: {codes}; "
               f"the command exited {result.code}; reads kept working; "
               f"writes worked again {recovered_s:.2f} s after {self.FILLER >> 20} MiB were freed; "
               f"{len(lost)} lost after a restart; integrity_check {while_full[0][0]} while full, {after[0][0]} after")
        self.assertEqual(lost, [])
        self.assertEqual(after, [("ok",)])


class SocketRemoved(IntegrationTest):

    def test_a_removed_socket_is_created_again_and_commands_keep_working(self):
        daemon = self.start_daemon()
        self.cli("set", "k", "before")
        os.unlink(self.sandbox.socket)
        started = time.monotonic()
        wait_for(lambda: os.path.exists(self.sandbox.socket) and harness.hello_ok(self.sandbox.socket),
                 message="the daemon to listen on a new socket")
        back_s = time.monotonic() - started
        self.assertEqual(self.cli("get", "k").stdout, b"before")
        self.cli("set", "k2", "after")
        self.assertEqual(self.cli("get", "k2").stdout, b"after")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [daemon.pid], "no second daemon")
        self.assertEqual(os.stat(self.sandbox.socket).st_mode & 0o777, 0o600)
        self.assertIn("was removed", daemon.log_text())
        # Replaced by another file of the same name: left alone, and said so once.
        os.unlink(self.sandbox.socket)
        with open(self.sandbox.socket, "w") as f:
            f.write("not a socket")
        wait_for(lambda: "cannot be created again" in daemon.log_text(), message="a warning about the file in the way")
        os.unlink(self.sandbox.socket)
        wait_for(lambda: harness.hello_ok(self.sandbox.socket), message="the socket once the path is free")
        self.assertEqual(self.cli("get", "k2").stdout, b"after")
        self.stop_daemon(daemon)
        self.assertFalse(os.path.exists(self.sandbox.socket), "a clean stop removes its socket")
        report(f"socket removed: listening again after {back_s:.2f} s; get and set through the command worked; "
               f"one daemon throughout")

    def test_a_stale_socket_without_a_daemon_is_reported_clearly(self):
        daemon = self.start_daemon()
        daemon.kill9()
        self.assertTrue(os.path.exists(self.sandbox.socket), "kill -9 leaves the socket file")
        result = self.cli("daemon", "status", code=harness.EXIT_MISS)
        self.assertIn(f"not running on {self.sandbox.socket}", result.text)
        # The command starts a daemon on its own, which replaces the stale socket.
        self.cli("set", "k", "v")
        self.assertEqual(self.cli("get", "k").stdout, b"v")
        self.cli("daemon", "stop")


# Counts its runs, prints "start", sleeps $OC_SLEEP, prints "end $OC_TEXT".
TOOL = """#!/bin/sh
echo run >> "$OC_COUNT"
printf 'start\\n'
if [ -n "$OC_SLEEP" ]; then sleep "$OC_SLEEP"; fi
printf 'end %s\\n' "$OC_TEXT"
"""


class DaemonDiesUnderALease(IntegrationTest):
    """The daemon killed while one run holds a lease and another waits on it."""

    def setUp(self):
        super().setUp()
        self.count_file = os.path.join(self.sandbox.root, "count")
        self.tool = os.path.join(self.sandbox.root, "tool.sh")
        with open(self.tool, "w") as f:
            f.write(TOOL)
        os.chmod(self.tool, 0o755)

    def runs(self):
        try:
            with open(self.count_file) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0

    def start(self, **env):
        env = {"OC_COUNT": self.count_file, **{k: str(v) for k, v in env.items()}}
        return subprocess.Popen([CLI, "run", "--status", "--", self.tool], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.sandbox.environment(env),
                                cwd=self.sandbox.root)

    def finish(self, process):
        try:
            out, err = process.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            self.fail(f"omnicache run hung after the daemon died: {err!r}")
        return Result(process.args, process.returncode, out, err.decode(errors="replace"))

    def test_the_holder_and_the_waiter_both_finish_when_the_daemon_is_killed(self):
        daemon = self.start_daemon()
        started = time.monotonic()
        holder = self.start(OC_SLEEP=2, OC_TEXT="holder")
        wait_for(lambda: self.runs() >= 1, message="the holder's command to start")
        waiter = self.start(OC_TEXT="waiter")
        with harness.omnicache_client.Client(self.sandbox.socket) as client:
            # The waiter's connection is open; give it a moment to ask for the lease.
            wait_for(lambda: client.call("stats")[0]["server"]["connections"] >= 3,
                     message="the waiter to connect")
        time.sleep(0.3)
        daemon.kill9()
        held, waited = self.finish(holder), self.finish(waiter)
        elapsed = time.monotonic() - started
        report(f"daemon killed under a lease: holder exited {held.code}, waiter exited {waited.code} "
               f"after {elapsed:.2f} s; the command ran {self.runs()} times")
        self.assertEqual((held.code, held.stdout), (0, b"start\nend holder\n"), held.describe())
        self.assertIn("MISS", held.stderr)
        self.assertIn("not cached", held.stderr)
        self.assertEqual((waited.code, waited.stdout), (0, b"start\nend waiter\n"), waited.describe())
        self.assertIn("without the cache", waited.stderr)
        self.assertEqual(self.runs(), 2)
        # Nothing was stored; a daemon started again serves the next run.
        self.start_daemon()
        again = self.finish(self.start(OC_TEXT="again"))
        self.assertEqual((again.code, again.stdout), (0, b"start\nend again\n"), again.describe())
        self.assertIn("MISS", again.stderr)


if __name__ == "__main__":
    unittest.main()
