"""The structured layers (response, embedding, retrieval, context), their
canonical keys, default tags and TTLs, savings per model, dependencies and
events, through the real command and daemon."""

import hashlib
import json
import os
import struct

from harness import EXIT_MISS, EXIT_USAGE, IntegrationTest


def canonical(value):
    """The canonical JSON of PROTOCOL.md 10, written independently of the C++
    code: sorted keys, no whitespace, integral floats as integers, UTF-8."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0].encode())
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def layer_key(layer, value):
    return layer + ":" + hashlib.sha256(canonical(value).encode()).hexdigest()[:32]


DELIVERY = {"stream", "stream_options", "user", "metadata"}


def response_key(model, messages, params=None):
    kept = {k: v for k, v in (params or {}).items() if k not in DELIVERY}
    return layer_key("response", {"messages": messages, "model": model, "params": kept})


class WithDaemon(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    def write(self, name, text):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def inspect(self, key):
        return self.cli_json("inspect", key)["entry"]


class ResponseLayer(WithDaemon):

    def test_a_prompt_set_is_a_hit_for_the_same_prompt_and_a_miss_for_another(self):
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "What is 2+2?", "--param", "temperature=0", "4")
        hit = self.cli("response", "get", "--model", "gpt-4o", "--prompt", "What is 2+2?", "--param", "temperature=0")
        self.assertEqual(hit.stdout, b"4")
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", "What is 3+3?", "--param", "temperature=0",
                 code=EXIT_MISS)
        self.cli("response", "get", "--model", "gpt-4o-mini", "--prompt", "What is 2+2?", "--param",
                 "temperature=0", code=EXIT_MISS)
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", "What is 2+2?", code=EXIT_MISS)

    def test_order_whitespace_number_form_and_stream_do_not_change_the_key(self):
        compact = self.write("a.json", '[{"role":"user","content":"Hi"}]')
        loose = self.write("b.json", '[ {\n  "content" : "Hi",\n  "role": "user"\n} ]\n')
        self.cli("response", "set", "--model", "m", "--messages", compact, "--param", "temperature=0", "hello")
        for params in (["--param", "temperature=0.0"], ["--param", "temperature=0", "--param", "stream=true"],
                       ["--param", "temperature=-0.0", "--param", "user=alice"]):
            got = self.cli("response", "get", "--model", "m", "--messages", loose, *params)
            self.assertEqual(got.stdout, b"hello", params)
        # A prompt is one user message.
        self.assertEqual(self.cli("response", "get", "--model", "m", "--prompt", "Hi", "--param",
                                  "temperature=0").stdout, b"hello")
        # A whole request body is accepted as the messages file, its parameters in it.
        body = self.write("body.json", '{"model":"m","messages":[{"role":"user","content":"Hi"}],"temperature":0}')
        self.assertEqual(self.cli("response", "get", "--messages", body).stdout, b"hello")

    def test_a_whole_request_keys_with_every_member_it_has(self):
        messages = [{"role": "user", "content": "hi"}]
        bodies = [
            {"model": "gpt-4o", "messages": messages, "temperature": 1},
            {"model": "gpt-4o", "messages": messages, "temperature": 0},
            {"model": "gpt-4o", "messages": messages},
            {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}] + messages},
            {"model": "claude-3-5-haiku", "max_tokens": 64, "system": "Be brief.", "messages": messages},
            {"model": "gpt-4o", "prompt": "hi"},
        ]
        keys = []
        for i, body in enumerate(bodies):
            key = self.cli("response", "key", "--messages", self.write(f"r{i}.json", json.dumps(body))).text.strip()
            params = {k: v for k, v in body.items() if k not in ("model", "messages", "prompt")}
            asked = body.get("messages") or [{"role": "user", "content": body["prompt"]}]
            self.assertEqual(key, response_key(body["model"], asked, params), body)
            keys.append(key)
        # A completions prompt is one user message, as in the proxy; every other body keys apart.
        self.assertEqual(keys[5], keys[2])
        self.assertEqual(len(set(keys[:5])), 5, keys)
        # --prompt hi names the body without parameters, and only that one.
        self.assertEqual(self.cli("response", "key", "--model", "gpt-4o", "--prompt", "hi").text.strip(), keys[2])
        # A set with the body for temperature 1 is not an answer for temperature 0.
        self.cli("response", "set", "--messages", self.write("t1.json", json.dumps(bodies[0])), "hot")
        self.cli("response", "get", "--messages", self.write("t0.json", json.dumps(bodies[1])), code=EXIT_MISS)
        self.assertEqual(self.cli("response", "get", "--messages", self.write("t1b.json", json.dumps(
            dict(bodies[0], stream=True)))).stdout, b"hot")
        self.assertEqual(self.inspect(keys[0])["tags"], ["model:gpt-4o"])

    def test_model_and_param_beside_a_whole_request_edit_it_first(self):
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}

        def key_of(value, *args):
            path = self.write(f"k{len(os.listdir(self.sandbox.root))}.json", json.dumps(value))
            return self.cli("response", "key", "--messages", path, *args).text.strip()

        key = key_of(body)
        self.assertEqual(key_of(body, "--model", "gpt-4o", "--param", "temperature=0"), key)
        self.assertEqual(key_of(dict(body, temperature=1)), key_of(body, "--param", "temperature=1"))
        self.assertNotEqual(key_of(body, "--param", "temperature=1"), key)
        self.assertEqual(key_of(dict(body, model="gpt-4o-mini")), key_of(body, "--model", "gpt-4o-mini"))
        self.assertEqual(key_of(dict(body, top_p=0.5)), key_of(body, "--param", "top_p=0.5"))
        bare = {k: v for k, v in body.items() if k != "model"}
        self.assertEqual(key_of(bare, "--model", "gpt-4o"), key)
        path = self.write("req.json", json.dumps(body))
        bare_path = self.write("bare.json", json.dumps(bare))
        for file, args, needle in ((path, ["--param", "model=x"], "use --model"),
                                   (path, ["--param", "messages=[]"], "no parameter"),
                                   (bare_path, [], "--model")):
            result = self.run_cli("response", "key", "--messages", file, *args)
            self.assertEqual(result.code, EXIT_USAGE, result.describe())
            self.assertIn(needle, result.stderr)
            self.assertIn(file, result.stderr)

    def test_keys_agree_with_an_independent_implementation_of_the_canonical_form(self):
        cases = [
            ("gpt-4o", [{"role": "user", "content": "What is 2+2?"}], {"temperature": 0}),
            ("gpt-4o", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Ünïcödé ✓ \"q\""}],
             {"temperature": 0.7, "max_tokens": 100, "stop": ["\n", "END"]}),
            ("claude-3-5-sonnet", [{"role": "user", "content": [{"type": "text", "text": "tab\tnewline\n"}]}], {}),
        ]
        for model, messages, params in cases:
            path = self.write("m.json", json.dumps(messages))
            args = ["response", "key", "--model", model, "--messages", path]
            for name, value in params.items():
                args += ["--param", f"{name}={json.dumps(value)}"]
            self.assertEqual(self.cli(*args).text.strip(), response_key(model, messages, params), (model, params))

    def test_the_published_vector_holds(self):
        # PROTOCOL.md 10.3, first row.
        key = self.cli("response", "key", "--model", "gpt-4o", "--prompt", "What is 2+2?", "--param",
                       "temperature=0").text.strip()
        self.assertEqual(key, response_key("gpt-4o", [{"role": "user", "content": "What is 2+2?"}],
                                           {"temperature": 0}))

    def test_bad_messages_are_usage_errors(self):
        for text, needle in (("not json", "not valid JSON"), ("[]", "non-empty"),
                             ('{"a":1}', 'neither "messages" nor "prompt"'), ('"hi"', "not a messages array"),
                             ('{"model":"m","messages":[]}', "non-empty"), ('{"model":"m","prompt":[1]}', "string")):
            path = self.write("bad.json", text)
            result = self.run_cli("response", "get", "--model", "m", "--messages", path)
            self.assertEqual(result.code, EXIT_USAGE, result.describe())
            self.assertIn(needle, result.stderr)
        result = self.run_cli("response", "get", "--model", "m")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertIn("--prompt", result.stderr)
        result = self.run_cli("response", "get", "--model", "m", "--prompt", "x", "--param", "novalue")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertIn("NAME=VALUE", result.stderr)

    def test_entries_are_tagged_by_model_and_invalidated_by_it(self):
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "a", "1")
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "b", "2", "--tag", "project:x")
        self.cli("response", "set", "--model", "other", "--prompt", "a", "3")
        self.cli("embedding", "set", "--model", "gpt-4o", "--text", "a", "[1, 2]")
        key = self.cli("response", "key", "--model", "gpt-4o", "--prompt", "b").text.strip()
        self.assertEqual(self.inspect(key)["tags"], ["model:gpt-4o", "project:x"])
        self.assertEqual(self.cli("invalidate", "--model", "gpt-4o").text.strip(), "3")
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", "a", code=EXIT_MISS)
        self.assertEqual(self.cli("response", "get", "--model", "other", "--prompt", "a").stdout, b"3")

    def test_status_prints_hit_or_miss_and_the_key(self):
        key = self.cli("response", "key", "--model", "m", "--prompt", "q").text.strip()
        miss = self.cli("response", "get", "--model", "m", "--prompt", "q", "--status", code=EXIT_MISS)
        self.assertEqual(miss.stderr.strip(), f"MISS {key}")
        self.cli("response", "set", "--model", "m", "--prompt", "q", "a")
        hit = self.run_cli("response", "get", "--model", "m", "--prompt", "q", env={"OMNICACHE_STATUS": "1"})
        self.assertEqual(hit.stderr.strip(), f"HIT {key}")


class LayerDefaults(WithDaemon):

    def test_each_layer_has_its_default_ttl(self):
        self.cli("response", "set", "--model", "m", "--prompt", "p", "v")
        self.cli("context", "set", "--session", "s", "--turn", "0", "v")
        self.cli("retrieval", "set", "--retriever", "r", "--query", "q", "[]")
        self.cli("embedding", "set", "--model", "m", "--text", "t", "[0.5]")
        expected = {
            "response": 10 * 60_000,
            "context": 30 * 60_000,
            "retrieval": 60 * 60_000,
            "embedding": 24 * 60 * 60_000,
        }
        for key in self.cli("keys").text.split():
            entry = self.inspect(key)
            want = expected[entry["layer"]]
            self.assertLessEqual(entry["ttl_ms"], want, key)
            self.assertGreater(entry["ttl_ms"], want - 60_000, key)

    def test_ttl_flag_overrides_the_layer_default(self):
        self.cli("context", "set", "--session", "s", "--turn", "1", "--ttl", "never", "v")
        key = self.cli("context", "key", "--session", "s", "--turn", "1").text.strip()
        self.assertIsNone(self.inspect(key)["ttl_ms"])


class Savings(IntegrationTest):

    def test_hits_count_tokens_and_cost_saved_per_model(self):
        self.sandbox.write_config('[prices."gpt-4o"]\ninput = 2.5\noutput = 10\n')
        self.start_daemon()
        openai = json.dumps({"choices": [{"message": {"content": "4"}}],
                             "usage": {"prompt_tokens": 1000, "completion_tokens": 200}})
        anthropic = json.dumps({"content": [{"type": "text", "text": "hi"}],
                                "usage": {"input_tokens": 30, "output_tokens": 7}})
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "a", input=openai.encode())
        self.cli("response", "set", "--model", "claude", "--prompt", "b", input=anthropic.encode())
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "c", "--prompt-tokens", "10",
                 "--completion-tokens", "5", "plain text answer")
        for _ in range(2):
            self.cli("response", "get", "--model", "gpt-4o", "--prompt", "a")
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", "c")
        self.cli("response", "get", "--model", "claude", "--prompt", "b")
        self.cli("response", "get", "--model", "claude", "--prompt", "missing", code=EXIT_MISS)
        models = self.stats()["models"]
        gpt = models["gpt-4o"]
        self.assertEqual(gpt["hits"], 3)
        self.assertEqual(gpt["prompt_tokens_saved"], 2010)
        self.assertEqual(gpt["completion_tokens_saved"], 405)
        self.assertEqual(gpt["tokens_saved"], 2415)
        # 2010 * 2.5 + 405 * 10 = 9075 USD per million tokens.
        self.assertAlmostEqual(gpt["cost_saved_usd"], 0.009075, places=9)
        claude = models["claude"]
        self.assertEqual((claude["hits"], claude["prompt_tokens_saved"], claude["completion_tokens_saved"]),
                         (1, 30, 7))
        self.assertEqual(claude["cost_saved_usd"], 0)
        text = self.cli("stats").text
        self.assertRegex(text, r"gpt-4o\s+3\s+2010\s+405\s+\$0\.0091")

    def test_the_stored_meta_comes_back_with_get(self):
        self.start_daemon()
        self.cli("response", "set", "--model", "m", "--prompt", "p", "--prompt-tokens", "3", "x")
        key = self.cli("response", "key", "--model", "m", "--prompt", "p").text.strip()
        self.assertEqual(self.cli_json("inspect", key)["entry"]["meta"], {"model": "m", "prompt_tokens": 3})


class EmbeddingAndRetrieval(WithDaemon):

    def test_a_vector_given_as_json_is_stored_as_float32(self):
        self.cli("embedding", "set", "--model", "e", "--text", "Hello", "[0.25, -1.5, 3]")
        self.assertEqual(json.loads(self.cli("embedding", "get", "--model", "e", "--text", "Hello").stdout),
                         [0.25, -1.5, 3])
        raw = self.cli("embedding", "get", "--model", "e", "--text", "Hello", "--raw").stdout
        self.assertEqual(raw, struct.pack("<3f", 0.25, -1.5, 3))
        self.cli("embedding", "get", "--model", "e", "--text", "hello", code=EXIT_MISS)

    def test_raw_float32_input_is_kept(self):
        raw = struct.pack("<4f", 1, 2, 3, 4)
        self.cli("embedding", "set", "--model", "e", "--text", "x", input=raw)
        self.assertEqual(json.loads(self.cli("embedding", "get", "--model", "e", "--text", "x").stdout), [1, 2, 3, 4])

    def test_a_bad_vector_is_refused_and_nothing_stored(self):
        for value, needle in ((b"[1, \"a\"]", "not a number"), (b"abc", "not a float32 vector"),
                              (b"[1e99]", "float32"), (b"[]", "non-empty")):
            result = self.run_cli("embedding", "set", "--model", "e", "--text", "x", input=value)
            self.assertEqual(result.code, EXIT_USAGE, result.describe())
            self.assertIn(needle, result.stderr)
        self.assertEqual(self.cli("keys").text, "")

    def test_retrieval_results_must_be_a_json_array_and_top_k_is_part_of_the_key(self):
        docs = b'[{"id": "d1", "text": "RAG is..."}]'
        self.cli("retrieval", "set", "--retriever", "idx", "--query", "What is RAG?", "--top-k", "5", input=docs)
        self.assertEqual(self.cli("retrieval", "get", "--retriever", "idx", "--query", "What is RAG?", "--top-k",
                                  "5").stdout, docs)
        self.cli("retrieval", "get", "--retriever", "idx", "--query", "What is RAG?", "--top-k", "3", code=EXIT_MISS)
        bad = self.run_cli("retrieval", "set", "--retriever", "idx", "--query", "q", input=b'{"not": "array"}')
        self.assertEqual(bad.code, EXIT_USAGE)
        self.assertIn("JSON array", bad.stderr)
        self.assertEqual(self.cli("invalidate", "--retriever", "idx").text.strip(), "1")


class ContextLayer(WithDaemon):

    def test_turns_are_separate_and_a_session_is_invalidated_whole(self):
        for turn in range(3):
            self.cli("context", "set", "--session", "user-123", "--turn", str(turn), f"state {turn}")
        self.cli("context", "set", "--session", "user-456", "--turn", "0", "other")
        self.assertEqual(self.cli("context", "get", "--session", "user-123", "--turn", "1").stdout, b"state 1")
        self.assertEqual(self.cli("context", "invalidate", "--session", "user-123").text.strip(), "3")
        self.cli("context", "get", "--session", "user-123", "--turn", "0", code=EXIT_MISS)
        self.assertEqual(self.cli("context", "get", "--session", "user-456", "--turn", "0").stdout, b"other")
        self.assertEqual(self.cli("invalidate", "--session", "user-456").text.strip(), "1")

    def test_a_negative_turn_is_a_usage_error(self):
        self.assertEqual(self.run_cli("context", "get", "--session", "s", "--turn", "-1").code, EXIT_USAGE)


class Dependencies(WithDaemon):

    def test_invalidating_a_dependency_removes_its_dependents_once_per_version(self):
        self.cli("set", "summary", "s", "--dep", "doc:contract-123")
        self.cli("response", "set", "--model", "m", "--prompt", "summarise", "--dep", "doc:contract-123", "sum")
        self.cli("response", "set", "--model", "m", "--prompt", "both", "--dep", "doc:contract-123", "--dep",
                 "doc:other", "both")
        self.cli("response", "set", "--model", "m", "--prompt", "unrelated", "--dep", "doc:other", "u")
        key = self.cli("response", "key", "--model", "m", "--prompt", "both").text.strip()
        self.assertEqual([d["name"] for d in self.inspect(key)["deps"]], ["doc:contract-123", "doc:other"])
        self.assertIn("depends on:  doc:contract-123, doc:other", self.cli("inspect", key).text)

        self.assertEqual(self.cli("invalidate", "--dep", "doc:contract-123", "--new-hash", "v2").text.strip(), "3")
        self.cli("get", "summary", code=EXIT_MISS)
        self.cli("response", "get", "--model", "m", "--prompt", "summarise", code=EXIT_MISS)
        self.assertEqual(self.cli("response", "get", "--model", "m", "--prompt", "unrelated").stdout, b"u")

        # Rebuilt under v2; the same hash again removes nothing.
        self.cli("response", "set", "--model", "m", "--prompt", "summarise", "--dep", "doc:contract-123", "sum2")
        self.assertEqual(self.cli("invalidate", "--dep", "doc:contract-123", "--new-hash", "v2").text.strip(), "0")
        self.assertEqual(self.cli("response", "get", "--model", "m", "--prompt", "summarise").stdout, b"sum2")
        # A new hash, or none, removes it.
        self.assertEqual(self.cli("invalidate", "--dep", "doc:contract-123").text.strip(), "1")

    def test_several_deps_at_once(self):
        self.cli("response", "set", "--model", "m", "--prompt", "a", "--dep", "d1", "x")
        self.cli("response", "set", "--model", "m", "--prompt", "b", "--dep", "d2", "x")
        self.cli("response", "set", "--model", "m", "--prompt", "c", "--dep", "d3", "x")
        self.assertEqual(self.cli_json("invalidate", "--dep", "d1", "--dep", "d2"), {"removed": 2})

    def test_dep_does_not_mix_with_other_selectors(self):
        result = self.run_cli("invalidate", "--dep", "d1", "some-tag")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertIn("--dep cannot be combined", result.stderr)
        result = self.run_cli("invalidate", "--new-hash", "v1")
        self.assertEqual(result.code, EXIT_USAGE)


class Events(IntegrationTest):

    RULES = """
[rules.model_updated]
tags = ["model:{model}"]

[rules.document_changed]
deps = ["doc:{doc}"]
patterns = ["summary:{doc}:*"]
"""

    def setUp(self):
        super().setUp()
        self.sandbox.write_config(self.RULES)
        self.start_daemon()

    def test_an_event_fills_its_placeholders_and_removes_the_targets(self):
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "a", "1")
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", "b", "2")
        self.cli("response", "set", "--model", "other", "--prompt", "a", "3")
        result = self.cli_json("event", "model_updated", "model=gpt-4o")
        self.assertEqual(result, {"event": "model_updated", "removed": 2,
                                  "targets": [{"kind": "tag", "target": "model:gpt-4o", "removed": 2}]})
        self.assertEqual(self.cli("response", "get", "--model", "other", "--prompt", "a").stdout, b"3")

    def test_patterns_and_deps_together(self):
        self.cli("set", "summary:42:short", "s")
        self.cli("set", "summary:42:long", "l")
        self.cli("set", "summary:43:short", "keep")
        self.cli("response", "set", "--model", "m", "--prompt", "q", "--dep", "doc:42", "a")
        text = self.cli("event", "document_changed", "doc=42").text
        self.assertRegex(text, r"pattern summary:42:\*\s+2")
        self.assertRegex(text, r"dep doc:42\s+1")
        self.assertRegex(text, r"total\s+3")
        self.assertEqual(self.cli("keys").text.split(), ["summary:43:short"])

    def test_a_missing_value_or_unknown_event_removes_nothing(self):
        self.cli("set", "summary:42:short", "s")
        result = self.run_cli("event", "document_changed")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertIn("{doc}", result.stderr)
        self.assertIn("doc=VALUE", result.stderr)
        result = self.run_cli("event", "nope", "x=1")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertIn("no rule for event 'nope'", result.stderr)
        self.assertIn("document_changed, model_updated", result.stderr)
        result = self.run_cli("event", "document_changed", "doc")
        self.assertEqual(result.code, EXIT_USAGE)
        self.assertEqual(self.cli("keys").text.split(), ["summary:42:short"])
