"""The official OpenAI and Anthropic SDKs (npm packages `openai` and
`@anthropic-ai/sdk`, versions pinned in node/package.json) pointed at the
proxy: answers, streams and embeddings come back as the SDKs expect them,
the second identical request is a hit, and the provider is asked once.

The packages are installed once with `npm ci` into OMNICACHE_TEST_NODE_DIR
(a temporary folder when unset) and reused while the lock file is unchanged.
The module is skipped only when node or npm is missing."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from fake_llm import embedding
from proxy_harness import CLAUDE, MODEL, ProxyTest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "node")
SCRIPTS = ("openai_steps.mjs", "anthropic_steps.mjs")
INSTALLED_STAMP = ".installed-lock.json"
NPM_TIMEOUT = 600
NODE_TIMEOUT = 120

node_dir = None
temporary_dir = None


def setUpModule():
    global node_dir, temporary_dir
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise unittest.SkipTest(f"{' and '.join(missing)} not found on PATH: the SDK tests need Node.js and npm")
    node_dir = os.environ.get("OMNICACHE_TEST_NODE_DIR")
    if not node_dir:
        node_dir = temporary_dir = tempfile.mkdtemp(prefix="oc-node-")
    os.makedirs(node_dir, exist_ok=True)
    for name in ("package.json", "package-lock.json") + SCRIPTS:
        shutil.copyfile(os.path.join(SOURCE, name), os.path.join(node_dir, name))
    with open(os.path.join(SOURCE, "package-lock.json"), "rb") as f:
        lock = f.read()
    stamp = os.path.join(node_dir, INSTALLED_STAMP)
    if os.path.isdir(os.path.join(node_dir, "node_modules")) and os.path.exists(stamp):
        with open(stamp, "rb") as f:
            if f.read() == lock:
                return
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=node_dir, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=NPM_TIMEOUT)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise AssertionError(f"npm ci in {node_dir} failed with {done.returncode}:\n{output[-4000:]}")
    with open(stamp, "wb") as f:
        f.write(lock)


def tearDownModule():
    if temporary_dir:
        shutil.rmtree(temporary_dir, ignore_errors=True)


class Sdk(ProxyTest):

    def setUp(self):
        super().setUp()
        self.start_proxy()

    def run_steps(self, script, base_url, steps):
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.update(NO_PROXY="127.0.0.1", OPENAI_API_KEY="sk-test", ANTHROPIC_API_KEY="sk-ant-test")
        done = subprocess.run(["node", script, base_url, json.dumps(steps)], cwd=node_dir, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=NODE_TIMEOUT)
        stderr = done.stderr.decode(errors="replace")
        self.assertEqual(done.returncode, 0, f"node {script} failed:\n{stderr[-3000:]}")
        results = json.loads(done.stdout)
        for step, result in zip(steps, results):
            self.assertNotIn("error", result, f"{step} failed: {result}\n{stderr[-2000:]}")
        return results

    def openai(self, *steps):
        return self.run_steps("openai_steps.mjs", self.base_url + "/v1", list(steps))

    def anthropic(self, *steps):
        return self.run_steps("anthropic_steps.mjs", self.base_url, list(steps))

    def test_openai_chat_is_answered_then_hit(self):
        ask = {"op": "chat", "model": MODEL, "text": "What is 2+2?"}
        first, second = self.openai(ask, ask)
        self.assertEqual((first["cache"], second["cache"]), ("MISS", "HIT"))
        self.assertEqual((first["content"], second["content"]), ("Echo: What is 2+2?",) * 2)
        self.assertEqual(second["id"], first["id"])
        self.assertEqual(second["usage"], first["usage"])
        self.assertEqual(first["key"], second["key"])
        self.assertEqual(self.fake.count("/v1/chat/completions"), 1)
        self.assertEqual(self.fake.last_headers().get("authorization"), "Bearer sk-test")

    def test_openai_streams_are_passed_through_then_replayed(self):
        ask = {"op": "chat_stream", "model": MODEL, "text": "Count to three."}
        counted = dict(ask, include_usage=True)
        first, replay, with_usage, plain = self.openai(ask, ask, counted, dict(ask, op="chat"))
        self.assertEqual([r["cache"] for r in (first, replay, with_usage, plain)], ["MISS", "HIT", "HIT", "HIT"])
        for result in (first, replay, with_usage, plain):
            self.assertEqual(result["content"], "Echo: Count to three.")
        self.assertGreater(replay["chunks"], 1)
        self.assertIsNone(replay["usage"])
        self.assertEqual((with_usage["usage"]["prompt_tokens"], with_usage["usage"]["completion_tokens"]), (3, 4))
        self.assertEqual(self.fake.count("/v1/chat/completions"), 1)

    def test_openai_embeddings_decode_to_the_upstreams_vectors(self):
        first, second = self.openai({"op": "embeddings", "model": "text-embedding-3-small", "input": ["red", "green"]},
                                    {"op": "embeddings", "model": "text-embedding-3-small", "input": ["green", "blue"]})
        self.assertEqual((first["cache"], first["cached"]), ("MISS", "0/2"))
        self.assertEqual(first["vectors"], [embedding("red"), embedding("green")])
        self.assertEqual((second["cache"], second["cached"]), ("MISS", "1/2"))
        self.assertEqual(second["vectors"], [embedding("green"), embedding("blue")])
        self.assertEqual(self.fake.last_body(), {"model": "text-embedding-3-small", "input": ["blue"],
                                                 "encoding_format": "base64"})
        third, = self.openai({"op": "embeddings", "model": "text-embedding-3-small", "input": ["blue", "red"],
                              "encoding_format": "float"})
        self.assertEqual((third["cache"], third["cached"]), ("HIT", "2/2"))
        self.assertEqual(third["vectors"], [embedding("blue"), embedding("red")])
        self.assertEqual(self.fake.count("/v1/embeddings"), 2)

    def test_anthropic_messages_are_answered_then_hit(self):
        ask = {"op": "message", "model": CLAUDE, "text": "Say hello."}
        first, second = self.anthropic(ask, ask)
        self.assertEqual((first["cache"], second["cache"]), ("MISS", "HIT"))
        self.assertEqual((first["content"], second["content"]), ("Echo: Say hello.",) * 2)
        self.assertEqual((second["id"], second["usage"]), (first["id"], first["usage"]))
        self.assertEqual(self.fake.count("/v1/messages"), 1)
        # The SDK sends its key as x-api-key or as a bearer token, by version: either way it is passed on.
        headers = self.fake.last_headers()
        self.assertIn("sk-ant-test", (headers.get("x-api-key"), (headers.get("authorization") or "")[7:]), headers)

    def test_anthropic_streams_are_passed_through_then_replayed(self):
        ask = {"op": "message_stream", "model": CLAUDE, "text": "Write a haiku."}
        first, replay, final, plain = self.anthropic(ask, ask, dict(ask, op="message_final"),
                                                      dict(ask, op="message"))
        self.assertEqual([r["cache"] for r in (first, replay, final, plain)], ["MISS", "HIT", "HIT", "HIT"])
        for result in (first, replay, final, plain):
            self.assertEqual(result["content"], "Echo: Write a haiku.")
        self.assertEqual((replay["events"][0], replay["events"][-1]), ("message_start", "message_stop"))
        self.assertIn("content_block_delta", replay["events"])
        self.assertEqual(final["stop"], "end_turn")
        self.assertEqual(self.fake.count("/v1/messages"), 1)
