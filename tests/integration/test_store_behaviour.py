"""What the store does with entries: TTL, eviction, compression, tenants,
persistent counters and durability across kill -9."""

import os
import random
import sqlite3
import time
import unittest

import harness
from harness import EXIT_MISS, IntegrationTest, now_ms, wait_for

FIGURES = ["entries", "raw_bytes", "stored_bytes", "hits", "misses", "sets", "deletes", "expirations", "evictions",
           "invalidations"]


class StoreTest(IntegrationTest):

    def database(self):
        """The database file, opened after the daemon has stopped."""
        for daemon in self.daemons:
            self.assertFalse(daemon.running(), "stop the daemon before opening its database")
        connection = sqlite3.connect(f"file:{self.sandbox.database}?mode=ro", uri=True)
        self.addCleanup(connection.close)
        return connection

    def totals(self, *args, **kwargs):
        return self.stats(*args, **kwargs)["totals"]


class Expiry(StoreTest):

    def test_an_entry_expires_after_its_ttl_and_the_sweep_counts_it(self):
        self.start_daemon("store.sweep_interval=200ms")
        self.cli("set", "short", "v", "--ttl", "1")
        self.cli("set", "long", "v", "--ttl", "1h")
        wait_for(lambda: self.run_cli("get", "short").code == EXIT_MISS, message="the entry to expire")
        result = self.cli("get", "short", code=EXIT_MISS)
        self.assertEqual(result.stdout, b"", "an expired entry prints nothing")
        self.cli("exists", "short", code=EXIT_MISS)
        self.cli("inspect", "short", code=EXIT_MISS)
        self.assertEqual(self.cli("keys").text.splitlines(), ["long"])
        wait_for(lambda: self.totals()["expirations"] >= 1, message="the sweep to count the expiration")
        totals = self.totals()
        self.assertEqual((totals["expirations"], totals["entries"]), (1, 1), totals)
        self.assertEqual(self.cli("get", "long").stdout, b"v")

    def test_an_expired_entry_is_never_returned_even_before_the_sweep(self):
        # The sweep comes once an hour here: only the read-time check stands
        # between a client and a stale value.
        self.start_daemon("store.sweep_interval=1h")
        client = self.client()
        latest = 0
        for key, fields in (("gone", {"tags": ["t"]}), ("gone2", {"tags": ["t"]}), ("gone3", {"layer": "response"})):
            client.call("set", {"key": key, "ttl_ms": 300, **fields}, b"stale")
            latest = max(latest, now_ms() + 300)  # the daemon's clock read before this moment
        client.call("set", {"key": "stays", "tags": ["t"]}, b"fresh")
        wait_for(lambda: now_ms() > latest + 5, message="the TTLs to run out")
        self.assertFalse(client.call("exists", {"key": "gone"})[0]["found"])
        self.assertFalse(client.call("inspect", {"key": "gone"})[0]["found"])
        self.assertFalse(client.call("get", {"key": "gone3", "layer": "response"})[0]["found"])
        self.assertEqual(client.call("keys", {})[0]["keys"], ["stays"])
        self.assertEqual(client.call("keys", {"tags": ["t"]})[0]["keys"], ["stays"])
        self.assertEqual(client.call("del", {"keys": ["gone"]})[0]["removed"], 0, "an expired entry is not counted")
        self.assertEqual(client.call("invalidate", {"tags": ["t"]})[0]["removed"], 1, "only the live one counts")
        self.assertEqual(client.call("invalidate", {"layer": "response"})[0]["removed"], 0)
        self.assertFalse(client.call("set", {"key": "gone"}, b"new")[0]["replaced"], "nothing live was replaced")
        self.assertEqual(client.call("get", {"key": "gone"})[1], b"new")
        totals = self.totals()
        self.assertEqual(totals["entries"], 1)
        self.assertEqual(totals["expirations"], 3, "removing expired entries counts them as expired")
        self.assertEqual((totals["deletes"], totals["invalidations"]), (0, 1))

    def test_the_sweep_removes_many_expired_entries_within_its_budget(self):
        self.start_daemon("store.sweep_interval=100ms", "store.sweep_budget=5ms")
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"k{i}", "ttl_ms": 200, "tags": ["x"]}, b"v" * 50)
                                  for i in range(1500)])
        client.call("set", {"key": "keeper"}, b"v")
        wait_for(lambda: self.totals()["expirations"] == 1500, message="the sweep to remove all 1500")
        totals = self.totals()
        self.assertEqual((totals["entries"], totals["raw_bytes"]), (1, 1), totals)
        self.stop_daemon(self.daemons[0])
        db = self.database()
        self.assertEqual(db.execute("SELECT count(*) FROM entries").fetchone()[0], 1)
        self.assertEqual(db.execute("SELECT count(*) FROM tags").fetchone()[0], 0, "tags go with their entries")

    def test_layers_have_default_ttls_from_the_configuration(self):
        self.start_daemon("ttl.response=2s", "ttl.kv=1h", env={"OMNICACHE_TTL_EMBEDDING": "2m"})
        cases = [("r", ["--layer", "response"], 2000), ("k", [], 3600000), ("e", ["--layer", "embedding"], 120000),
                 ("n", ["--layer", "response", "--ttl", "never"], None), ("c", ["--layer", "context"], 1800000)]
        for key, args, ttl in cases:
            client = self.client()
            self.cli("set", key, "v", *args)
            entry = client.call("inspect", {"key": key})[0]["entry"]  # at once: "r" lives 2s
            got = None if entry["expires_ms"] is None else entry["expires_ms"] - entry["created_ms"]
            self.assertEqual(got, ttl, key)
        wait_for(lambda: self.run_cli("get", "r").code == EXIT_MISS, message="the response entry to expire")
        self.cli("get", "n")


class Eviction(StoreTest):

    def test_max_entries_evicts_the_least_recently_used(self):
        self.start_daemon("store.max_entries=10")
        client = self.client()
        for i in range(10):
            client.call("set", {"key": f"k{i:02d}"}, f"v{i}".encode())
        time.sleep(0.05)  # a later millisecond: access times order the entries
        for i in (0, 1, 2):
            self.assertEqual(client.call("get", {"key": f"k{i:02d}"})[1], f"v{i}".encode())
        time.sleep(0.05)
        for i in range(10, 17):
            client.call("set", {"key": f"k{i:02d}"}, f"v{i}".encode())
        keys = client.call("keys", {})[0]["keys"]
        self.assertEqual(len(keys), 10, keys)
        self.assertEqual(keys, [f"k{i:02d}" for i in (0, 1, 2, *range(10, 17))],
                         "the recently read entries stay, the untouched old ones go")
        totals = self.totals()
        self.assertEqual((totals["entries"], totals["evictions"]), (10, 7), totals)

        for i in range(17, 20):  # 20 sets in all
            client.call("set", {"key": f"k{i:02d}"}, f"v{i}".encode())
        keys = client.call("keys", {})[0]["keys"]
        self.assertEqual(len(keys), 10)
        self.assertIn("k19", keys)
        self.assertEqual(self.totals()["evictions"], 10)

    def test_max_bytes_evicts_until_the_stored_bytes_fit(self):
        limit = 64 * 1024
        self.start_daemon(f"store.max_bytes={limit}", "store.compress_threshold=0")
        client = self.client()
        for i in range(20):
            client.call("set", {"key": f"b{i:02d}"}, os.urandom(8000))
        totals = self.totals()
        self.assertLessEqual(totals["stored_bytes"], limit, totals)
        self.assertGreater(totals["evictions"], 0)
        self.assertEqual(totals["entries"] + totals["evictions"], 20)
        keys = client.call("keys", {})[0]["keys"]
        self.assertIn("b19", keys, "the newest entry stays")
        self.assertNotIn("b00", keys, "the oldest went first")
        self.assertEqual(keys, [f"b{i:02d}" for i in range(20 - len(keys), 20)], "oldest first")

    def test_a_value_larger_than_max_bytes_is_refused_and_evicts_nothing(self):
        self.start_daemon("store.max_bytes=10KiB", "store.compress_threshold=0")
        self.cli("set", "small", "v")
        result = self.cli("set", "huge", input=os.urandom(20000), code=harness.EXIT_USAGE)
        self.assertIn("max_bytes", result.stderr)
        self.assertEqual(self.cli("get", "small").stdout, b"v")
        self.assertEqual(self.totals()["evictions"], 0)


class Compression(StoreTest):

    def test_values_at_or_above_the_threshold_are_stored_compressed(self):
        self.start_daemon("store.compress_threshold=1KiB")
        text = b"an answer from the model, repeated " * 300
        self.cli("set", "big", input=text)
        self.cli("set", "small", input=text[:1023])
        self.cli("set", "random", input=os.urandom(50000))
        big = self.cli_json("inspect", "big")["entry"]
        self.assertTrue(big["compressed"])
        self.assertEqual(big["raw_size"], len(text))
        self.assertLess(big["stored_size"], big["raw_size"] // 5)
        self.assertIn("(zstd)", self.cli("inspect", "big").text)
        small = self.cli_json("inspect", "small")["entry"]
        self.assertEqual((small["compressed"], small["stored_size"]), (False, 1023), "below the threshold")
        random_entry = self.cli_json("inspect", "random")["entry"]
        self.assertFalse(random_entry["compressed"], "incompressible data is stored as it is")
        self.assertEqual(self.cli("get", "big").stdout, text)
        totals = self.totals()
        self.assertEqual(totals["raw_bytes"], len(text) + 1023 + 50000)
        self.assertEqual(totals["stored_bytes"], big["stored_size"] + 1023 + random_entry["stored_size"])
        self.assertLess(totals["stored_bytes"], totals["raw_bytes"])

    def test_a_threshold_of_0_never_compresses(self):
        self.start_daemon("store.compress_threshold=0")
        self.cli("set", "big", input=b"a" * 100000)
        entry = self.cli_json("inspect", "big")["entry"]
        self.assertEqual((entry["compressed"], entry["stored_size"]), (False, 100000))


class Tenants(StoreTest):

    def setUp(self):
        super().setUp()
        self.start_daemon()
        self.acme = {"OMNICACHE_TENANT": "acme"}

    def test_tenants_have_their_own_keys(self):
        self.cli("set", "k", "default value", "--tag", "shared")
        self.cli("set", "k", "acme value", "--tag", "shared", env=self.acme)
        self.cli("set", "only-acme", "v", env=self.acme)
        self.assertEqual(self.cli("get", "k").stdout, b"default value")
        self.assertEqual(self.cli("get", "k", env=self.acme).stdout, b"acme value")
        self.assertEqual(self.cli("get", "k", "--tenant", "acme").stdout, b"acme value")
        self.assertEqual(self.cli("--tenant", "default", "get", "k", env=self.acme).stdout, b"default value",
                         "--tenant wins over OMNICACHE_TENANT")
        self.cli("get", "only-acme", code=EXIT_MISS)
        self.cli("exists", "only-acme", code=EXIT_MISS)
        self.assertEqual(self.cli("keys").text.splitlines(), ["k"])
        self.assertEqual(self.cli("keys", env=self.acme).text.splitlines(), ["k", "only-acme"])
        self.assertEqual(self.cli_json("inspect", "k", env=self.acme)["entry"]["tenant"], "acme")
        self.assertEqual(self.cli("del", "only-acme").text, "0\n")
        self.cli("get", "only-acme", env=self.acme)

    def test_tenants_have_their_own_tags_invalidation_and_flush(self):
        self.cli("set", "a", "v", "--tag", "shared")
        self.cli("set", "a", "v", "--tag", "shared", env=self.acme)
        self.cli("set", "b", "v", "--tag", "shared", env=self.acme)
        self.assertEqual(self.cli("keys", "--tag", "shared").text.splitlines(), ["a"])
        self.assertEqual(self.cli("invalidate", "shared", env=self.acme).text, "2\n")
        self.assertEqual(self.cli("get", "a").stdout, b"v", "the other tenant's tagged entry stays")
        self.cli("set", "c", "v", env=self.acme)
        self.assertEqual(self.cli("invalidate", "--pattern", "*").text, "1\n")
        self.assertEqual(self.cli("keys", env=self.acme).text.splitlines(), ["c"])
        self.cli("set", "d", "v")
        self.assertEqual(self.cli("flush", env=self.acme).text, "1\n")
        self.assertEqual(self.cli("keys").text.splitlines(), ["d"])

    def test_tenants_have_their_own_stats(self):
        self.cli("set", "a", "12345")
        self.cli("get", "a")
        self.cli("set", "b", "1", env=self.acme)
        self.cli("set", "c", "1", env=self.acme)
        self.cli("get", "missing", code=EXIT_MISS, env=self.acme)
        mine = self.totals()
        theirs = self.totals(env=self.acme)
        self.assertEqual((mine["entries"], mine["sets"], mine["hits"], mine["misses"], mine["raw_bytes"]),
                         (1, 1, 1, 0, 5))
        self.assertEqual((theirs["entries"], theirs["sets"], theirs["hits"], theirs["misses"], theirs["raw_bytes"]),
                         (2, 2, 0, 1, 2))
        everyone = self.stats("--all-tenants")
        self.assertEqual(everyone["totals"]["entries"], 3)
        self.assertEqual(everyone["tenants"]["acme"]["sets"], 2)
        self.assertEqual(everyone["tenants"]["default"]["sets"], 1)


class Persistence(StoreTest):

    def test_counters_survive_a_restart(self):
        daemon = self.start_daemon("store.max_entries=5")
        client = self.client()
        for i in range(8):
            client.call("set", {"key": f"k{i}", "tags": ["t"]}, b"value")
        client.call("get", {"key": "k7"})
        client.call("get", {"key": "nope"})
        client.call("del", {"keys": ["k7"]})
        client.call("invalidate", {"tags": ["t"], "pattern": "k6"})
        client.call("set", {"key": "brief", "ttl_ms": 50}, b"v")
        time.sleep(0.1)
        client.call("del", {"keys": ["brief"]})
        before = self.totals()
        self.assertEqual({k: before[k] for k in ("sets", "hits", "misses", "deletes", "invalidations", "evictions",
                                                 "expirations")},
                         {"sets": 9, "hits": 1, "misses": 1, "deletes": 1, "invalidations": 1, "evictions": 3,
                          "expirations": 1})
        self.stop_daemon(daemon)
        self.start_daemon("store.max_entries=5")
        after = self.totals()
        for name in FIGURES:
            self.assertEqual(after[name], before[name], f"{name} after a restart")
        self.cli("get", "k5")
        self.assertEqual(self.totals()["hits"], before["hits"] + 1, "counting goes on from the saved figures")

    def test_hit_counts_and_access_times_survive_a_restart(self):
        daemon = self.start_daemon()
        self.cli("set", "k", "v")
        for _ in range(3):
            self.cli("get", "k")
        before = self.cli_json("inspect", "k")["entry"]
        self.assertEqual(before["hits"], 3)
        self.stop_daemon(daemon)
        self.start_daemon()
        after = self.cli_json("inspect", "k")["entry"]
        self.assertEqual((after["hits"], after["access_ms"]), (3, before["access_ms"]))

    def test_stats_agree_with_the_database(self):
        daemon = self.start_daemon("store.compress_threshold=100")
        client = self.client()
        requests = []
        for i in range(300):
            value = (b"abc" * (i * 3)) if i % 2 else os.urandom(i)
            requests.append(("set", {"key": f"k{i}", "tenant": f"t{i % 3}", "tags": [f"g{i % 7}"],
                                     "layer": ["kv", "response", "run"][i % 3]}, value))
        harness.pipeline(client, requests)
        harness.pipeline(client, [("del", {"keys": [f"k{i}"], "tenant": f"t{i % 3}"}, b"") for i in range(0, 300, 5)])
        client.call("invalidate", {"tags": ["g3"], "tenant": "t1"})
        client.call("set", {"key": "k1", "tenant": "t1"}, b"replaced")
        shown = self.stats("--all-tenants")
        self.stop_daemon(daemon)
        db = self.database()
        rows = db.execute("SELECT tenant, count(*), sum(raw_size), sum(stored_size) FROM entries GROUP BY tenant")
        for tenant, entries, raw, stored in rows:
            figures = shown["tenants"][tenant]
            self.assertEqual((figures["entries"], figures["raw_bytes"], figures["stored_bytes"]),
                             (entries, raw, stored), tenant)
        total = db.execute("SELECT count(*), sum(raw_size), sum(stored_size) FROM entries").fetchone()
        self.assertEqual((shown["totals"]["entries"], shown["totals"]["raw_bytes"], shown["totals"]["stored_bytes"]),
                         total)
        orphans = db.execute("SELECT count(*) FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)").fetchone()
        self.assertEqual(orphans[0], 0, "tags never outlive their entries")
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertGreaterEqual(db.execute("PRAGMA user_version").fetchone()[0], 1, "the schema is versioned")

    def test_acknowledged_sets_survive_kill_9(self):
        daemon = self.start_daemon()
        client = self.client()
        rng = random.Random(20261122)
        values = {}
        for i in range(3000):
            kind = i % 4
            if kind == 0:
                value = rng.randbytes(rng.randrange(0, 64))
            elif kind == 1:
                value = f"answer {i} ".encode() * rng.randrange(1, 1000)  # above the compression threshold
            elif kind == 2:
                value = rng.randbytes(rng.randrange(1000, 20000))
            else:
                value = b"\x00" * rng.randrange(0, 10) + f"{i}".encode()
            values[f"durable:{i:05d}"] = value
        replies = harness.pipeline(client, [("set", {"key": k, "tags": ["d"]}, v) for k, v in values.items()])
        failed = [h for h, _ in replies if not h.get("ok")]
        self.assertEqual(failed, [], "every set is acknowledged")
        daemon.kill9()

        self.start_daemon()
        check = self.client()
        replies = harness.pipeline(check, [("get", {"key": k}, b"") for k in values])
        lost = [k for k, (h, _) in zip(values, replies) if not h.get("found")]
        self.assertEqual(lost, [], f"{len(lost)} acknowledged sets lost to kill -9")
        wrong = [k for k, (_, v) in zip(values, replies) if v != values[k]]
        self.assertEqual(wrong, [], "values changed across kill -9")
        self.assertEqual(self.totals()["entries"], 3000)
        self.assertEqual(self.cli("invalidate", "d").text, "3000\n", "the tags survived too")
        self.stop_daemon(self.daemons[-1])
        db = self.database()
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])


class Database(StoreTest):

    def test_a_graceful_stop_closes_the_database_cleanly(self):
        daemon = self.start_daemon("daemon.io_threads=3")
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"k{i}"}, b"v" * 100) for i in range(500)])
        client.call("get", {"key": "k1"})
        self.stop_daemon(daemon)
        folder = os.path.dirname(self.sandbox.database)
        leftovers = [name for name in os.listdir(folder) if name.endswith(("-wal", "-shm", "-journal"))]
        self.assertEqual(leftovers, [], "every connection was closed and the log checkpointed")
        db = self.database()
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        self.assertEqual(db.execute("SELECT count(*) FROM entries").fetchone()[0], 500)

    def test_a_hit_never_waits_for_a_stuck_write_and_a_set_is_acknowledged_only_after_commit(self):
        self.start_daemon()
        reader = self.client()
        reader.call("set", {"key": "k"}, b"v")
        # Another process holds the database's write lock: the daemon's one
        # writer cannot commit until it lets go.
        blocker = sqlite3.connect(self.sandbox.database, isolation_level=None, timeout=0)
        self.addCleanup(blocker.close)
        blocker.execute("BEGIN IMMEDIATE")
        writer = self.client()
        writer.send("set", {"key": "k2"}, b"v2")
        self.assertEqual(reader.call("get", {"key": "k"})[1], b"v", "a hit is served while the write waits")
        self.assertFalse(reader.call("exists", {"key": "k2"})[0]["found"], "nothing is visible before its commit")
        writer.sock.settimeout(1.0)
        with self.assertRaises(TimeoutError, msg="no acknowledgement before the commit"):
            writer.receive()
        writer.sock.settimeout(30)
        blocker.execute("COMMIT")
        header, _ = writer.receive()
        self.assertTrue(header["ok"], header)
        self.assertEqual(reader.call("get", {"key": "k2"})[1], b"v2")

    def test_a_database_from_a_newer_version_is_refused_with_a_clear_message(self):
        daemon = self.start_daemon()
        self.cli("set", "k", "v")
        self.stop_daemon(daemon)
        db = sqlite3.connect(self.sandbox.database)
        db.execute("PRAGMA user_version = 99")
        db.close()
        newer = self.start_daemon(wait=False)
        self.assertEqual(newer.wait_exit(), 1, newer.log_text())
        self.assertIn("schema version 99", newer.log_text(tail=None))
        self.assertFalse(os.path.exists(self.sandbox.socket))

    def test_acknowledged_sets_survive_kill_9_with_sync_full(self):
        daemon = self.start_daemon("daemon.sync=full")
        client = self.client()
        harness.pipeline(client, [("set", {"key": f"f{i}"}, f"value {i}".encode()) for i in range(300)])
        daemon.kill9()
        self.start_daemon("daemon.sync=full")
        replies = harness.pipeline(self.client(), [("get", {"key": f"f{i}"}, b"") for i in range(300)])
        self.assertEqual([v for _, v in replies], [f"value {i}".encode() for i in range(300)])


if __name__ == "__main__":
    unittest.main()
