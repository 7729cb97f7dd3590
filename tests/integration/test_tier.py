"""The shared tier: daemons, each with its own database, that share one real
Redis. An entry written on one daemon is a hit on another (first from Redis,
then from its own database); invalidations reach every daemon; tenants stay
apart; stats, `--status` and the proxy say where a hit came from; a bad url
is refused. test_tier_recovery covers outages and restarts."""

import http.client
import json
import os
import time

import harness
from fake_llm import FakeLLM
from harness import EXIT_MISS, EXIT_USAGE, IntegrationTest, wait_for
from redis_harness import TierTest

TIER_COUNTERS = ("l1_hits", "l2_hits", "l2_misses", "l2_errors", "mirrored", "queued", "dropped", "retries",
                 "outages", "invalidations_sent", "invalidations_applied", "resyncs")


class Sharing(TierTest):

    def setUp(self):
        super().setUp()
        self.a = self.start_node("a")
        self.b = self.start_node("b")

    def test_an_entry_set_on_one_daemon_is_an_l2_hit_then_an_l1_hit_on_another(self):
        value = f"the answer {self.prefix}"
        meta = {"model": "gpt-4o", "prompt_tokens": 3, "note": "é"}
        before_set = time.monotonic()
        self.a.set("doc:1", value, layer="response", ttl_ms=600_000, tags=["team:y", "project:x"], meta=meta,
                   deps=["src:readme"])
        own, _ = self.a.get("doc:1")
        self.assertEqual(own.get("tier"), "L1", own)
        written = self.a.inspect("doc:1")
        self.wait_in_redis(value)
        # Longer than the write took from a's commit to Redis.
        transit_ms = (time.monotonic() - before_set) * 1000
        self.assertIsNone(self.b.inspect("doc:1"), "b has not read it yet")

        hit, got = self.b.get("doc:1")
        self.assertTrue(hit["found"], hit)
        self.assertEqual((got, hit.get("tier"), hit["layer"], hit.get("meta")),
                         (value.encode(), "L2", "response", meta))
        # Redis counts the TTL it is given from when the write reaches it,
        # after a computed it (a fraction of a millisecond, more on a loaded
        # machine: at most transit_ms); both clocks tick in whole milliseconds.
        self.assertLessEqual(hit["expires_ms"], written["expires_ms"] + transit_ms + 2,
                             "the copy expires no later than the entry did in Redis")
        self.assertGreater(hit["expires_ms"], written["expires_ms"] - 60_000, "the copy keeps what is left of the TTL")
        copy = self.b.inspect("doc:1")
        self.assertIsNotNone(copy, "an L2 hit is copied into the daemon's own database")
        self.assertEqual((copy["layer"], copy["tags"], copy["meta"], copy["deps"]),
                         ("response", ["project:x", "team:y"], meta, written["deps"]))
        self.assertGreater(copy["ttl_ms"], 0)
        self.assertEqual(copy["expires_ms"], hit["expires_ms"], f"copy {copy}, hit {hit}")

        again, got = self.b.get("doc:1")
        self.assertEqual((again["found"], again.get("tier"), got), (True, "L1", value.encode()), again)

    def test_an_overwrite_on_one_daemon_replaces_the_copy_on_another(self):
        first, second = f"first {self.prefix}", f"second {self.prefix}"
        self.a.set("doc:2", first)
        self.wait_in_redis(first)
        self.assertEqual(self.b.get("doc:2")[1], first.encode())
        self.assertEqual(self.b.get("doc:2")[0].get("tier"), "L1", "b holds a copy")

        self.a.set("doc:2", second)
        # b drops its copy once Redis has the new value, and reads that one.
        wait_for(lambda: self.b.get("doc:2")[1] == second.encode(), message="b to serve the new value")
        self.assertFalse(self.redis.holds(first), "Redis keeps only the new value")

    def test_entries_of_mset_are_shared_and_get_or_lease_reads_redis(self):
        values = [f"first {self.prefix}", f"second {self.prefix}"]
        entries = [{"key": "m:1", "size": len(values[0]), "tags": ["batch"]},
                   {"key": "m:2", "size": len(values[1]), "ttl_ms": 600_000}]
        self.assertEqual(self.a.call("mset", {"entries": entries}, "".join(values).encode())[0]["stored"], 2)
        self.wait_in_redis(*values)
        leased, got = self.b.call("get_or_lease", {"key": "m:1", "wait_ms": 1000})
        self.assertEqual((leased["found"], leased.get("tier"), got), (True, "L2", values[0].encode()), leased)
        self.assertFalse(leased.get("lease", False), "a hit in Redis grants no lease")
        self.assertEqual(self.b.inspect("m:1")["tags"], ["batch"])
        hit, got = self.b.get("m:2")
        self.assertEqual((hit.get("tier"), got), ("L2", values[1].encode()), hit)

    def test_a_copied_semantic_entry_is_found_by_its_key_never_by_meaning(self):
        question, other_words = "What is the capital of France?", "Which city is the capital of France?"
        answer = f"Paris {self.prefix}"
        ask = ("semantic", "get", "--model", "gpt-4o", "--threshold", "0.5", "--status")
        self.a.cli("semantic", "set", "--model", "gpt-4o", question, answer)
        self.assertRegex(self.a.cli(*ask, other_words).stderr, r"^SEMANTIC ", "the question matches on a by meaning")
        key = self.a.cli(*ask, question).stderr.split()[1]
        self.wait_in_redis(answer)
        hit, got = self.b.get(key)
        self.assertEqual((hit.get("tier"), hit["layer"], got), ("L2", "semantic", answer.encode()), hit)
        self.assertEqual(self.b.cli(*ask, other_words, code=EXIT_MISS).stderr.split()[0], "MISS",
                         "b's semantic index has only what b wrote")
        exact = self.b.cli(*ask, question)
        self.assertEqual((exact.stdout, exact.stderr), (answer.encode(), f"HIT_L1 {key}\n"), exact.describe())

    def test_a_tenant_never_reads_another_tenants_entries_through_redis(self):
        x, y = f"x's value {self.prefix}", f"y's value {self.prefix}"
        self.a.set("shared", x, tenant="x")
        self.wait_in_redis(x)
        for tenant in ("y", "default"):
            miss, _ = self.b.get("shared", tenant=tenant)
            self.assertFalse(miss["found"], f"tenant {tenant} read tenant x's entry: {miss}")
        hit, got = self.b.get("shared", tenant="x")
        self.assertEqual((hit.get("tier"), got), ("L2", x.encode()), hit)

        self.a.set("shared", y, tenant="y")
        self.wait_in_redis(y)
        hit, got = self.b.get("shared", tenant="y")
        self.assertEqual((hit.get("tier"), got), ("L2", y.encode()), hit)
        hit, got = self.b.get("shared", tenant="x")
        self.assertEqual((hit.get("tier"), got), ("L1", x.encode()), hit)
        for key in self.redis.keys():
            self.assertTrue(key.startswith(self.prefix.encode()), f"{key!r} is outside the prefix {self.prefix}")


class Invalidation(TierTest):
    """Entries written on a, invalidated on b: gone from a's own database
    within a bounded wait, gone from b and from Redis; the others stay."""

    def setUp(self):
        super().setUp()
        self.a = self.start_node("a")
        self.b = self.start_node("b")

    def value(self, key, tenant="default"):
        return f"{tenant}/{key} {self.prefix}"

    def spread(self, entries):
        """Sets each (key, fields) on a, waits until Redis has them all, and
        has b read the first, so that b's database holds one of them too."""
        for key, fields in entries:
            self.a.set(key, self.value(key, fields.get("tenant", "default")), **fields)
        self.wait_in_redis(*(self.value(key, fields.get("tenant", "default")) for key, fields in entries))
        key, fields = entries[0]
        tenant = {"tenant": fields["tenant"]} if "tenant" in fields else {}
        self.assertEqual(self.b.get(key, **tenant)[0].get("tier"), "L2")

    def assert_gone_everywhere(self, gone, kept):
        for key, tenant in gone:
            self.assertFalse(self.b.found(key, tenant=tenant), f"{tenant}/{key} read again on b after its removal")
        for key, tenant in gone:
            wait_for(lambda: not self.a.found(key, tenant=tenant), timeout=harness.WAIT,
                     message=f"{tenant}/{key} to leave a")
            self.assertIsNone(self.a.inspect(key, tenant=tenant))
            self.assertFalse(self.b.found(key, tenant=tenant), f"{tenant}/{key} still on b")
        self.wait_gone_from_redis(*(self.value(key, tenant) for key, tenant in gone))
        for key, tenant in kept:
            hit, got = self.a.get(key, tenant=tenant)
            self.assertEqual((hit.get("tier"), got), ("L1", self.value(key, tenant).encode()),
                             f"{tenant}/{key} should have stayed on a: {hit}")
            self.assertTrue(self.redis.holds(self.value(key, tenant)), f"{tenant}/{key} should have stayed in Redis")
        applied = self.a.tier()["invalidations_applied"]
        self.assertGreaterEqual(applied, 1, "a counts the invalidations it applied from the log")
        self.assertGreaterEqual(self.b.tier()["invalidations_sent"], 1)

    def test_by_tag(self):
        self.spread([("t1", {"tags": ["red"]}), ("t2", {"tags": ["red", "blue"]}), ("t3", {"tags": ["blue"]})])
        self.b.call("invalidate", {"tags": ["red"]})
        self.assert_gone_everywhere([("t1", "default"), ("t2", "default")], [("t3", "default")])

    def test_by_dependency(self):
        self.spread([("d1", {"deps": ["doc:7"]}), ("d2", {"deps": ["doc:7", "doc:8"]}), ("d3", {"deps": ["doc:8"]})])
        self.b.call("invalidate", {"deps": ["doc:7"]})
        self.assert_gone_everywhere([("d1", "default"), ("d2", "default")], [("d3", "default")])

    def test_by_pattern(self):
        self.spread([("user:1", {}), ("user:2", {}), ("group:1", {})])
        self.b.call("invalidate", {"pattern": "user:*"})
        self.assert_gone_everywhere([("user:1", "default"), ("user:2", "default")], [("group:1", "default")])

    def test_by_layer(self):
        self.spread([("r1", {"layer": "response"}), ("r2", {"layer": "response"}), ("k1", {})])
        self.b.call("invalidate", {"layer": "response"})
        self.assert_gone_everywhere([("r1", "default"), ("r2", "default")], [("k1", "default")])

    def test_by_key(self):
        self.spread([("k1", {}), ("k2", {}), ("k3", {})])
        self.b.call("del", {"keys": ["k1", "k2"]})
        self.assert_gone_everywhere([("k1", "default"), ("k2", "default")], [("k3", "default")])

    def test_flush_of_a_tenant(self):
        self.spread([("f1", {"tenant": "x"}), ("f2", {"tenant": "x"}), ("f1", {"tenant": "y"})])
        self.b.call("flush", {"tenant": "x"})
        self.assert_gone_everywhere([("f1", "x"), ("f2", "x")], [("f1", "y")])

    def test_flush_of_all_tenants(self):
        self.spread([("f1", {"tenant": "x"}), ("f2", {"tenant": "y"}), ("f3", {})])
        self.b.call("flush", {"all_tenants": True})
        self.assert_gone_everywhere([("f1", "x"), ("f2", "y"), ("f3", "default")], [])


class Status(TierTest):

    def setUp(self):
        super().setUp()
        self.a = self.start_node("a")
        self.b = self.start_node("b")

    def test_get_status_says_hit_l2_then_hit_l1(self):
        value = f"status {self.prefix}"
        self.a.cli("set", "greeting", value)
        self.wait_in_redis(value)
        first = self.b.cli("get", "--status", "greeting")
        self.assertEqual((first.stdout, first.stderr), (value.encode(), "HIT_L2 greeting\n"), first.describe())
        second = self.b.cli("get", "--status", "greeting")
        self.assertEqual(second.stderr, "HIT_L1 greeting\n", second.describe())
        miss = self.b.cli("get", "--status", "absent", code=EXIT_MISS)
        self.assertEqual(miss.stderr, "MISS absent\n", miss.describe())

    def test_response_get_status_says_hit_l2_then_hit_l1(self):
        self.a.cli("response", "set", "--model", "gpt-4o", "--prompt", "2+2?", f"four {self.prefix}")
        self.wait_in_redis(f"four {self.prefix}")
        first = self.b.cli("response", "get", "--status", "--model", "gpt-4o", "--prompt", "2+2?")
        self.assertEqual(first.stdout, f"four {self.prefix}".encode(), first.describe())
        self.assertRegex(first.stderr, r"^HIT_L2 response:[0-9a-f]+\n$", first.describe())
        second = self.b.cli("response", "get", "--status", "--model", "gpt-4o", "--prompt", "2+2?")
        self.assertRegex(second.stderr, r"^HIT_L1 response:[0-9a-f]+\n$", second.describe())

    def test_run_status_says_hit_l2_then_hit_l1(self):
        command = ("run", "--status", "--", "echo", f"ran {self.prefix}")
        first = self.a.cli(*command)
        self.assertRegex(first.stderr, r"^MISS run:[0-9a-f]{32}\n", first.describe())
        self.wait_in_redis(f"ran {self.prefix}")
        replayed = self.b.cli(*command)
        self.assertEqual(replayed.stdout, first.stdout)
        self.assertRegex(replayed.stderr, r"^HIT_L2 run:[0-9a-f]{32}\n", replayed.describe())
        self.assertRegex(self.b.cli(*command).stderr, r"^HIT_L1 run:[0-9a-f]{32}\n")

    def test_the_tier_counters_move(self):
        before_a, before_b = self.a.tier(), self.b.tier()
        for tier in (before_a, before_b):
            self.assertEqual(tier["enabled"], True, tier)
            self.assertEqual(sorted(k for k in TIER_COUNTERS if k not in tier), [], f"counters missing: {tier}")
        self.assertEqual(before_b["url"], self.redis.url())
        wait_for(lambda: self.b.tier()["connected"], message="b to connect to Redis")

        value = f"counted {self.prefix}"
        self.a.set("counted", value, tags=["c"])
        self.wait_in_redis(value)
        mirrored = self.wait_tier(self.a, lambda t: t["mirrored"] >= before_a["mirrored"] + 1, "a to count the write")
        self.assertEqual((mirrored["queued"], mirrored["dropped"]), (0, 0), mirrored)

        self.b.get("counted")
        self.b.get("counted")
        self.b.get("absent")
        after = self.b.tier()
        self.assertEqual(after["l2_hits"], before_b["l2_hits"] + 1, after)
        self.assertGreaterEqual(after["l1_hits"], before_b["l1_hits"] + 1, after)
        self.assertGreaterEqual(after["l2_misses"], before_b["l2_misses"] + 1, after)

        self.b.call("invalidate", {"tags": ["c"]})
        self.wait_tier(self.b, lambda t: t["invalidations_sent"] >= before_b["invalidations_sent"] + 1,
                       "b to count the invalidation it sent")
        self.wait_tier(self.a, lambda t: t["invalidations_applied"] >= before_a["invalidations_applied"] + 1,
                       "a to count the invalidation it applied")
        # Counted when handed to a's store; gone once that commits.
        wait_for(lambda: not self.a.found("counted"), message="the entry to be gone from a")

    def test_stats_show_the_tier(self):
        from_json = self.b.cli("stats", "--json").json()
        self.assertEqual(from_json["tier"]["enabled"], True, from_json.get("tier"))
        self.assertEqual(from_json["tier"]["url"], self.redis.url())
        text = self.b.cli("stats").text
        self.assertIn("shared tier", text)
        self.assertIn(f"127.0.0.1:{self.redis.port}", text)


class Proxy(TierTest):
    """Both daemons run the HTTP proxy (one config file, a port each) in front
    of one fake provider."""

    def setUp(self):
        super().setUp()
        self.fake = FakeLLM()
        self.addCleanup(self.fake.close)
        self.sandbox.write_config(f'[proxy]\nlisten = "127.0.0.1:0"\nupstream = "{self.fake.url}"\n')
        self.a = self.start_node("a")
        self.b = self.start_node("b")

    def chat(self, node, text):
        address = wait_for(lambda: self.proxy_address(node), message=f"{node.name}'s proxy address")
        host, _, port = address.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
            connection.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.getheader("X-Omnicache"), response.read()
        finally:
            connection.close()

    def proxy_address(self, node):
        client = harness.omnicache_client.Client(node.socket, timeout=10)
        try:
            return client.hello().get("proxy")
        finally:
            client.close()

    def test_the_proxy_of_another_daemon_answers_from_redis(self):
        question = f"What is shared {self.prefix}?"
        status, outcome, first = self.chat(self.a, question)
        self.assertEqual((status, outcome), (200, "MISS"), first)
        self.assertEqual(self.chat(self.a, question)[:2], (200, "HIT_L1"))
        self.wait_in_redis(f"Echo: {question}")
        status, outcome, shared = self.chat(self.b, question)
        self.assertEqual((status, outcome, shared), (200, "HIT_L2", first))
        self.assertEqual(self.chat(self.b, question)[:2], (200, "HIT_L1"))
        self.assertEqual(self.fake.count("/v1/chat/completions"), 1, "the provider was asked once")


class Password(TierTest):
    password = "s3cret-pass"

    def test_a_password_is_used_and_masked_and_the_database_number_is_kept(self):
        node = self.start_node("a", url=self.redis.url(db=3))
        value = f"in db 3 {self.prefix}"
        node.set("k", value)
        self.wait_in_redis_db(value, 3)
        self.assertEqual(self.redis.keys(db=0), [], "nothing is written to database 0")
        tier = self.wait_tier(node, lambda t: t["connected"], "the daemon to connect with the password")
        self.assertNotIn(self.password, json.dumps(tier))
        self.assertIn(f"127.0.0.1:{self.redis.port}/3", tier["url"])
        self.assertNotIn(self.password, node.cli("stats").text)
        self.assertNotIn(self.password, node.daemon.log_text(tail=None))

    def wait_in_redis_db(self, marker, db):
        wait_for(lambda: self.redis.holds(marker, db=db), message=f"{marker!r} to reach Redis database {db}")


class Config(IntegrationTest):

    def daemon_args(self):
        return ["--foreground", "--socket", self.sandbox.socket, "--database", self.sandbox.database]

    def assert_refused(self, result, *needles):
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        for needle in needles:
            self.assertIn(needle, result.stderr, result.describe())
        self.assertFalse(os.path.exists(self.sandbox.socket), "a refused daemon serves nothing")

    def test_a_bad_url_is_refused_naming_the_setting(self):
        for url in ("http://x", "redis://127.0.0.1:notaport", "redis://127.0.0.1:70000", "unix://"):
            with self.subTest(url=url):
                self.assert_refused(self.run_daemon(*self.daemon_args(), "-o", f"tier.redis.url={url}"),
                                    "tier.redis.url")

    def test_a_bad_url_in_the_config_file_or_the_environment_is_refused(self):
        self.sandbox.write_config('[tier.redis]\nurl = "http://x"\n')
        self.assert_refused(self.run_daemon(*self.daemon_args()), f"{self.sandbox.config_file}:2", "tier.redis.url")
        os.remove(self.sandbox.config_file)
        result = self.run_daemon(*self.daemon_args(), env={"OMNICACHE_TIER_REDIS_URL": "http://x"})
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertTrue("OMNICACHE_TIER_REDIS_URL" in result.stderr or "tier.redis.url" in result.stderr,
                        result.describe())

    def test_bad_tier_values_are_refused(self):
        for option in ("tier.redis.timeout=soon", "tier.redis.connect_timeout=-1s", "tier.redis.queue=many",
                       "tier.redis.log_length=-5"):
            with self.subTest(option=option):
                key = option.split("=")[0]
                self.assert_refused(self.run_daemon(*self.daemon_args(), "-o", "tier.redis.url=redis://127.0.0.1:1",
                                                    "-o", option), key)

    def test_check_config_shows_the_tier_settings_from_the_environment(self):
        result = self.run_daemon("--check-config", "--socket", self.sandbox.socket,
                                 env={"OMNICACHE_TIER_REDIS_URL": "redis://127.0.0.1:6390/2",
                                      "OMNICACHE_TIER_REDIS_PREFIX": "app:", "OMNICACHE_TIER_REDIS_QUEUE": "500"})
        self.assertEqual(result.code, 0, result.describe())
        lines = result.text.splitlines()
        for line in ("(env) tier.redis.url = redis://127.0.0.1:6390/2", "(env) tier.redis.prefix = app:",
                     "(env) tier.redis.queue = 500", "(default) tier.redis.timeout = 250ms"):
            self.assertIn(line, lines, result.describe())


class WithoutTier(IntegrationTest):

    def test_without_a_tier_replies_are_unchanged(self):
        self.start_daemon()
        client = self.client()
        client.call("set", {"key": "k"}, b"v")
        hit, _ = client.call("get", {"key": "k"})
        self.assertNotIn("tier", hit)
        self.assertEqual(client.call("stats", {})[0]["tier"], {"enabled": False})
        self.assertNotIn("shared tier", self.cli("stats").text)
        self.cli("response", "set", "--model", "m", "--prompt", "p", "answer")
        status = self.cli("response", "get", "--status", "--model", "m", "--prompt", "p").stderr
        self.assertRegex(status, r"^HIT response:[0-9a-f]+\n$")

    def test_without_a_tier_get_status_says_hit(self):
        self.start_daemon()
        self.cli("set", "k", "v")
        self.assertEqual(self.cli("get", "--status", "k").stderr, "HIT k\n")


if __name__ == "__main__":
    import unittest

    unittest.main()
