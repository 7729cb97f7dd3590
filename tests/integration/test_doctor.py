"""A damaged database: the daemon refuses it with a message naming the file,
what is wrong and what to do; `omnicache doctor` checks it without the daemon
and moves it aside so that the next start begins with an empty database."""

import hashlib
import json
import os
import sqlite3
import sys
import threading

import harness
from harness import EXIT_MISS, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EXIT_DAMAGED = 5
PAGE = 4096
ENTRIES = 2000

# A failed start is retried until client.start_timeout; one try is enough here.
QUICK_START = {"OMNICACHE_START_TIMEOUT": "1s"}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def overwrite_middle_pages(data):
    """Garbage over the middle half of the pages, the header page kept."""
    pages = len(data) // PAGE
    start, end = pages // 4 * PAGE, pages * 3 // 4 * PAGE
    return data[:start] + bytes((i * 7 + 13) % 251 for i in range(end - start)) + data[end:]


class DoctorTest(harness.IntegrationTest):

    def make_database(self):
        """A real database written by the daemon, stopped cleanly; returns its bytes."""
        daemon = self.start_daemon()
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"key:{i}", "tags": [f"t{i % 10}"]}, b"v" * 200 + str(i).encode())
                                  for i in range(ENTRIES)])
        self.stop_daemon(daemon)
        with open(self.sandbox.database, "rb") as f:
            return f.read()

    def write_database(self, data):
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.sandbox.database + suffix):
                os.remove(self.sandbox.database + suffix)
        with open(self.sandbox.database, "wb") as f:
            f.write(data)

    def damage_kinds(self, good):
        """(name, file bytes or a function making the file, what the daemon says, the check that fails)."""

        def newer_schema():
            self.write_database(good)
            db = sqlite3.connect(self.sandbox.database)
            db.execute("PRAGMA user_version = 99")
            db.close()

        def foreign():
            self.write_database(b"")
            db = sqlite3.connect(self.sandbox.database)
            db.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
            db.execute("INSERT INTO notes(body) VALUES('keep me')")
            db.commit()
            db.close()

        return [
            ("garbage", bytes((i * 31 + 7) % 256 for i in range(64 * 1024)), "is not an omnicache database", "file"),
            ("text file", b"not a database at all\n" * 1000, "is not an omnicache database", "file"),
            ("truncated", good[:len(good) // 3 // PAGE * PAGE], "is damaged", "integrity"),
            ("pages overwritten", overwrite_middle_pages(good), "is damaged", "integrity"),
            ("newer schema", newer_schema, "newer than this build's", "schema"),
            ("another program's database", foreign, "is not an omnicache database", "schema"),
        ]

    def install(self, content):
        if callable(content):
            content()
        else:
            self.write_database(content)

    def doctor(self, *args, code=None):
        result = self.run_cli("doctor", "--json", *args)
        if code is not None:
            self.assertEqual(result.code, code, result.describe())
        try:
            return result, result.json()
        except ValueError:
            self.fail(f"doctor --json printed no JSON{result.describe()}")

    def test_each_kind_of_damage_stops_the_daemon_with_a_clear_message_and_doctor_fails(self):
        good = self.make_database()
        for name, content, says, failing in self.damage_kinds(good):
            with self.subTest(damage=name):
                self.install(content)
                before = sha256(self.sandbox.database)

                daemon = self.start_daemon(wait=False)
                self.assertEqual(daemon.wait_exit(), 1, daemon.log_text())
                log = daemon.log_text(tail=None)
                self.assertIn(self.sandbox.database, log)
                self.assertIn(says, log)
                self.assertIn("omnicache doctor", log)
                self.assertIn("--move-aside", log)

                got = self.run_cli("get", "k", env=QUICK_START)
                self.assertEqual(got.code, EXIT_UNREACHABLE, got.describe())
                self.assertIn("starting the daemon failed", got.stderr)
                self.assertIn(self.sandbox.database, got.stderr)
                self.assertIn(says, got.stderr)
                self.assertIn("omnicache doctor", got.stderr)
                self.assertTrue(self.no_daemons_left())

                result, report = self.doctor(code=EXIT_DAMAGED)
                statuses = {check["name"]: check["status"] for check in report["checks"]}
                self.assertFalse(report["healthy"])
                self.assertEqual(statuses[failing], "FAIL", report)
                human = self.run_cli("doctor")
                self.assertEqual(human.code, EXIT_DAMAGED, human.describe())
                self.assertRegex(human.text, rf"(?m)^FAIL +{failing} ")
                self.assertIn("--move-aside", human.text)
                if name == "another program's database":
                    # The daemon switched it to WAL mode before it looked at
                    # the tables; it added none of its own.
                    db = sqlite3.connect(self.sandbox.database)
                    self.assertEqual(db.execute("SELECT name FROM sqlite_schema").fetchall(), [("notes",)])
                    self.assertEqual(db.execute("SELECT body FROM notes").fetchall(), [("keep me",)])
                    db.close()
                else:
                    # Neither the daemon nor the doctor wrote to the file.
                    self.assertEqual(sha256(self.sandbox.database), before)

    def test_doctor_lists_the_problems_integrity_check_finds(self):
        self.write_database(overwrite_middle_pages(self.make_database()))
        _, report = self.doctor(code=EXIT_DAMAGED)
        integrity = next(check for check in report["checks"] if check["name"] == "integrity")
        self.assertIn("integrity_check", integrity["detail"])
        self.assertTrue(integrity["problems"], integrity)
        sys.stderr.write(f"\n  doctor on a damaged {os.path.getsize(self.sandbox.database)}-byte database: "
                         f"{len(report['checks'])} checks, integrity_check {report['integrity_ms']} ms, "
                         f"{report['elapsed_ms']:.1f} ms in all; first problem: {integrity['problems'][0]}\n")

    def test_a_healthy_database_passes_with_the_schema_version_of_this_build(self):
        self.make_database()
        result, report = self.doctor(code=EXIT_OK)
        self.assertTrue(report["healthy"], report)
        self.assertEqual({check["status"] for check in report["checks"]}, {"ok"}, report)
        self.assertEqual([check["name"] for check in report["checks"]],
                         ["file", "integrity", "schema", "wal", "semantic_index", "daemon"])
        db = sqlite3.connect(self.sandbox.database)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.close()
        # The doctor's idea of the current schema is the daemon's.
        self.assertEqual(report["schema_version"], version)
        self.assertEqual(report["known_schema_version"], version)
        self.assertIsNone(report["daemon_pid"])
        sys.stderr.write(f"\n  doctor on a healthy {os.path.getsize(self.sandbox.database)}-byte database "
                         f"({ENTRIES} entries): {len(report['checks'])} checks, integrity_check "
                         f"{report['integrity_ms']} ms, {report['elapsed_ms']:.1f} ms in all\n")

    def test_a_healthy_database_passes_while_the_daemon_writes_to_it(self):
        self.make_database()
        daemon = self.start_daemon()
        client = self.client()
        stop = threading.Event()
        written = []

        def write():
            for i in range(100000):  # bounded; stopped once the doctor is done
                if stop.is_set():
                    break
                harness.pipeline(client, [("set", {"key": f"busy:{i}:{j}"}, b"x" * 100) for j in range(50)])
                written.append(i)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            harness.wait_for(lambda: written, message="the first writes")
            result, report = self.doctor(code=EXIT_OK)
        finally:
            stop.set()
            writer.join()
        self.assertTrue(report["healthy"], report)
        self.assertEqual(report["daemon_pid"], str(daemon.pid))
        daemon_check = next(check for check in report["checks"] if check["name"] == "daemon")
        self.assertIn(f"pid {daemon.pid}", daemon_check["detail"])
        self.assertTrue(daemon.running())
        self.assertEqual(self.cli("get", "key:1").stdout, b"v" * 200 + b"1")

    def test_move_aside_keeps_the_files_and_the_next_start_is_empty(self):
        self.write_database(overwrite_middle_pages(self.make_database()))
        index = self.sandbox.database + ".semantic"
        os.mkdir(index)
        with open(os.path.join(index, "manifest.json"), "w") as f:
            f.write("{}")
        with open(self.sandbox.database + "-wal", "wb") as f:
            f.write(b"\0" * 100)
        damaged = sha256(self.sandbox.database)

        result, report = self.doctor("--move-aside", code=EXIT_OK)
        self.assertFalse(report["healthy"])
        moved = {os.path.basename(m["from"]): m["to"] for m in report["moved"]}
        # A -shm appears when SQLite reads a database that has a log.
        self.assertLessEqual({"cache.db", "cache.db-wal", "cache.db.semantic"}, set(moved), report)
        self.assertLessEqual(set(moved), {"cache.db", "cache.db-wal", "cache.db-shm", "cache.db.semantic"}, report)
        base = moved["cache.db"]
        self.assertRegex(os.path.basename(base), r"^cache\.db\.broken-\d{8}T\d{6}Z$")
        for name, to in moved.items():
            self.assertEqual(to, base + name[len("cache.db"):])
            self.assertTrue(os.path.exists(to), to)
            self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.sandbox.database), name)), name)
        self.assertEqual(sha256(base), damaged)
        self.assertTrue(os.path.exists(os.path.join(base + ".semantic", "manifest.json")))
        self.assertIn("empty database", report["note"])

        # The next start creates an empty database beside the moved one.
        self.cli("get", "key:1", code=EXIT_MISS)
        self.cli("set", "k", "v")
        self.assertEqual(self.cli("get", "k").stdout, b"v")
        self.assertEqual(sha256(base), damaged)
        self.cli("daemon", "stop")
        self.doctor(code=EXIT_OK)

    def test_move_aside_is_refused_while_a_daemon_uses_the_database(self):
        self.make_database()
        daemon = self.start_daemon()
        result = self.run_cli("doctor", "--move-aside", "--force")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn(f"pid {daemon.pid}", result.stderr)
        self.assertIn("nothing was moved", result.stderr)
        self.assertTrue(os.path.exists(self.sandbox.database))
        self.assertEqual([name for name in os.listdir(os.path.dirname(self.sandbox.database)) if ".broken-" in name],
                         [])
        self.assertTrue(daemon.running())
        self.cli("set", "still", "here")

    def test_a_healthy_database_moves_only_with_force(self):
        self.make_database()
        before = sha256(self.sandbox.database)
        result, report = self.doctor("--move-aside", code=EXIT_OK)
        self.assertEqual(report["moved"], [])
        self.assertIn("--force", report["note"])
        self.assertEqual(sha256(self.sandbox.database), before)

        result, report = self.doctor("--move-aside", "--force", code=EXIT_OK)
        self.assertEqual(len(report["moved"]), 1, report)
        self.assertEqual(sha256(report["moved"][0]["to"]), before)
        self.assertFalse(os.path.exists(self.sandbox.database))

    def test_doctor_takes_the_database_from_the_flag_and_needs_no_daemon(self):
        other = os.path.join(self.sandbox.root, "elsewhere.db")
        with open(other, "wb") as f:
            f.write(b"garbage" * 100)
        result, report = self.doctor("--database", other, code=EXIT_DAMAGED)
        self.assertEqual(report["database"], other)
        result, report = self.doctor(code=EXIT_OK)
        self.assertEqual(report["database"], self.sandbox.database)
        self.assertIn("does not exist", report["checks"][0]["detail"])
        self.assertFalse(os.path.exists(self.sandbox.database))
        self.assertTrue(self.no_daemons_left())


if __name__ == "__main__":
    import unittest

    unittest.main()
