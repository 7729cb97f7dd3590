"""Commands users bring from redis-cli and ccache: mget, ttl, expire, persist,
touch, set --nx / --xx and stats --reset, against a real omnicached."""

import subprocess
import time
import unittest

import harness
from harness import EXIT_MISS, EXIT_OK, EXIT_USAGE, IntegrationTest, wait_for
from redis_harness import TierTest


class WithDaemon(IntegrationTest):

    daemon_options = ()

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon(*self.daemon_options)

    def set(self, key, value, *args, code=EXIT_OK):
        data = value if isinstance(value, bytes) else value.encode()
        return self.cli("set", key, *args, input=data, code=code)

    def totals(self):
        return self.stats()["totals"]


class Mget(WithDaemon):

    def test_mget_prints_one_line_per_key_and_exits_1_when_any_is_missing(self):
        self.set("a", "1")
        self.set("b", "two\nlines")
        self.set("json", '{"q": "x"}')
        result = self.cli("mget", "a", "missing", "b", "json", code=EXIT_MISS)
        self.assertEqual(result.stdout, b'1\n\n"two\\nlines"\n{"q": "x"}\n',
                         "a miss is an empty line, a value with a newline is quoted with C escapes")
        self.assertEqual(self.cli("mget", "json", "a").stdout, b'{"q": "x"}\n1\n')

    def test_mget_json_gives_found_and_the_exact_values(self):
        self.set("b", "two\nlines\n")
        self.set("blob", b"\xff\x00bytes")
        out = self.cli_json("mget", "b", "missing", "blob", code=EXIT_MISS)
        self.assertEqual([item["key"] for item in out], ["b", "missing", "blob"])
        self.assertEqual([item["found"] for item in out], [True, False, True])
        self.assertEqual(out[0]["value"], "two\nlines\n")
        self.assertNotIn("value", out[1])
        self.assertEqual(out[2]["value_base64"], "/wBieXRlcw==")

    def test_mget_is_one_round_trip_counted_as_hits_and_misses(self):
        self.set("a", "1")
        self.set("b", "2")
        before = self.stats()
        self.cli("mget", "a", "b", "nope", code=EXIT_MISS)
        after = self.stats()
        self.assertEqual(after["totals"]["hits"] - before["totals"]["hits"], 2)
        self.assertEqual(after["totals"]["misses"] - before["totals"]["misses"], 1)
        self.assertEqual(after["operations"]["mget"]["count"], 1, "three keys, one request")
        self.assertNotIn("get", after["operations"])

    def test_mget_of_a_layer_misses_entries_of_other_layers(self):
        self.set("a", "1", "--layer", "response")
        self.set("b", "2")
        self.assertEqual(self.cli("mget", "--layer", "response", "a", "b", code=EXIT_MISS).stdout, b"1\n\n")


class Expiry(WithDaemon):

    def test_ttl_prints_seconds_left_or_minus_1_or_minus_2(self):
        self.set("short", "v", "--ttl", "10m")
        self.set("forever", "v", "--ttl", "never")
        self.assertIn(self.cli("ttl", "short").text.strip(), ("599", "600"))
        self.assertEqual(self.cli("ttl", "forever").text.strip(), "-1")
        self.assertEqual(self.cli("ttl", "missing", code=EXIT_MISS).text.strip(), "-2")
        millis = int(self.cli("ttl", "--ms", "short").text)
        self.assertTrue(590_000 < millis <= 600_000, millis)
        self.assertEqual(self.cli_json("ttl", "forever"), {"key": "forever", "found": True, "ttl_ms": None})
        self.assertEqual(self.cli_json("ttl", "missing", code=EXIT_MISS),
                         {"key": "missing", "found": False, "ttl_ms": None})

    def test_expire_gives_a_new_ttl_and_the_entry_then_expires(self):
        self.set("k", "value", "--ttl", "never", "--tag", "t")
        # Long enough for the two reads below to come first on a slow
        # (sanitized, loaded) machine; 1 s was not.
        result = self.cli("expire", "k", "4s")
        self.assertEqual(result.stdout, b"")
        self.assertIn(self.cli("ttl", "k").text.strip(), ("2", "3", "4"))
        self.assertEqual(self.cli("get", "k").stdout, b"value", "expire keeps the value")
        wait_for(lambda: self.run_cli("get", "k").code == EXIT_MISS, message="k to expire after expire 4s")
        wait_for(lambda: self.totals()["entries"] == 0, message="the sweep to remove k")
        self.assertEqual(self.totals()["expirations"], 1)

    def test_expire_can_lengthen_a_ttl(self):
        self.set("k", "v", "--ttl", "1m")
        self.cli("expire", "k", "2h")
        self.assertTrue(7190 <= int(self.cli("ttl", "k").text) <= 7200)
        self.assertEqual(self.cli_json("expire", "k", "90s")["ttl_ms"], 90_000)

    def test_persist_removes_the_expiry(self):
        self.set("k", "v", "--ttl", "3s")  # long enough for persist to come first on a slow machine
        self.assertEqual(self.cli("persist", "k").stdout, b"")
        self.assertEqual(self.cli("ttl", "k").text.strip(), "-1")
        self.assertIsNone(self.cli_json("inspect", "k")["entry"]["expires_ms"])
        time.sleep(3.5)  # past the old TTL: the entry must still be there
        self.assertEqual(self.cli("get", "k").stdout, b"v")

    def test_expire_and_persist_of_a_missing_key_exit_1_and_say_so(self):
        for args in (("expire", "missing", "10s"), ("persist", "missing")):
            result = self.cli(*args, code=EXIT_MISS)
            self.assertEqual(result.stdout, b"")
            self.assertIn("not found: missing", result.stderr)
        self.assertEqual(self.cli_json("persist", "missing", code=EXIT_MISS)["found"], False)
        self.set("gone", "v", "--ttl", "1s")
        wait_for(lambda: self.run_cli("get", "gone").code == EXIT_MISS, message="gone to expire")
        self.cli("persist", "gone", code=EXIT_MISS)
        self.cli("get", "gone", code=EXIT_MISS)

    def test_expire_refuses_a_duration_of_zero_or_garbage(self):
        self.set("k", "v")
        for duration in ("0", "never", "soon"):
            result = self.cli("expire", "k", duration, code=EXIT_USAGE)
            self.assertIn(duration, result.stderr)
        self.assertIn("persist", self.cli("expire", "k", "0", code=EXIT_USAGE).stderr)


class Touch(WithDaemon):

    daemon_options = ("store.max_entries=2",)

    def test_touch_prints_how_many_keys_exist(self):
        self.set("a", "1")
        self.set("b", "2")
        self.assertEqual(self.cli("touch", "a", "b", "missing").text.strip(), "2")
        self.assertEqual(self.cli_json("touch", "missing"), {"touched": 0})

    def test_touch_moves_the_last_access_but_not_the_hits(self):
        self.set("a", "1")
        before = self.cli_json("inspect", "a")["entry"]
        time.sleep(0.05)  # so that the touch's millisecond differs from the write's
        self.cli("touch", "a")
        after = self.cli_json("inspect", "a")["entry"]
        self.assertGreater(after["access_ms"], before["access_ms"])
        self.assertEqual(after["hits"], 0)
        self.assertEqual(self.totals()["hits"], 0)

    def test_a_touched_entry_is_evicted_after_the_others(self):
        self.set("a", "1")
        self.set("b", "2")
        time.sleep(0.05)
        self.cli("touch", "a")
        self.set("c", "3")  # over max_entries: the least recently used goes
        self.cli("get", "a")
        self.cli("get", "b", code=EXIT_MISS)


class ConditionalSet(WithDaemon):

    def test_set_nx_stores_only_when_the_key_is_absent(self):
        self.set("k", "first", "--nx")
        result = self.set("k", "second", "--nx", code=EXIT_MISS)
        self.assertIn("not stored: k already exists", result.stderr)
        self.assertEqual(self.cli("get", "k").stdout, b"first")
        self.assertEqual(self.totals()["sets"], 1)
        self.assertEqual(self.cli_json("set", "k", "third", "--nx", code=EXIT_MISS)["stored"], False)

    def test_set_xx_stores_only_when_the_key_is_present(self):
        result = self.set("k", "v", "--xx", code=EXIT_MISS)
        self.assertIn("not stored: k does not exist", result.stderr)
        self.cli("get", "k", code=EXIT_MISS)
        self.set("k", "old")
        out = self.cli_json("set", "k", "new", "--xx")
        self.assertEqual((out["stored"], out["replaced"]), (True, True))
        self.assertEqual(self.cli("get", "k").stdout, b"new")

    def test_set_nx_over_an_expired_entry_stores(self):
        self.set("k", "old", "--ttl", "1s")
        wait_for(lambda: self.run_cli("get", "k").code == EXIT_MISS, message="k to expire")
        self.set("k", "new", "--nx")
        self.assertEqual(self.cli("get", "k").stdout, b"new")

    def test_nx_and_xx_together_are_refused(self):
        self.set("k", "v", "--nx", "--xx", code=EXIT_USAGE)
        self.cli("get", "k", code=EXIT_MISS)

    def test_clients_racing_set_nx_on_one_key_exactly_one_wins(self):
        for round_ in range(3):
            key = f"race{round_}"
            processes = [subprocess.Popen([harness.CLI, "set", key, f"client{i}", "--nx"],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env=self.sandbox.environment(), cwd=self.sandbox.root)
                         for i in range(8)]
            codes = []
            for i, process in enumerate(processes):
                process.communicate(timeout=harness.COMMAND_TIMEOUT)
                codes.append(process.returncode)
            self.assertEqual(sorted(codes), [EXIT_OK] + [EXIT_MISS] * 7, codes)
            winner = codes.index(EXIT_OK)
            self.assertEqual(self.cli("get", key).stdout, f"client{winner}".encode())

    def test_mset_only_present_skips_missing_keys(self):
        self.set("a", "old")
        client = self.client()
        header, _ = client.call("mset", {"entries": [{"key": "a", "size": 3}, {"key": "b", "size": 3}],
                                         "only_present": True}, b"newnew")
        self.assertEqual((header["stored"], header["skipped"]), (1, 1))
        self.assertEqual(self.cli("get", "a").stdout, b"new")
        self.cli("get", "b", code=EXIT_MISS)


class StatsReset(WithDaemon):

    def use_the_cache(self):
        self.set("a", "1")
        self.set("b", "2", "--layer", "response")
        self.cli("get", "a")
        self.cli("get", "missing", code=EXIT_MISS)

    def test_reset_zeroes_the_counters_and_keeps_the_entries(self):
        self.use_the_cache()
        before = self.stats()
        self.assertEqual((before["totals"]["hits"], before["totals"]["misses"], before["totals"]["sets"]), (1, 1, 2))
        result = self.cli("stats", "--reset")
        self.assertIn("Statistics zeroed for tenant default", result.text)
        self.assertIn("2 entries kept", result.text)
        after = self.stats()
        for name in ("hits", "misses", "sets", "deletes", "expirations", "evictions", "invalidations"):
            self.assertEqual(after["totals"][name], 0, name)
            self.assertEqual(after["layers"]["response"][name], 0, name)
        self.assertEqual(after["totals"]["entries"], 2)
        self.assertEqual(after["totals"]["raw_bytes"], before["totals"]["raw_bytes"])
        self.assertNotIn("get", after["operations"], "latencies start again")
        self.assertLess(after["server"]["requests"], before["server"]["requests"])
        self.assertEqual(self.cli("get", "a").stdout, b"1")
        self.assertEqual(self.totals()["hits"], 1, "counting goes on after the reset")

    def test_a_reset_survives_a_restart_of_the_daemon(self):
        self.use_the_cache()
        self.cli("stats", "-z")
        self.stop_daemon(self.daemon)
        self.daemon = self.start_daemon()
        totals = self.totals()
        self.assertEqual((totals["hits"], totals["misses"], totals["sets"], totals["entries"]), (0, 0, 0, 2))

    def test_reset_of_one_tenant_leaves_the_others(self):
        self.use_the_cache()
        self.cli("--tenant", "other", "set", "x", "1")
        out = self.cli_json("stats", "--reset")
        self.assertEqual(out, {"reset": True, "tenant": "default", "entries": 2})
        self.assertEqual(self.totals()["sets"], 0)
        self.assertEqual(self.cli_json("--tenant", "other", "stats")["totals"]["sets"], 1)
        self.cli("stats", "--reset", "--all-tenants")
        self.assertEqual(self.cli_json("--tenant", "other", "stats")["totals"]["sets"], 0)
        self.assertEqual(self.cli_json("--tenant", "other", "stats")["totals"]["entries"], 1)


class SharedTierExpiry(TierTest):
    """A new TTL reaches Redis and the other daemons' copies."""

    def test_expire_and_persist_on_one_daemon_reach_another(self):
        a, b = self.start_node("a"), self.start_node("b")
        value = f"doc {self.prefix}"
        a.set("doc", value, ttl_ms=0, tags=["t"])
        self.wait_in_redis(value)
        hit, got = b.get("doc")
        self.assertEqual((hit.get("tier"), hit["expires_ms"], got), ("L2", None, value.encode()))
        self.assertIsNotNone(b.inspect("doc"), "b holds a copy, without expiry")

        header, _ = a.call("expire", {"key": "doc", "ttl_ms": 600_000})
        self.assertEqual((header["found"], header["ttl_ms"]), (True, 600_000))
        # b drops its copy once Redis has the entry with its TTL, and reads it again.
        wait_for(lambda: b.get("doc")[0].get("expires_ms") is not None, message="b to see the new TTL")
        copy = b.inspect("doc")
        self.assertTrue(0 < copy["ttl_ms"] <= 600_000, copy)
        self.assertEqual((copy["tags"], b.get("doc")[1]), (["t"], value.encode()), "the entry is otherwise the same")

        a.call("expire", {"key": "doc", "ttl_ms": 0})
        wait_for(lambda: b.get("doc")[0].get("expires_ms") is None, message="b to see the expiry removed")


if __name__ == "__main__":
    unittest.main()
