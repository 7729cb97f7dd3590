"""The `openai` embedder against a stub OpenAI-compatible /v1/embeddings
server: matches through the endpoint's vectors, each text sent once (kept in
the embedding layer, across restarts), batching, the API key, and every way
the endpoint can fail (refused, timeout, HTTP 500, garbage JSON, a wrong
count of vectors, TLS): lookups fall back to exact match with a counted
warning, nothing fails, and other clients are never held up."""

import hashlib
import http.server
import json
import math
import os
import shutil
import signal
import ssl
import struct
import subprocess
import threading
import time
import unittest

import harness
from harness import CLI, EXIT_MISS, EXIT_USAGE, IntegrationTest, wait_for

MODEL = "stub-embed"
DIM = 16

# Questions with fixed vectors: each paraphrase is close to its original
# (cosine about 0.98), every other text is far from all of them.
PASSWORD = "How do I reset my password?"
PASSWORD_TOO = "What is the way to change my password?"
FRANCE = "What is the capital of France?"
FRANCE_TOO = "Which city is France's capital?"
TABLE = {
    PASSWORD: [1.0, 0, 0, 0],
    PASSWORD_TOO: [0.98, 0.2, 0, 0],
    FRANCE: [0, 0, 1.0, 0],
    FRANCE_TOO: [0, 0, 0.98, 0.2],
}
THRESHOLD = "0.9"


def stub_vector(text):
    """The stub's vector of `text`, before normalisation."""
    if text in TABLE:
        return TABLE[text] + [0.0] * (DIM - 4)
    digest = hashlib.sha256(text.encode()).digest()
    return [0.0] * 4 + [(b - 127.5) / 127.5 for b in digest[:DIM - 4]]


def unit(vector):
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


class Stub:
    """A threaded HTTP server on 127.0.0.1 answering POST /v1/embeddings.

    mode: "answer", "hold" (wait for `release` first), "500", "garbage",
    "count" (one vector too many). Records each request it received."""

    def __init__(self, tls_files=None):
        self.mode = "answer"
        self.drop_connections = False  # close each connection after one answer, without saying so
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.requests = []  # {"path", "auth", "body"}
        self.arrived = 0
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with stub.lock:
                    stub.arrived += 1
                    stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                          "body": body, "peer": self.client_address})
                    mode = stub.mode
                if mode == "hold":
                    stub.release.wait(timeout=60)
                try:
                    self.answer(mode, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon gave up on this request
                if stub.drop_connections:
                    self.close_connection = True

            def answer(self, mode, body):
                if mode == "500":
                    self.reply(500, json.dumps({"error": {"message": "the model is not loaded", "type": "server"}}))
                    return
                if mode == "garbage":
                    self.reply(200, '{"data": [{"embedding": [0.1, 0.2')
                    return
                if self.path != "/v1/embeddings" or not isinstance(body, dict):
                    self.reply(404, json.dumps({"error": "not found"}))
                    return
                inputs = body.get("input") or []
                data = [{"object": "embedding", "index": i, "embedding": stub_vector(text)}
                        for i, text in enumerate(inputs)]
                data.reverse()  # the index, not the order, says which text a vector belongs to
                if mode == "count":
                    data.append({"object": "embedding", "index": len(inputs), "embedding": stub_vector("extra")})
                self.reply(200, json.dumps({"object": "list", "data": data, "model": body.get("model")}))

            def reply(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_files:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_files)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme="http", host="127.0.0.1"):
        return f"{scheme}://{host}:{self.port}/v1"

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def inputs(self):
        """Every text sent, in order."""
        with self.lock:
            return [text for r in self.requests for text in ((r["body"] or {}).get("input") or [])]

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class EmbedderTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.stub = Stub()
        self.addCleanup(self.stub.close)

    def start(self, *options, url=None, env=None):
        return self.start_daemon("semantic.embedder=openai", f"semantic.openai_url={url or self.stub.url()}",
                                 f"semantic.openai_model={MODEL}", *options, env=env)

    def semantic_get(self, text, *args, code=None, **kwargs):
        result = self.run_cli("semantic", "get", text, "--model", "gpt-4o", "--threshold", THRESHOLD, "--no-guard",
                              "--json", *args, **kwargs)
        if code is not None:
            self.assertEqual(result.code, code, result.describe())
        return result.json()

    def semantic_set(self, text, answer, *args):
        return self.cli_json("semantic", "set", text, answer, "--model", "gpt-4o", *args)

    def semantic_set_unindexed(self, text, answer):
        """A set while the endpoint fails: stored for exact matches, and
        the warning on stderr. Returns the warning."""
        result = self.cli("semantic", "set", text, answer, "--model", "gpt-4o", "--json")
        self.assertEqual(result.json()["indexed"], False)
        self.assertIn("omnicache: stored for exact matches only: embeddings endpoint", result.stderr)
        return result.stderr

    def failures(self):
        return self.stats()["server"]["semantic_embed_failures"]


class Matching(EmbedderTest):

    def test_a_paraphrase_hits_through_the_endpoints_vectors(self):
        self.start()
        stored = self.semantic_set(PASSWORD, "Use the reset link.")
        self.assertEqual((stored["indexed"], stored["embedder"]), (True, f"openai/{MODEL}"))
        hit = self.semantic_get(PASSWORD_TOO, code=0)
        self.assertEqual((hit["match"], hit["value"], hit["key"]), ("semantic", "Use the reset link.", stored["key"]))
        self.assertAlmostEqual(hit["similarity"], 0.98 / math.sqrt(0.98 ** 2 + 0.2 ** 2), places=5)
        miss = self.semantic_get(FRANCE, code=EXIT_MISS)
        self.assertNotIn("warning", miss)
        self.assertEqual(self.stats()["server"]["semantic_embedder"], f"openai/{MODEL}")
        self.assertEqual({r["path"] for r in self.stub.requests}, {"/v1/embeddings"})
        self.assertEqual({r["body"]["model"] for r in self.stub.requests}, {MODEL})
        self.assertNotIn("dimensions", self.stub.requests[0]["body"])
        self.assertEqual(len({r["peer"] for r in self.stub.requests}), 1, "one kept-alive connection")
        self.assertEqual(self.failures(), 0)

    def test_a_connection_the_endpoint_dropped_is_replaced_without_a_failure(self):
        daemon = self.start()
        self.stub.drop_connections = True
        for text in (PASSWORD, FRANCE, "a third question"):
            self.assertEqual(self.semantic_set(text, "answer")["indexed"], True)
        self.assertEqual(self.stub.request_count(), 3)
        self.assertEqual(len({r["peer"] for r in self.stub.requests}), 3)
        self.assertEqual(self.failures(), 0)
        self.assertNotIn("embeddings endpoint", daemon.log_text(tail=None))

    def test_a_text_is_sent_once_even_across_restarts(self):
        daemon = self.start()
        self.semantic_set(FRANCE, "Paris")
        self.semantic_get(FRANCE_TOO, code=0)
        self.semantic_get(FRANCE_TOO, code=0)
        self.semantic_get(FRANCE, code=0)  # the exact question needs no vector at all
        self.assertEqual(sorted(self.stub.inputs()), sorted([FRANCE, FRANCE_TOO]))
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        self.start()
        self.semantic_get(FRANCE_TOO, code=0)
        self.assertEqual(sorted(self.stub.inputs()), sorted([FRANCE, FRANCE_TOO]))
        # The vector kept is the endpoint's, normalised, under the embedding model's name.
        shown = self.cli("embedding", "get", "--model", MODEL, "--text", FRANCE_TOO)
        kept = json.loads(shown.stdout)
        for got, want in zip(kept, unit(stub_vector(FRANCE_TOO)), strict=True):
            self.assertAlmostEqual(got, want, places=5)
        entry = self.cli_json("inspect", self.embedding_key(FRANCE_TOO))["entry"]
        self.assertEqual((entry["layer"], entry["tags"]), ("embedding", [f"model:{MODEL}"]))

    def test_vectors_are_kept_in_the_tenant_that_asked(self):
        self.start()
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o", "--tenant", "t2")
        self.cli("embedding", "get", "--model", MODEL, "--text", FRANCE, "--tenant", "t2")
        self.cli("embedding", "get", "--model", MODEL, "--text", FRANCE, code=EXIT_MISS)
        # Another tenant asks the endpoint itself. Looking for a kept vector is
        # not the client's lookup: it counts no miss.
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        self.assertEqual(self.stub.inputs(), [FRANCE, FRANCE])
        self.cli("semantic", "get", FRANCE_TOO, "--model", "gpt-4o", "--tenant", "t2", "--no-guard")
        self.cli("semantic", "get", FRANCE_TOO, "--model", "gpt-4o", "--tenant", "t2", "--no-guard")
        embedding = self.stats("--tenant", "t2")["layers"]["embedding"]
        self.assertEqual(embedding["misses"], 0)

    def test_a_vector_stored_by_hand_is_used_and_garbage_is_a_miss(self):
        self.start()
        # A user's own embedding of the question: the endpoint is never asked.
        self.cli("embedding", "set", "--model", MODEL, "--text", FRANCE_TOO, json.dumps(stub_vector(FRANCE)))
        self.semantic_set(FRANCE, "Paris")
        hit = self.semantic_get(FRANCE_TOO, code=0)
        self.assertAlmostEqual(hit["similarity"], 1.0, places=5)
        self.assertEqual(self.stub.inputs(), [FRANCE])
        # A stored value that is no vector, or not one of this model's length,
        # is ignored, and replaced.
        self.cli("set", self.embedding_key(PASSWORD_TOO), "not a vector!", "--layer", "embedding")
        self.cli("embedding", "set", "--model", MODEL, "--text", PASSWORD, "[1, 0, 0]")
        self.semantic_set(PASSWORD, "Use the reset link.")
        self.assertEqual(self.semantic_get(PASSWORD_TOO, code=0)["value"], "Use the reset link.")
        self.assertEqual(self.stub.inputs(), [FRANCE, PASSWORD, PASSWORD_TOO])
        self.assertEqual(len(json.loads(self.cli("embedding", "get", "--model", MODEL, "--text", PASSWORD).stdout)),
                         DIM)

    def test_dimensions_are_asked_for_and_checked(self):
        daemon = self.start(f"semantic.openai_dimensions={DIM}")
        stored = self.semantic_set(FRANCE, "Paris")
        self.assertEqual((stored["indexed"], stored["embedder"]), (True, f"openai/{MODEL}/d{DIM}"))
        self.assertEqual(self.stub.requests[0]["body"]["dimensions"], DIM)
        self.cli("embedding", "get", "--model", f"{MODEL}/d{DIM}", "--text", FRANCE)
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        self.start("semantic.openai_dimensions=4")
        miss = self.semantic_get(FRANCE_TOO, code=EXIT_MISS)
        self.assertIn(f"the answer has {DIM} dimensions, not the 4 asked for", miss["warning"])

    def embedding_key(self, text):
        canonical = json.dumps({"model": MODEL, "text": text}, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        return "embedding:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


class Batching(EmbedderTest):

    def test_texts_asked_for_during_a_request_share_the_next_one(self):
        self.start()
        self.stub.set_mode("hold")
        first = self.background("semantic", "set", "first question", "A", "--model", "gpt-4o")
        wait_for(lambda: self.stub.arrived == 1, message="the stub to receive the first request")
        texts = [f"question number {i}" for i in range(6)]
        # The same text asked for twice at once is sent once.
        others = [self.background("semantic", "set", text, "B", "--model", "gpt-4o") for text in texts + texts[:1]]
        # Every client connected (and this one), then a moment for their requests to be read.
        wait_for(lambda: self.stats()["server"]["connections"] >= len(others) + 2,
                 message="the clients to connect")
        time.sleep(0.5)
        self.stub.set_mode("answer")
        self.stub.release.set()
        for process in [first, *others]:
            out, err = process.communicate(timeout=harness.COMMAND_TIMEOUT)
            self.assertEqual(process.returncode, 0, err)
        self.assertEqual(sorted(self.stub.inputs()), sorted(["first question", *texts]))
        self.assertLess(self.stub.request_count(), 1 + len(texts))
        self.assertGreater(max(len(r["body"]["input"]) for r in self.stub.requests), 1)

    def test_the_batch_size_bounds_a_request(self):
        self.start("semantic.openai_batch=2")
        self.stub.set_mode("hold")
        first = self.background("semantic", "set", "first question", "A", "--model", "gpt-4o")
        wait_for(lambda: self.stub.arrived == 1, message="the stub to receive the first request")
        others = [self.background("semantic", "set", f"question number {i}", "B", "--model", "gpt-4o")
                  for i in range(5)]
        wait_for(lambda: self.stats()["server"]["connections"] >= len(others) + 2,
                 message="the clients to connect")
        time.sleep(0.5)
        self.stub.set_mode("answer")
        self.stub.release.set()
        for process in [first, *others]:
            process.communicate(timeout=harness.COMMAND_TIMEOUT)
            self.assertEqual(process.returncode, 0)
        self.assertEqual(len(self.stub.inputs()), 6)
        self.assertLessEqual(max(len(r["body"]["input"]) for r in self.stub.requests), 2)

    def background(self, *args):
        process = subprocess.Popen([CLI, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.sandbox.environment(), cwd=self.sandbox.root)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process


class Failures(EmbedderTest):

    def check_fallback(self, paraphrase, expected):
        """The endpoint now fails: the stored exact question still hits, a
        paraphrase misses with the warning, the failure is counted, a set
        is stored for exact matches, and the daemon serves on."""
        before = self.failures()
        self.assertEqual(self.semantic_get(PASSWORD, code=0)["match"], "exact")
        miss = self.semantic_get(paraphrase, code=EXIT_MISS)
        self.assertFalse(miss["found"])
        self.assertIn("embeddings endpoint", miss["warning"])
        self.assertIn(expected, miss["warning"])
        plain = self.run_cli("semantic", "get", paraphrase, "--model", "gpt-4o", "--no-guard")
        self.assertEqual(plain.code, EXIT_MISS, plain.describe())
        self.assertIn("exact match only: embeddings endpoint", plain.stderr)
        self.assertIn(expected, self.semantic_set_unindexed(f"{paraphrase} (stored)", "later"))
        self.assertEqual(self.failures(), before + 3)
        self.cli("set", "k", "v")
        self.assertEqual(self.cli("get", "k").stdout, b"v")

    def stored_then(self, mode, *options):
        daemon = self.start(*options)
        self.semantic_set(PASSWORD, "Use the reset link.")
        self.stub.set_mode(mode)
        return daemon

    def test_http_500_falls_back_to_exact_match(self):
        self.stored_then("500")
        self.check_fallback(PASSWORD_TOO, "HTTP 500 Internal Server Error: the model is not loaded")

    def test_garbage_json_falls_back_to_exact_match(self):
        self.stored_then("garbage")
        self.check_fallback(PASSWORD_TOO, "the answer is not JSON")

    def test_a_wrong_number_of_vectors_falls_back_to_exact_match(self):
        self.stored_then("count")
        self.check_fallback(PASSWORD_TOO, "the answer holds 2 vectors for 1 texts")

    def test_a_timeout_falls_back_to_exact_match(self):
        self.stored_then("hold", "semantic.openai_timeout=300ms")
        self.check_fallback(PASSWORD_TOO, "no answer within 300ms")

    def test_a_refused_connection_falls_back_to_exact_match(self):
        daemon = self.start()
        self.semantic_set(PASSWORD, "Use the reset link.")
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        port = self.stub.port
        self.stub.close()
        self.start(url=f"http://127.0.0.1:{port}/v1")
        self.check_fallback(PASSWORD_TOO, f"connecting to 127.0.0.1:{port} failed")

    def test_a_failure_is_not_kept_and_the_endpoint_is_asked_again(self):
        daemon = self.stored_then("500")
        self.semantic_get(PASSWORD_TOO, code=EXIT_MISS)
        self.semantic_get(FRANCE_TOO, code=EXIT_MISS)
        self.stub.set_mode("answer")
        self.assertEqual(self.semantic_get(PASSWORD_TOO, code=0)["value"], "Use the reset link.")
        # One warning for an endpoint that stays down, then one line when it is back.
        log = daemon.log_text(tail=None)
        self.assertEqual(log.count("semantic lookups fall back to exact match"), 1, log)
        self.assertIn("answers again (1 failures not logged)", log)

    def test_another_client_is_served_while_the_endpoint_holds_a_request(self):
        self.start()
        self.stub.set_mode("hold")
        waiting = subprocess.Popen([CLI, "semantic", "set", FRANCE, "Paris", "--model", "gpt-4o"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.sandbox.environment(), cwd=self.sandbox.root)
        self.addCleanup(lambda: waiting.poll() is None and waiting.kill())
        wait_for(lambda: self.stub.arrived == 1, message="the stub to receive the request")
        self.cli("set", "k", "v")
        self.assertEqual(self.cli("get", "k").stdout, b"v")
        self.assertIsNone(waiting.poll(), "the semantic set still waits for its vector")
        self.stub.set_mode("answer")
        self.stub.release.set()
        _, err = waiting.communicate(timeout=harness.COMMAND_TIMEOUT)
        self.assertEqual(waiting.returncode, 0, err)
        self.assertEqual(self.semantic_get(FRANCE_TOO, code=0)["value"], "Paris")

    def test_a_stop_while_the_endpoint_holds_a_request_is_clean(self):
        daemon = self.start("semantic.openai_timeout=2s")
        self.stub.set_mode("hold")
        waiting = subprocess.Popen([CLI, "semantic", "get", FRANCE, "--model", "gpt-4o", "--json"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.sandbox.environment(), cwd=self.sandbox.root)
        self.addCleanup(lambda: waiting.poll() is None and waiting.kill())
        wait_for(lambda: self.stub.arrived == 1, message="the stub to receive the request")
        self.stop_daemon(daemon, signal.SIGTERM)
        out, _ = waiting.communicate(timeout=harness.COMMAND_TIMEOUT)
        self.assertEqual(waiting.returncode, EXIT_MISS)
        self.assertIn("no answer within 2s", json.loads(out)["warning"])


class Settings(EmbedderTest):

    def test_the_api_key_comes_from_the_named_environment_variable(self):
        daemon = self.start(env={"OPENAI_API_KEY": "sk-test-1"})
        self.semantic_set(FRANCE, "Paris")
        self.assertEqual(self.stub.requests[-1]["auth"], "Bearer sk-test-1")
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        daemon = self.start("semantic.openai_api_key_env=MY_EMBEDDINGS_KEY",
                            env={"OPENAI_API_KEY": "sk-not-this", "MY_EMBEDDINGS_KEY": "sk-test-2"})
        self.semantic_set(PASSWORD, "Use the reset link.")
        self.assertEqual(self.stub.requests[-1]["auth"], "Bearer sk-test-2")
        self.assertNotIn("sk-test-2", daemon.log_text(tail=None))
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        self.start(env={"OPENAI_API_KEY": ""})
        self.semantic_set(FRANCE_TOO, "Paris")
        self.assertIsNone(self.stub.requests[-1]["auth"])

    def test_an_incomplete_openai_configuration_is_refused_naming_the_key(self):
        cases = [
            ('[semantic]\nembedder = "openai"\nopenai_model = "m"\n', "semantic.openai_url"),
            ('[semantic]\nembedder = "openai"\nopenai_url = "http://127.0.0.1:1/v1"\n', "semantic.openai_model"),
            ('[semantic]\nembedder = "openai"\nopenai_url = "ftp://h/v1"\nopenai_model = "m"\n',
             "semantic.openai_url"),
            ('[semantic]\nembedder = "remote"\n', "semantic.embedder"),
        ]
        for text, key in cases:
            self.sandbox.write_config(text)
            result = self.cli("config", "show", code=EXIT_USAGE)
            self.assertIn(key, result.stderr)
            result = self.run_daemon("--foreground", "--socket", self.sandbox.socket)
            self.assertEqual(result.code, EXIT_USAGE, result.describe())
            self.assertIn(key, result.stderr)
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_a_url_the_daemon_cannot_use_stops_it_at_start(self):
        result = self.run_daemon("--foreground", "-o", "semantic.embedder=openai", "-o",
                                 "semantic.openai_url=http://host:99999/v1", "-o", f"semantic.openai_model={MODEL}")
        self.assertNotEqual(result.code, 0)
        self.assertIn("semantic.openai_url", result.stderr)
        self.assertIn("not a port", result.stderr)


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl command to make a certificate")
class Tls(EmbedderTest):

    def setUp(self):
        super().setUp()
        self.cert = os.path.join(self.sandbox.root, "cert.pem")
        key = os.path.join(self.sandbox.root, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out",
                        self.cert], check=True, capture_output=True)
        self.tls_stub = Stub(tls_files=(self.cert, key))
        self.addCleanup(self.tls_stub.close)

    def test_https_works_with_a_trusted_certificate(self):
        self.start(url=self.tls_stub.url("https", "localhost"), env={"SSL_CERT_FILE": self.cert})
        self.semantic_set(FRANCE, "Paris")
        self.assertEqual(self.semantic_get(FRANCE_TOO, code=0)["value"], "Paris")
        self.assertEqual(sorted(self.tls_stub.inputs()), sorted([FRANCE, FRANCE_TOO]))

    def test_an_untrusted_certificate_or_another_host_name_is_refused(self):
        daemon = self.start(url=self.tls_stub.url("https", "localhost"))
        self.assertIn("certificate verify failed", self.semantic_set_unindexed(FRANCE, "Paris"))
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        # Trusted, but issued for localhost, not for 127.0.0.1.
        self.start(url=self.tls_stub.url("https", "127.0.0.1"), env={"SSL_CERT_FILE": self.cert})
        self.assertIn("TLS handshake failed", self.semantic_set_unindexed(FRANCE, "Paris"))
        self.assertEqual(self.tls_stub.inputs(), [])


if __name__ == "__main__":
    unittest.main()
