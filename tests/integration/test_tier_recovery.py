"""The shared tier when things go wrong: Redis killed in the middle of a
load, absent from the start, restarted empty; a daemon stopped while another
invalidates, or away for longer than the invalidation log reaches back, or
stopped with removals Redis has not received yet. No
request fails, nothing acknowledged is lost from the local tier, and nothing
invalidated is served afterwards."""

import os

import harness
from harness import pipeline, wait_for
from redis_harness import TierTest


class Outage(TierTest):
    """Redis with an append-only file synced at every write, so that it keeps
    its data across the SIGKILL."""

    persistent = True
    ops = 2000

    def test_redis_killed_during_a_load_costs_no_request_and_the_queue_drains(self):
        a = self.start_node("a")
        b = self.start_node("b")
        wait_for(lambda: a.tier()["connected"], message="a to connect to Redis")
        client = a.client()
        acknowledged = {}
        kill_at, restart_at = self.ops // 3, 2 * self.ops // 3
        for i in range(self.ops):
            if i == kill_at:
                self.redis.kill9()
            elif i == restart_at:
                tier = a.tier()
                self.assertEqual(tier["connected"], False, tier)
                self.assertGreater(tier["queued"], 0, f"writes wait for Redis during the outage: {tier}")
                self.redis.restart()
            if i % 2 == 0:
                key = f"load:{i}"
                value = f"{key} {self.prefix}"
                client.call("set", {"key": key, "tags": ["load"]}, value.encode())
                acknowledged[key] = value
            elif i % 50 == 1:
                header, _ = client.call("get", {"key": f"never:{i}"})
                self.assertFalse(header["found"], f"op {i}: {header}")
            else:
                key = f"load:{max(0, i - 1 - 2 * (i % 7))}"
                header, got = client.call("get", {"key": key})
                self.assertEqual(got, acknowledged[key].encode(), f"op {i}: {header}")
        tier = self.wait_tier(a, lambda t: t["connected"] and t["queued"] == 0, "a to reconnect and drain its queue")
        self.assertGreaterEqual(tier["outages"], 1, tier)
        self.assertEqual((tier["dropped"], tier["resyncs"]), (0, 0), tier)

        replies = pipeline(client, [("get", {"key": key}, b"") for key in acknowledged])
        for key, (header, got) in zip(acknowledged, replies):
            self.assertEqual((header.get("ok"), got), (True, acknowledged[key].encode()), f"{key} on a: {header}")
        last = list(acknowledged.values())[-1]
        self.wait_in_redis(last, message="the last write to reach Redis")
        replies = pipeline(b.client(), [("get", {"key": key}, b"") for key in acknowledged])
        misses = [key for key, (header, _) in zip(acknowledged, replies) if not header.get("found")]
        self.assertEqual(misses, [], f"{len(misses)} of {len(acknowledged)} writes of a never reached b")
        for key, (header, got) in zip(acknowledged, replies):
            self.assertEqual(got, acknowledged[key].encode(), key)
        harness.report(f"tier outage: {self.ops} ops, a's tier stats after the outage: {tier}")


class Restarts(TierTest):
    """A daemon stopped while another invalidates does not serve what was
    invalidated once it runs again."""

    persistent = True

    def setUp(self):
        super().setUp()
        self.a = self.start_node("a", log_length=100)
        self.b = self.start_node("b", log_length=100)

    def set_on_a(self, *keys):
        values = [f"{key} {self.prefix}" for key in keys]
        for key, value in zip(keys, values):
            self.a.set(key, value, tags=[key])
        self.wait_in_redis(*values)
        return values

    def assert_not_served_after_restart(self, key):
        """The first read once the daemon answers again: it must not be the
        entry invalidated while it was away."""
        miss, _ = self.a.get(key)
        self.assertFalse(miss["found"], f"the invalidated entry was served after the restart: {miss}")

    def follow_one_invalidation(self):
        """Has a read a record of the log, so that it has a place in it."""
        self.b.call("del", {"keys": ["nothing"]})
        self.wait_tier(self.a, lambda t: t["invalidations_applied"] >= 1, "a to read b's first invalidation")

    def test_a_restarted_daemon_applies_the_invalidations_it_missed(self):
        stale, kept = self.set_on_a("stale", "kept")
        self.follow_one_invalidation()
        self.a.stop()
        self.b.call("invalidate", {"tags": ["stale"]})
        self.wait_gone_from_redis(stale)
        self.restart_node(self.a)
        self.assert_not_served_after_restart("stale")
        self.assertIsNone(self.a.inspect("stale"))
        hit, got = self.a.get("kept")
        self.assertEqual((hit.get("tier"), got), ("L1", kept.encode()), "entries the log did not touch stay local")
        self.assertEqual(self.a.tier()["resyncs"], 0)

    def miss_more_than_the_log_keeps(self):
        stale, kept = self.set_on_a("stale", "kept")
        self.a.stop()
        self.b.call("invalidate", {"tags": ["stale"]})
        others = [{"key": f"other:{i}", "size": 1} for i in range(500)]
        self.assertEqual(self.b.call("mset", {"entries": others}, b"o" * len(others))[0]["stored"], len(others))
        pipeline(self.b.client(), [("del", {"keys": [entry["key"]]}, b"") for entry in others])
        self.wait_gone_from_redis(stale)
        wait_for(lambda: not any(b"stale" in record for record in self.redis.stream_records(f"{self.prefix}log")),
                 message="the invalidation log to be trimmed past the first invalidation")
        self.restart_node(self.a)
        self.assert_not_served_after_restart("stale")
        tier = self.wait_tier(self.a, lambda t: t["resyncs"] >= 1, "a to count a resync")
        self.assertIsNone(self.a.inspect("kept"), f"a resync drops the local entries: {tier}")
        hit, got = self.a.get("kept")
        self.assertEqual((hit.get("tier"), got), ("L2", kept.encode()), "what Redis still has is read again")

    def test_a_daemon_that_missed_more_than_the_log_keeps_drops_its_entries(self):
        self.follow_one_invalidation()
        self.miss_more_than_the_log_keeps()

    def test_a_daemon_that_never_read_the_log_and_missed_more_than_it_keeps_drops_its_entries(self):
        self.miss_more_than_the_log_keeps()

    def test_a_daemon_drops_its_entries_when_its_place_in_the_log_is_gone(self):
        (local,) = self.set_on_a("local")
        self.follow_one_invalidation()
        self.a.stop()
        self.redis.call("DEL", f"{self.prefix}log")  # an operator, or an eviction
        self.b.call("del", {"keys": ["nothing"]})    # a new log, without what came before
        self.restart_node(self.a)
        self.assertIsNone(self.a.inspect("local"), "a resync drops the local entries")
        self.assertEqual(self.a.tier()["resyncs"], 1)

    def test_a_daemon_drops_its_entries_when_redis_lost_its_data_meanwhile(self):
        (local,) = self.set_on_a("local")
        self.a.stop()
        self.redis.stop()
        self.redis.wipe()
        self.redis.restart()
        self.restart_node(self.a)
        tier = self.wait_tier(self.a, lambda t: t["resyncs"] >= 1, "a to count a resync")
        self.assertIsNone(self.a.inspect("local"), f"a resync drops the local entries: {tier}")
        self.assertFalse(self.a.found("local"))


class StoppedWithAQueue(TierTest):
    """A daemon stopped while Redis is away keeps what it could not send in
    DATABASE.tier-outbox, and sends it first when it starts again."""

    persistent = True

    def outbox(self, node):
        return node.database + ".tier-outbox"

    def test_an_invalidation_queued_at_stop_reaches_the_other_daemons_after_the_restart(self):
        a = self.start_node("a", connect_timeout="200ms")
        b = self.start_node("b", connect_timeout="200ms")
        stale, old, new = (f"{name} {self.prefix}" for name in ("stale", "old", "new"))
        a.set("stale", stale, tags=["t"])
        a.set("w", old)
        self.wait_in_redis(stale, old)
        hit, _ = b.get("stale")
        self.assertEqual(hit.get("tier"), "L2", hit)
        wait_for(lambda: b.inspect("stale") is not None, message="b to keep its copy of stale")

        self.redis.stop()
        self.assertEqual(a.call("invalidate", {"tags": ["t"]})[0]["removed"], 1)
        # Its value is not sent later, but Redis must not keep the old one: a
        # delete of the key, and the record telling others to drop their copies.
        a.set("w", new)
        a.stop()
        self.assertTrue(os.path.exists(self.outbox(a)), "what a could not send is kept")
        self.assertIn(f"3 writes and invalidations did not reach Redis before stopping; kept in {self.outbox(a)}",
                      a.daemon.log_text())

        self.redis.restart()
        self.assertIsNotNone(b.inspect("stale"), "nothing has told b yet")
        a.start()
        miss, _ = a.get("stale")
        self.assertFalse(miss["found"], f"a read back from Redis what it had removed: {miss}")
        self.wait_gone_from_redis(stale, old, message="a's removal and delete to reach Redis")
        self.assertEqual(self.redis.keys_holding(new), {new: []}, "a write's value is not sent after a restart")
        wait_for(lambda: b.inspect("stale") is None, message="b to apply a's invalidation")
        self.assertFalse(b.found("w"), "b misses w rather than read the value a replaced")
        wait_for(lambda: not os.path.exists(self.outbox(a)), message="the outbox file to go once Redis has it all")
        tier = self.wait_tier(a, lambda t: t["queued"] == 0, "a to drain its queue")
        # Sent: the removal and the overwrite's record; the delete of w is neither.
        self.assertEqual((tier["invalidations_sent"], tier["invalidations_applied"], tier["resyncs"]), (2, 0, 0),
                         f"a sent its records and did not take them for another daemon's: {tier}")
        self.assertIn("3 writes and invalidations left by the last run are queued for Redis", a.daemon.log_text())
        self.assertEqual(a.get("w")[1], new.encode(), "a keeps its own value")

    def test_an_outbox_file_that_cannot_be_read_is_set_aside_and_the_daemon_starts(self):
        node_folder = os.path.join(self.sandbox.root, "a")
        os.makedirs(node_folder)
        path = os.path.join(node_folder, "cache.db.tier-outbox")
        with open(path, "wb") as f:
            f.write(b"*4\r\n$21\r\nomnicache-tier-outbox\r\n$1\r\n1\r\n$3\r\npre")  # cut short
        a = self.start_node("a")
        self.assertIn(f"{path} is not an outbox file: cut short after 0 complete values; set aside as {path}.broken",
                      a.daemon.log_text())
        self.assertFalse(os.path.exists(path))
        with open(path + ".broken", "rb") as f:
            self.assertTrue(f.read().startswith(b"*4"), "the file is kept as it was")
        a.set("k", "v")
        self.assertEqual(a.get("k")[1], b"v")

    def test_an_outbox_left_for_another_prefix_is_not_sent(self):
        self.redis.stop()
        a = self.start_node("a", connect_timeout="200ms")
        a.call("del", {"keys": ["k"]})
        a.stop()
        self.assertTrue(os.path.exists(self.outbox(a)))
        self.redis.restart()
        a.options.append("tier.redis.prefix=elsewhere:")
        a.start()
        self.assertIn(f"{self.outbox(a)} was left for prefix '{self.prefix}', and tier.redis.prefix is now "
                      "'elsewhere:': not sent, removed", a.daemon.log_text())
        self.assertFalse(os.path.exists(self.outbox(a)))
        self.assertEqual(a.tier()["queued"], 0)


class RedisAbsent(TierTest):

    def test_without_redis_every_request_is_served_locally_then_the_queue_drains(self):
        self.redis.stop()
        a = self.start_node("a", connect_timeout="200ms")
        value = f"local {self.prefix}"
        a.set("k", value, tags=["t"])
        hit, got = a.get("k")
        self.assertEqual((hit.get("tier"), got), ("L1", value.encode()), hit)
        self.assertFalse(a.found("absent"))
        self.assertEqual(a.call("invalidate", {"tags": ["none"]})[0]["removed"], 0)
        tier = a.tier()
        self.assertEqual((tier["enabled"], tier["connected"]), (True, False), tier)
        self.assertGreaterEqual(tier["queued"], 1, "the write waits for Redis")

        self.redis.restart()
        tier = self.wait_tier(a, lambda t: t["connected"] and t["queued"] == 0, "a to connect and drain its queue")
        self.wait_in_redis(value)
        b = self.start_node("b")
        hit, got = b.get("k")
        self.assertEqual((hit.get("tier"), got), ("L2", value.encode()), hit)

    def test_a_write_that_expired_while_queued_is_not_served_from_redis(self):
        self.redis.stop()
        a = self.start_node("a", connect_timeout="200ms")
        short, marker = f"short-lived {self.prefix}", f"after it {self.prefix}"
        a.set("short", short, ttl_ms=2000)
        a.set("marker", marker)
        wait_for(lambda: a.inspect("short") is None, message="the entry to expire on a")
        self.redis.restart()
        self.wait_in_redis(marker, message="a's queue to reach Redis")
        b = self.start_node("b")
        miss, _ = b.get("short")
        self.assertFalse(miss["found"], f"an entry that expired before it reached Redis was served: {miss}")

    def test_past_the_queue_limit_the_oldest_writes_are_dropped_and_counted(self):
        self.redis.stop()
        a = self.start_node("a", connect_timeout="200ms", queue=5)
        values = {i: f"q{i} {self.prefix}" for i in range(23)}
        for i in range(20):
            a.set(f"q:{i}", values[i])
        a.call("del", {"keys": ["q:19"]})
        for i in range(20, 23):
            a.set(f"q:{i}", values[i])
        self.assertEqual(a.get("q:0")[1], values[0].encode(), "a still has every entry itself")
        tier = a.tier()
        # 24 writes, 5 values at most: the 19 oldest keep only a delete of
        # their key, so that Redis holds no older value of it.
        self.assertEqual((tier["queued"], tier["dropped"]), (24, 19), tier)

        self.redis.restart()
        self.wait_in_redis(*(values[i] for i in range(20, 23)))
        self.wait_tier(a, lambda t: t["queued"] == 0, "a to drain its queue")
        found = self.redis.keys_holding(values[0], values[18], values[19])
        self.assertEqual(found, {values[0]: [], values[18]: [], values[19]: []},
                         "the oldest writes were dropped, and the deletion queued after q:19 was kept")


class RefusedWrites(TierTest):

    def test_writes_redis_refuses_for_now_are_sent_again_later(self):
        a = self.start_node("a")
        self.redis.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        self.redis.call("CONFIG", "SET", "maxmemory", "1")  # XADD refused with OOM
        a.call("del", {"keys": ["other"]})
        value = f"behind the refused one {self.prefix}"
        a.set("k", value)
        self.wait_tier(a, lambda t: t["retries"] >= 2 and t["queued"] == 2,
                       "a to keep the refused invalidation, and what follows it, queued and retried")
        self.assertEqual(a.tier()["invalidations_sent"], 0)

        self.redis.call("CONFIG", "SET", "maxmemory", "0")
        tier = self.wait_tier(a, lambda t: t["queued"] == 0, "a to send its writes again")
        self.assertEqual((tier["mirrored"], tier["invalidations_sent"], tier["dropped"]), (1, 1, 0), tier)
        b = self.start_node("b")
        hit, got = b.get("k")
        self.assertEqual((hit.get("tier"), got), ("L2", value.encode()), hit)
