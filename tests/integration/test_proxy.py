"""The HTTP caching proxy inside omnicached, driven with curl and http.client
against a fake OpenAI/Anthropic provider: misses then byte-identical hits,
keys shared with `omnicache response`, streams passed through and replayed,
embeddings per text, upstream failures, request controls, invalidation,
concurrent identical requests, tenants and tokens, semantic matches,
forwarding, /healthz, /metrics and the provider's own prompt-cache usage."""

import http.client
import json
import os
import socket
import threading
import time

from fake_llm import anthropic_stream_text, embedding, openai_stream_text, parse_sse, vector_from_base64
from harness import EXIT_MISS, report, wait_for
from proxy_harness import (CLAUDE, MODEL, ProxyTest, chat_body, chat_text, messages_body, parse_metrics,
                           tenant_of_key)

CHAT = "/v1/chat/completions"
FRANCE = "What is the capital of France?"


class Caching(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def test_a_repeated_chat_request_is_a_byte_identical_hit(self):
        body = chat_body("What is 2+2?", temperature=0)
        first, code = self.curl(CHAT, body, headers=["Authorization: Bearer sk-client"])
        self.assertEqual(code, 0)
        self.assert_outcome(first, "MISS")
        self.assertEqual(chat_text(first), "Echo: What is 2+2?")
        self.assertEqual(self.fake.last_headers().get("authorization"), "Bearer sk-client")
        key = self.response_key(body)
        self.assertEqual(first.header("X-Omnicache-Key"), key)
        second, _ = self.curl(CHAT, body, headers=["Authorization: Bearer sk-client"])
        self.assert_outcome(second, "HIT")
        self.assertEqual(second.body, first.body)
        self.assertEqual(second.header("X-Omnicache-Key"), key)
        self.assertRegex(second.header("X-Omnicache-Age") or "", r"^\d+$")
        self.assertEqual(self.fake.count(CHAT), 1)

    def test_the_key_ignores_delivery_fields_and_member_order(self):
        first = self.chat("Name a colour.", temperature=0.5, max_tokens=20)
        self.assert_outcome(first, "MISS")
        reordered = {"max_tokens": 20, "user": "alice", "metadata": {"run": "7"}, "temperature": 0.50,
                     "messages": [{"content": "Name a colour.", "role": "user"}], "model": MODEL}
        again = self.request("POST", CHAT, reordered)
        self.assert_outcome(again, "HIT")
        self.assertEqual(again.body, first.body)
        streamed, _ = self.curl(CHAT, dict(reordered, stream=True), stream=True)
        self.assert_outcome(streamed, "HIT")
        self.assertEqual(streamed.header("X-Omnicache-Key"), first.header("X-Omnicache-Key"))
        self.assertEqual(self.fake.count(CHAT), 1)

    def test_another_temperature_is_another_entry(self):
        cold = self.chat("Tell a joke.", temperature=0)
        warm = self.chat("Tell a joke.", temperature=1)
        self.assert_outcome(cold, "MISS")
        self.assert_outcome(warm, "MISS")
        self.assertNotEqual(cold.header("X-Omnicache-Key"), warm.header("X-Omnicache-Key"))
        self.assertEqual(self.fake.count(CHAT), 2)

    def test_an_answer_stored_by_the_command_is_served_in_the_requests_shape(self):
        self.cli("response", "set", "--model", MODEL, "--prompt", "What is 6x7?", "42, of course")
        chat = self.chat("What is 6x7?")
        self.assert_outcome(chat, "HIT")
        self.assertEqual(chat.json()["object"], "chat.completion")
        self.assertEqual(chat_text(chat), "42, of course")
        completion = self.post("/v1/completions", {"model": MODEL, "prompt": "What is 6x7?"})
        self.assert_outcome(completion, "HIT")
        self.assertEqual(completion.json()["choices"][0]["text"], "42, of course")
        self.assertEqual(self.chat("What is 6x7?").body, chat.body, "a synthesized answer is deterministic")
        self.assertEqual(self.fake.count(), 0)

    def test_an_entry_the_proxy_stored_is_found_by_the_command(self):
        miss = self.chat("Spell cat.")
        self.assert_outcome(miss, "MISS")
        self.assertEqual(self.cli("response", "get", "--model", MODEL, "--prompt", "Spell cat.").stdout, miss.body)

    def test_completions_and_messages_miss_then_hit(self):
        completion = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 5}
        first = self.post("/v1/completions", completion)
        self.assert_outcome(first, "MISS")
        self.assertEqual(first.json()["choices"][0]["text"], "Echo: Once upon a time")
        self.assertEqual(self.post("/v1/completions", completion).body, first.body)
        claude = self.anthropic("Say hello.")
        self.assert_outcome(claude, "MISS")
        self.assertEqual(claude.json()["content"][0]["text"], "Echo: Say hello.")
        self.assertEqual(self.fake.last_headers().get("x-api-key"), "sk-ant-test")
        again = self.anthropic("Say hello.")
        self.assert_outcome(again, "HIT")
        self.assertEqual(again.body, claude.body)
        self.assertEqual((self.fake.count("/v1/completions"), self.fake.count("/v1/messages")), (1, 1))


class WholeRequests(ProxyTest):
    """`omnicache response --messages REQUEST` keys a request body exactly as
    the proxy keys the same body, so each finds the other's entries."""

    TOOLS = [{"type": "function", "function": {"name": "weather", "description": "Weather in a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def cli_key(self, body):
        path = self.write_json(f"request-{len(os.listdir(self.sandbox.root))}.json", body)
        return self.cli("response", "key", "--messages", path).text.strip(), path

    def test_the_command_keys_five_bodies_as_the_proxy_does(self):
        weather = "What is the weather in Paris?"
        cases = [
            (CHAT, chat_body("Tell a joke.", temperature=1)),
            (CHAT, chat_body("Tell a joke.", temperature=0)),
            (CHAT, {"model": MODEL, "temperature": 0, "messages": [{"role": "system", "content": "Be brief."},
                                                                   {"role": "user", "content": "Tell a joke."}]}),
            (CHAT, chat_body(weather, temperature=0, tools=self.TOOLS, tool_choice="auto")),
            ("/v1/messages", messages_body("Tell a joke.", system="Answer in French.", temperature=0)),
            ("/v1/messages", messages_body("Tell a joke.", temperature=0)),
            ("/v1/completions", {"model": MODEL, "prompt": "Tell a joke.", "max_tokens": 5}),
        ]
        keys = []
        for path, body in cases:
            headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"} if "messages" in path else {}
            reply = self.request("POST", path, body, headers)
            self.assert_outcome(reply, "MISS")
            proxy_key = reply.header("X-Omnicache-Key")
            key, file = self.cli_key(body)
            self.assertEqual(key, proxy_key, body)
            # The proxy's entry answers the command, and stream is no part of the key.
            self.assertEqual(self.cli("response", "get", "--messages", file).stdout, reply.body, body)
            self.assertEqual(self.cli_key(dict(body, stream=True))[0], proxy_key, body)
            keys.append(key)
        self.assertEqual(len(set(keys)), len(keys), keys)
        # None of them is the key of the bare prompt.
        bare = self.cli("response", "key", "--model", MODEL, "--prompt", "Tell a joke.").text.strip()
        self.assertNotIn(bare, keys)

    def test_an_answer_set_for_a_whole_request_is_the_proxys_hit_for_that_body_only(self):
        body = chat_body("Tell a joke.", temperature=0, max_tokens=30)
        path = self.write_json("set.json", body)
        self.cli("response", "set", "--messages", path, "A cached joke.")
        hit = self.request("POST", CHAT, body)
        self.assert_outcome(hit, "HIT")
        self.assertEqual(chat_text(hit), "A cached joke.")
        self.assert_outcome(self.request("POST", CHAT, dict(body, temperature=1)), "MISS")
        self.assertEqual(self.fake.count(CHAT), 1)


class Streaming(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def test_a_stream_is_passed_through_then_replayed(self):
        body = chat_body("Count to three, please.", stream=True)
        direct = self.fake_stream(CHAT, body)
        first, code = self.curl(CHAT, body, stream=True)
        self.assertEqual(code, 0)
        self.assert_outcome(first, "MISS")
        self.assertTrue(first.header("Content-Type").startswith("text/event-stream"), first)
        self.assertEqual(first.body, direct, "the upstream's events pass through unchanged")
        self.assertEqual(openai_stream_text(first.body), "Echo: Count to three, please.")
        replay, _ = self.curl(CHAT, body, stream=True)
        self.assert_outcome(replay, "HIT")
        self.assertTrue(replay.body.endswith(b"data: [DONE]\n\n"), replay)
        self.assertEqual(openai_stream_text(replay.body), "Echo: Count to three, please.")
        for _, payload in parse_sse(replay.body)[:-1]:
            self.assertEqual(json.loads(payload)["object"], "chat.completion.chunk")
        self.assertEqual(self.curl(CHAT, body, stream=True)[0].body, replay.body, "replays are byte-identical")
        plain = self.chat("Count to three, please.")
        self.assert_outcome(plain, "HIT")
        self.assertEqual(plain.json()["object"], "chat.completion")
        self.assertEqual(chat_text(plain), "Echo: Count to three, please.")
        self.assertEqual(self.fake.count(CHAT), 2, "one call for the proxy, one made directly")

    def test_a_replay_has_a_usage_chunk_only_when_asked(self):
        self.assert_outcome(self.chat("Name a fruit."), "MISS")
        bare = self.request("POST", CHAT, chat_body("Name a fruit.", stream=True))
        self.assert_outcome(bare, "HIT")
        self.assertFalse(any(json.loads(p).get("usage") for _, p in parse_sse(bare.body) if p != "[DONE]"))
        counted = self.request("POST", CHAT, chat_body("Name a fruit.", stream=True,
                                                       stream_options={"include_usage": True}))
        self.assert_outcome(counted, "HIT")
        usages = [json.loads(p)["usage"] for _, p in parse_sse(counted.body) if p != "[DONE]"
                  and json.loads(p).get("usage")]
        self.assertEqual([(u["prompt_tokens"], u["completion_tokens"]) for u in usages], [(3, 4)], counted)
        self.assertEqual(self.fake.count(CHAT), 1)

    def test_a_stream_broken_by_the_upstream_is_not_stored(self):
        body = chat_body("Tell me a long story.", stream=True)
        self.fake.break_next_stream()
        broken, code = self.curl(CHAT, body, stream=True)
        self.assertNotEqual(code, 0, f"the client must see the cut: {broken}")
        self.assertNotIn(b"[DONE]", broken.body)
        again, code = self.curl(CHAT, body, stream=True)
        self.assertEqual(code, 0)
        self.assert_outcome(again, "MISS")
        self.assertEqual(openai_stream_text(again.body), "Echo: Tell me a long story.")
        self.assertEqual(self.fake.count(CHAT), 2)
        self.assert_outcome(self.request("POST", CHAT, body), "HIT")

    def test_an_anthropic_stream_is_recorded_and_replayed(self):
        headers = ["x-api-key: sk-ant-test", "anthropic-version: 2023-06-01"]
        body = messages_body("Write a haiku.", stream=True)
        first, code = self.curl("/v1/messages", body, headers=headers, stream=True)
        self.assertEqual(code, 0)
        self.assert_outcome(first, "MISS")
        self.assertEqual(anthropic_stream_text(first.body), "Echo: Write a haiku.")
        replay, _ = self.curl("/v1/messages", body, headers=headers, stream=True)
        self.assert_outcome(replay, "HIT")
        events = parse_sse(replay.body)
        self.assertEqual((events[0][0], events[-1][0]), ("message_start", "message_stop"), replay)
        self.assertEqual(anthropic_stream_text(replay.body), "Echo: Write a haiku.")
        self.assertEqual(self.curl("/v1/messages", body, headers=headers, stream=True)[0].body, replay.body)
        plain = self.anthropic("Write a haiku.")
        self.assert_outcome(plain, "HIT")
        self.assertEqual(plain.json()["content"], [{"type": "text", "text": "Echo: Write a haiku."}])
        self.assertEqual(self.fake.count("/v1/messages"), 1)

    def fake_stream(self, path, body):
        """What the fake sends for `body` when asked directly."""
        connection = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=30)
        try:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            return connection.getresponse().read()
        finally:
            connection.close()


class Embeddings(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def embed(self, inputs, **params):
        return self.post("/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs, **params})

    def test_only_missing_texts_go_upstream_and_the_reply_keeps_the_order(self):
        first = self.embed(["alpha", "beta", "gamma"])
        self.assert_outcome(first, "MISS")
        self.assertEqual(first.header("X-Omnicache-Cached"), "0/3")
        self.assertEqual([d["embedding"] for d in first.json()["data"]],
                         [embedding(t) for t in ("alpha", "beta", "gamma")])
        mixed = self.embed(["gamma", "delta", "alpha"])
        self.assert_outcome(mixed, "MISS")
        self.assertEqual(mixed.header("X-Omnicache-Cached"), "2/3")
        self.assertEqual(self.fake.last_body()["input"], ["delta"])
        data = mixed.json()["data"]
        self.assertEqual([d["index"] for d in data], [0, 1, 2])
        self.assertEqual([d["embedding"] for d in data], [embedding(t) for t in ("gamma", "delta", "alpha")])
        full = self.embed(["delta", "beta"])
        self.assert_outcome(full, "HIT")
        self.assertEqual(full.header("X-Omnicache-Cached"), "2/2")
        self.assertEqual(full.json()["usage"]["prompt_tokens"], 0)
        self.assertEqual(self.fake.count("/v1/embeddings"), 2)

    def test_base64_vectors_decode_to_the_upstreams(self):
        self.assert_outcome(self.embed("one"), "MISS")
        both = self.embed(["one", "two"], encoding_format="base64")
        self.assertEqual(both.header("X-Omnicache-Cached"), "1/2")
        self.assertEqual(self.fake.last_body(), {"model": "text-embedding-3-small", "input": ["two"],
                                                 "encoding_format": "base64"})
        self.assertEqual([vector_from_base64(d["embedding"]) for d in both.json()["data"]],
                         [embedding("one"), embedding("two")])


class UpstreamFailures(ProxyTest):

    def test_error_statuses_are_passed_back_and_not_cached(self):
        self.start_proxy()
        for status, path, body in ((500, CHAT, chat_body("Why?")),
                                   (429, "/v1/messages", messages_body("Why?"))):
            error = json.dumps({"error": {"message": f"failure {status}", "type": "server_error"}})
            self.fake.fail_next(status, error)
            failed = self.post(path, body)
            self.assertEqual((failed.status, failed.body), (status, error.encode()), failed)
            self.assertTrue(failed.header("Content-Type").startswith("application/json"))
            again = self.post(path, body)
            self.assert_outcome(again, "MISS")
            self.assertEqual(self.fake.count(path), 2)

    def test_an_unreachable_upstream_is_a_502_in_the_providers_shape(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        closed.close()
        self.start_proxy(upstream=url, anthropic_upstream=url)
        openai = self.chat("Hello?")
        self.assertEqual(openai.status, 502, openai)
        self.assertEqual((openai.json()["error"]["type"], openai.json()["error"]["code"]),
                         ("api_error", "upstream_unreachable"))
        anthropic = self.anthropic("Hello?")
        self.assertEqual(anthropic.status, 502, anthropic)
        self.assertEqual((anthropic.json()["type"], anthropic.json()["error"]["type"]), ("error", "api_error"))
        self.assertEqual(self.entries(), 0)

    def test_an_upstream_slower_than_the_timeout_is_a_504(self):
        self.start_proxy(timeout="1s")
        self.fake.delay_next(6)
        slow = self.chat("Are you there?")
        self.assertEqual(slow.status, 504, slow)
        self.assertEqual(slow.json()["error"]["code"], "upstream_timeout")
        self.assert_outcome(self.chat("Are you there?"), "MISS")


class Controls(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy(max_body="1KiB")

    def test_no_cache_asks_upstream_and_stores_the_new_answer(self):
        self.assert_outcome(self.chat("Weather?"), "MISS")
        self.fake.set_prefix("Fresh")
        fresh = self.chat("Weather?", headers={"Cache-Control": "no-cache"})
        self.assert_outcome(fresh, "BYPASS")
        self.assertEqual(chat_text(fresh), "Fresh: Weather?")
        hit = self.chat("Weather?")
        self.assert_outcome(hit, "HIT")
        self.assertEqual(hit.body, fresh.body)
        self.assertEqual(self.fake.count(CHAT), 2)

    def test_no_store_neither_reads_nor_writes(self):
        self.assert_outcome(self.chat("Time?"), "MISS")
        self.fake.set_prefix("Other")
        bypass = self.chat("Time?", headers={"Cache-Control": "no-store"})
        self.assert_outcome(bypass, "BYPASS")
        self.assertEqual(chat_text(bypass), "Other: Time?")
        self.assertEqual(chat_text(self.chat("Time?")), "Echo: Time?")
        self.assert_outcome(self.chat("Date?", headers={"Cache-Control": "no-store"}), "BYPASS")
        self.assert_outcome(self.chat("Date?"), "MISS")
        self.assertEqual(self.fake.count(CHAT), 4)

    def test_a_ttl_header_makes_the_entry_expire(self):
        self.assert_outcome(self.chat("Short-lived?", headers={"X-Omnicache-TTL": "1s"}), "MISS")
        wait_for(lambda: self.run_cli("response", "get", "--model", MODEL, "--prompt", "Short-lived?").code
                 == EXIT_MISS, message="the entry to expire")
        self.assert_outcome(self.chat("Short-lived?"), "MISS")
        self.assertEqual(self.fake.count(CHAT), 2)

    def test_tags_deps_and_model_invalidate_proxy_entries(self):
        self.assert_outcome(self.chat("Tagged?", headers={"X-Omnicache-Tags": "faq,billing"}), "MISS")
        self.assert_outcome(self.chat("Depends?", headers={"X-Omnicache-Deps": "doc:terms"}), "MISS")
        self.assert_outcome(self.chat("Plain?"), "MISS")
        self.assertEqual(self.cli("invalidate", "billing").text.strip(), "1")
        self.assertEqual(self.cli("invalidate", "--dep", "doc:terms").text.strip(), "1")
        self.assert_outcome(self.chat("Plain?"), "HIT")
        self.assertEqual(self.cli("invalidate", "--model", MODEL).text.strip(), "1")
        for text in ("Tagged?", "Depends?", "Plain?"):
            self.assert_outcome(self.chat(text), "MISS")
        self.assertEqual(self.fake.count(CHAT), 6)

    def test_bad_control_headers_and_large_bodies_are_refused(self):
        for name, value in (("X-Omnicache-TTL", "soon"), ("X-Omnicache-Semantic", "maybe")):
            bad = self.chat("Bad?", headers={name: value})
            self.assertEqual(bad.status, 400, bad)
            self.assertEqual(bad.json()["error"]["type"], "invalid_request_error")
            self.assertIn(name.lower(), bad.json()["error"]["message"].lower())
        large = self.chat("x" * 4096)
        self.assertEqual(large.status, 413, large)
        self.assertEqual(large.json()["error"]["type"], "invalid_request_error")
        self.assertEqual(self.fake.count(), 0)
        self.assertEqual(self.entries(), 0)


class Concurrency(ProxyTest):

    def test_identical_concurrent_requests_make_one_upstream_call(self):
        self.start_proxy()
        self.fake.hold()
        replies, sent = [None] * 5, threading.Semaphore(0)

        def ask(i):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                connection.request("POST", CHAT, json.dumps(chat_body("Same question?")),
                                   {"Content-Type": "application/json"})
                sent.release()
                response = connection.getresponse()
                replies[i] = (response.getheader("X-Omnicache"), response.read())
            finally:
                connection.close()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for _ in threads:
            self.assertTrue(sent.acquire(timeout=30))
        wait_for(lambda: self.fake.held() >= 1, message="the first request to reach the upstream")
        time.sleep(0.3)  # room for wrongly duplicated calls to arrive
        self.fake.release()
        for thread in threads:
            thread.join(60)
        self.assertNotIn(None, replies)
        self.assertEqual(self.fake.count(CHAT), 1)
        self.assertEqual(len({body for _, body in replies}), 1, replies)
        self.assertEqual(sorted(outcome for outcome, _ in replies), ["HIT"] * 4 + ["MISS"])


class Tenants(ProxyTest):

    def test_scope_per_key_keeps_api_keys_apart(self):
        self.start_proxy(scope="per-key")
        one, two = {"Authorization": "Bearer sk-one"}, {"Authorization": "Bearer sk-two"}
        self.assert_outcome(self.chat("Secret?", headers=one), "MISS")
        self.assert_outcome(self.chat("Secret?", headers=two), "MISS")
        self.assert_outcome(self.chat("Secret?", headers=one), "HIT")
        self.assertEqual(self.fake.count(CHAT), 2)
        self.assertEqual((self.entries(tenant_of_key("sk-one")), self.entries(tenant_of_key("sk-two")),
                          self.entries()), (1, 1, 0))

    def test_tokens_are_required_and_name_the_tenant(self):
        self.start_proxy(tokens={"alpha": "tok-alpha"}, env={"OPENAI_API_KEY": "sk-upstream",
                                                             "ANTHROPIC_API_KEY": "sk-ant-upstream"})
        for headers in ({}, {"Authorization": "Bearer tok-wrong"}):
            refused = self.chat("Who am I?", headers=headers)
            self.assertEqual(refused.status, 401, refused)
            self.assertEqual(refused.json()["error"]["code"], "invalid_api_key")
        anthropic = self.anthropic("Who am I?", headers={"x-api-key": "tok-wrong"})
        self.assertEqual(anthropic.status, 401, anthropic)
        self.assertEqual(anthropic.json()["error"]["type"], "authentication_error")
        self.assertEqual(self.request("GET", "/healthz").status, 200)
        self.assertEqual(self.fake.count(), 0)
        self.assertEqual(self.stats("--all-tenants")["totals"]["entries"], 0)
        allowed = self.chat("Who am I?", headers={"Authorization": "Bearer tok-alpha"})
        self.assert_outcome(allowed, "MISS")
        self.assertEqual(self.fake.last_headers().get("authorization"), "Bearer sk-upstream")
        self.assert_outcome(self.anthropic("Who am I?", headers={"x-api-key": "tok-alpha"}), "MISS")
        self.assertEqual(self.fake.last_headers().get("x-api-key"), "sk-ant-upstream")
        self.assertEqual((self.entries("alpha"), self.entries()), (2, 0))

    def test_the_tenant_header_counts_only_when_enabled(self):
        self.start_proxy(tenant_header="on")
        self.assert_outcome(self.chat("Team?", headers={"X-Omnicache-Tenant": "team-a"}), "MISS")
        self.assertEqual((self.entries("team-a"), self.entries()), (1, 0))

    def test_the_tenant_header_is_ignored_by_default(self):
        self.start_proxy()
        self.assert_outcome(self.chat("Team?", headers={"X-Omnicache-Tenant": "team-a"}), "MISS")
        self.assertEqual((self.entries("team-a"), self.entries()), (0, 1))


class Semantic(ProxyTest):

    def test_the_same_question_reworded_is_a_semantic_hit(self):
        self.start_proxy(semantic="on")
        first = self.chat(FRANCE)
        self.assert_outcome(first, "MISS")
        near = self.chat("what is the capital of france")
        self.assert_outcome(near, "SEMANTIC")
        self.assertEqual(chat_text(near), f"Echo: {FRANCE}")
        self.assertGreater(float(near.header("X-Omnicache-Similarity")), 0.5)
        self.assertRegex(near.header("X-Omnicache-Age") or "", r"^\d+$")
        self.assertEqual(self.fake.count(CHAT), 1)
        self.assert_outcome(self.chat("what is the capital of France", headers={"X-Omnicache-Semantic": "off"}),
                            "MISS")
        self.assert_outcome(self.chat("What is the capital of Spain?"), "MISS")
        self.assertEqual(self.fake.count(CHAT), 3)


class Serving(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def test_other_paths_are_forwarded(self):
        models = self.request("GET", "/v1/models?limit=2", headers={"Authorization": "Bearer sk-client"})
        self.assert_outcome(models, "BYPASS")
        self.assertEqual(models.json()["data"][0]["id"], "fake-model")
        last = self.fake.last()
        self.assertEqual((last["method"], last["path"], last["query"]), ("GET", "/v1/models", "limit=2"))
        self.assertEqual(last["headers"].get("authorization"), "Bearer sk-client")
        health = self.request("GET", "/healthz")
        self.assertEqual((health.status, health.json()), (200, {"status": "ok"}))

    def test_metrics_count_requests_by_endpoint_and_outcome(self):
        for text in ("One?", "One?", "One?", "Two?"):
            self.chat(text)
        self.post("/v1/completions", {"model": MODEL, "prompt": "Three"})
        self.request("GET", "/v1/models")
        reply = self.request("GET", "/metrics")
        self.assertTrue(reply.header("Content-Type").startswith("text/plain"), reply)
        samples, types = parse_metrics(reply.body.decode())
        self.assertEqual(types.get("omnicache_proxy_requests_total"), "counter")

        def requests(endpoint, outcome):
            return samples.get(("omnicache_proxy_requests_total",
                                (("endpoint", endpoint), ("outcome", outcome))), 0)

        self.assertEqual((requests("chat_completions", "miss"), requests("chat_completions", "hit"),
                          requests("completions", "miss"), requests("other", "bypass")), (2, 2, 1, 1))

    def test_many_requests_share_one_connection(self):
        connection = self.http()
        self.chat("Warm-up?")
        sock = connection.sock
        started = time.monotonic()
        for i in range(60):
            reply = self.chat(f"Question {i % 10}?")
            self.assertEqual(reply.status, 200, reply)
            self.assertIs(connection.sock, sock, f"the proxy closed the connection after request {i}")
        elapsed = time.monotonic() - started
        hits = [self.chat(f"Question {i % 10}?") for i in range(50)]
        self.assertEqual({r.cache for r in hits}, {"HIT"})
        self.assertIs(connection.sock, sock)
        self.assertEqual(self.fake.count(CHAT), 11)
        report(f"proxy keep-alive: 60 chat requests (10 misses) in {elapsed * 1000:.0f} ms")


class ProviderCache(ProxyTest):

    def test_provider_prompt_cache_usage_is_counted_per_model(self):
        self.start_proxy(prices={MODEL: {"input": 2.5, "output": 10, "cached_input": 1.25}})
        self.fake.report_prompt_cache(1000)
        self.assert_outcome(self.chat("Long prompt?"), "MISS")
        self.fake.report_prompt_cache(300, 50)
        self.assert_outcome(self.anthropic("Long prompt?"), "MISS")
        self.fake.report_prompt_cache(None)
        self.assert_outcome(self.chat("Long prompt?"), "HIT")
        models = wait_for(lambda: self.counted_models(), message="the provider's cache usage in stats")
        gpt, claude = models[MODEL], models[CLAUDE]
        self.assertEqual((gpt["provider_cached_tokens"], gpt["provider_cache_write_tokens"]), (1000, 0))
        self.assertAlmostEqual(gpt["provider_cost_saved_usd"], 1000 * (2.5 - 1.25) / 1e6)
        self.assertEqual((claude["provider_cached_tokens"], claude["provider_cache_write_tokens"]), (300, 50))
        self.assertEqual(gpt["hits"], 1)

    def counted_models(self):
        models = self.stats()["models"]
        if models.get(MODEL, {}).get("hits") and models.get(CLAUDE, {}).get("provider_cached_tokens"):
            return models
        return None
