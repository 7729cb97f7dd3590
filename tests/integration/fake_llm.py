"""A fake LLM provider on 127.0.0.1: OpenAI's chat completions, completions,
embeddings and models, and Anthropic's messages, with deterministic answers
derived from each request, real server-sent events for `stream: true`, and
controls to make it fail, slow down, cut a stream or hold its answers. It
also speaks Ollama's native API: POST /api/chat (one JSON answer with
`"stream": false`, newline-delimited JSON chunks otherwise) and GET /api/tags,
which lists the models pull_ollama_model() has "pulled", each with a digest.

    fake = FakeLLM()
    fake.url                       # http://127.0.0.1:PORT (the API under /v1)
    fake.count("/v1/chat/completions")
    fake.last_body()               # the last request's JSON body
    fake.fail_next(500, '{"error": ...}')
    fake.close()

Answers: chat, completions and messages say `PREFIX: <the last user text>`
(PREFIX is "Echo" unless set_prefix changes it), with usage counted in words.
Embeddings are 8 floats per text taken from the SHA-256 of the text (each a
multiple of 1/128, so exact in float32). The server speaks HTTP/1.1 with
keep-alive: every reply has a Content-Length or is chunked.
"""

import base64
import collections
import hashlib
import http.server
import json
import socket
import struct
import threading
import time

HOLD_LIMIT = 60.0  # seconds a held answer waits for release() at most
PAUSE = 0.003      # between the events of a stream
EMBEDDING_DIM = 8
CREATED = 1700000000


def answer_text(prefix, text):
    return f"{prefix}: {text}"


def words(text):
    return len(text.split())


def embedding(text, dimensions=None):
    """The fake's vector of `text`: floats exact in float32."""
    count = dimensions or EMBEDDING_DIM
    digest = b""
    block = 0
    while len(digest) < count:
        digest += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    return [(b - 128) / 128 for b in digest[:count]]


def float32_bytes(vector):
    return struct.pack(f"<{len(vector)}f", *vector)


def vector_from_base64(text):
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def part_text(content):
    """The text of a message's content: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def last_user_text(messages):
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return part_text(message.get("content"))
    return ""


def sse(data, event=None):
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class FakeLLM:
    """The fake provider, serving from a thread until close()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.prefix = "Echo"
        self.counts = collections.Counter()
        self.requests = collections.deque(maxlen=200)  # {"method", "path", "query", "headers", "raw", "body"}
        self.failures = []   # (status, body bytes, content type)
        self.delays = []     # seconds before the next answers' heads
        self.breaks = 0      # streams still to cut midway
        self.cached_tokens = None  # (cached/read, written) input tokens to report in usage
        self.released = threading.Event()
        self.released.set()
        self.closing = threading.Event()
        self.waiting = 0     # answers held right now
        self.ollama_models = {}  # Ollama model name -> digest
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A head and its body are written apart: with Nagle's algorithm the
            # body would wait for the peer's delayed acknowledgement.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.serve("GET")

            def do_POST(self):
                self.serve("POST")

            def serve(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                try:
                    fake._serve(self, method, path, query, raw, body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the proxy gave up on this answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # -- controls -----------------------------------------------------------------

    def set_prefix(self, prefix):
        with self.lock:
            self.prefix = prefix

    def fail_next(self, status, body, content_type="application/json"):
        """The next answer is `status` with `body` instead."""
        with self.lock:
            self.failures.append((status, body.encode() if isinstance(body, str) else body, content_type))

    def delay_next(self, seconds):
        """The next answer's head waits `seconds` (cut short by close())."""
        with self.lock:
            self.delays.append(seconds)

    def break_next_stream(self):
        """The next streamed answer sends half its events, then closes the connection."""
        with self.lock:
            self.breaks += 1

    def report_prompt_cache(self, cached, written=0):
        """Answers report `cached` input tokens read from the provider's prompt
        cache (and, for Anthropic, `written` tokens written to it); None: not at all."""
        with self.lock:
            self.cached_tokens = None if cached is None else (cached, written)

    def pull_ollama_model(self, name, digest=None):
        """Lists `name` in /api/tags with `digest` (a fresh one by default),
        as `ollama pull` does when it brings a new version."""
        with self.lock:
            self.ollama_models[name] = digest or hashlib.sha256(f"{name}:{time.monotonic_ns()}".encode()).hexdigest()
            return self.ollama_models[name]

    def hold(self):
        """Answers wait (bounded) until release()."""
        self.released.clear()

    def release(self):
        self.released.set()

    def held(self):
        with self.lock:
            return self.waiting

    # -- what it saw --------------------------------------------------------------

    def count(self, path=None):
        with self.lock:
            return sum(self.counts.values()) if path is None else self.counts[path]

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def last_body(self):
        last = self.last()
        return last and last["body"]

    def last_headers(self):
        last = self.last()
        return last and last["headers"]

    def close(self):
        self.closing.set()
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # -- answering ----------------------------------------------------------------

    def _serve(self, handler, method, path, query, raw, body):
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.counts[path] += 1
            self.requests.append({"method": method, "path": path, "query": query, "headers": headers, "raw": raw,
                                  "body": body})
            failure = self.failures.pop(0) if self.failures else None
            delay = self.delays.pop(0) if self.delays else 0
            prefix = self.prefix
            cache = self.cached_tokens
        if not self.released.is_set():
            with self.lock:
                self.waiting += 1
            self.released.wait(HOLD_LIMIT)
            with self.lock:
                self.waiting -= 1
        if delay:
            self.closing.wait(delay)
        if failure:
            status, data, content_type = failure
            return self._reply(handler, status, data, content_type)
        if method == "GET" and path == "/v1/models":
            return self._json(handler, 200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": CREATED, "owned_by": "fake"}]})
        if method == "GET" and path == "/api/tags":
            return self._ollama_tags(handler)
        if method != "POST" or not isinstance(body, dict) or path not in ANSWERS:
            return self._json(handler, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
        return ANSWERS[path](self, handler, body, prefix, cache)

    def _reply(self, handler, status, data, content_type="application/json", extra=()):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Request-Id", "req_" + hashlib.sha256(data).hexdigest()[:16])
        for name, value in extra:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _json(self, handler, status, value):
        self._reply(handler, status, json.dumps(value, separators=(",", ":")).encode())

    def _stream(self, handler, events, content_type="text/event-stream; charset=utf-8"):
        """Sends `events` chunked, with short pauses; cuts the connection
        midway when a break was asked for."""
        with self.lock:
            cut = self.breaks > 0
            self.breaks -= 1 if cut else 0
        if cut:
            events = events[:len(events) // 2]
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.flush()
        for event in events:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            handler.wfile.flush()
            time.sleep(PAUSE)
        if cut:
            handler.close_connection = True
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    def _identity(self, body, prefix):
        """An id that depends on what was asked, not how it is delivered."""
        asked = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        digest = hashlib.sha256((prefix + json.dumps(asked, sort_keys=True)).encode()).hexdigest()
        return digest[:24]

    # -- OpenAI -------------------------------------------------------------------

    def _openai_usage(self, prompt, completion, cache):
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        if cache is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": cache[0]}
        return usage

    def _chat(self, handler, body, prefix, cache):
        messages = body.get("messages") or []
        text = answer_text(prefix, last_user_text(messages))
        prompt = sum(words(part_text(m.get("content"))) for m in messages if isinstance(m, dict))
        usage = self._openai_usage(prompt, words(text), cache)
        ident = "chatcmpl-" + self._identity(body, prefix)
        model = body.get("model")
        if not body.get("stream"):
            return self._json(handler, 200, {
                "id": ident, "object": "chat.completion", "created": CREATED, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                             "finish_reason": "stop"}],
                "usage": usage})
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta, finish=None, choices=True):
            value = {"id": ident, "object": "chat.completion.chunk", "created": CREATED, "model": model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
                     if choices else []}
            if with_usage:
                value["usage"] = None
            return value

        events = [sse(chunk({"role": "assistant", "content": ""}))]
        events += [sse(chunk({"content": piece})) for piece in pieces(text)]
        events.append(sse(chunk({}, "stop")))
        if with_usage:
            last = chunk(None, choices=False)
            last["usage"] = usage
            events.append(sse(last))
        events.append(b"data: [DONE]\n\n")
        self._stream(handler, events)

    def _completions(self, handler, body, prefix, cache):
        prompt = body.get("prompt")
        prompt = prompt if isinstance(prompt, str) else " ".join(p for p in prompt or [] if isinstance(p, str))
        text = answer_text(prefix, prompt)
        usage = self._openai_usage(words(prompt), words(text), cache)
        ident = "cmpl-" + self._identity(body, prefix)
        model = body.get("model")
        if not body.get("stream"):
            return self._json(handler, 200, {
                "id": ident, "object": "text_completion", "created": CREATED, "model": model,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": usage})

        def chunk(piece, finish=None):
            return {"id": ident, "object": "text_completion", "created": CREATED, "model": model,
                    "choices": [{"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}]}

        events = [sse(chunk(piece)) for piece in pieces(text)]
        events.append(sse(chunk("", "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(sse({"id": ident, "object": "text_completion", "created": CREATED, "model": model,
                               "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        self._stream(handler, events)

    def _embeddings(self, handler, body, prefix, cache):
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dimensions = body.get("dimensions")
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vector = embedding(text, dimensions)
            value = base64.b64encode(float32_bytes(vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(words(t) for t in inputs if isinstance(t, str))
        self._json(handler, 200, {"object": "list", "data": data, "model": body.get("model"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    # -- Anthropic ----------------------------------------------------------------

    def _messages(self, handler, body, prefix, cache):
        messages = body.get("messages") or []
        text = answer_text(prefix, last_user_text(messages))
        system = body.get("system")
        prompt = sum(words(part_text(m.get("content"))) for m in messages if isinstance(m, dict))
        prompt += words(part_text(system)) if system else 0
        usage = {"input_tokens": prompt, "output_tokens": words(text)}
        if cache is not None:
            usage["cache_read_input_tokens"] = cache[0]
            usage["cache_creation_input_tokens"] = cache[1]
        ident = "msg_" + self._identity(body, prefix)
        model = body.get("model")
        message = {"id": ident, "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": usage}
        if not body.get("stream"):
            return self._json(handler, 200, message)
        start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
        events = [sse({"type": "message_start", "message": start}, "message_start"),
                  sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                      "content_block_start"),
                  sse({"type": "ping"}, "ping")]
        events += [sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                       "content_block_delta") for piece in pieces(text)]
        events += [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                   sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta"),
                   sse({"type": "message_stop"}, "message_stop")]
        self._stream(handler, events)


    # -- Ollama ------------------------------------------------------------------

    def _ollama_tags(self, handler):
        with self.lock:
            models = sorted(self.ollama_models.items())
        self._json(handler, 200, {"models": [
            {"name": name, "model": name, "modified_at": "2024-01-01T00:00:00Z", "size": 1000, "digest": digest,
             "details": {"format": "gguf", "family": "fake"}} for name, digest in models]})

    def _ollama_chat(self, handler, body, prefix, cache):
        model = body.get("model")
        with self.lock:
            known = model in self.ollama_models or f"{model}:latest" in self.ollama_models
        if not known:
            return self._json(handler, 404, {"error": f"model '{model}' not found"})
        messages = body.get("messages") or []
        text = answer_text(prefix, last_user_text(messages))
        prompt = sum(words(part_text(m.get("content"))) for m in messages if isinstance(m, dict))
        done = {"model": model, "created_at": "2024-01-01T00:00:00Z", "done": True, "done_reason": "stop",
                "total_duration": 1000, "load_duration": 10, "prompt_eval_count": prompt, "eval_count": words(text)}
        if body.get("stream") is False:
            return self._json(handler, 200, dict(done, message={"role": "assistant", "content": text}))
        # Ollama streams unless told not to: a JSON object a line, the last one with the counts.
        lines = [json.dumps({"model": model, "created_at": "2024-01-01T00:00:00Z", "done": False,
                             "message": {"role": "assistant", "content": piece}}).encode() + b"\n"
                 for piece in pieces(text)]
        lines.append(json.dumps(dict(done, message={"role": "assistant", "content": ""})).encode() + b"\n")
        self._stream(handler, lines, "application/x-ndjson")


def pieces(text):
    """`text` in several deltas: a word each, with its leading space."""
    out = []
    for i, word in enumerate(text.split(" ")):
        out.append(word if i == 0 else " " + word)
    return out


ANSWERS = {
    "/v1/chat/completions": FakeLLM._chat,
    "/v1/completions": FakeLLM._completions,
    "/v1/embeddings": FakeLLM._embeddings,
    "/v1/messages": FakeLLM._messages,
    "/api/chat": FakeLLM._ollama_chat,
}


def parse_sse(data):
    """The events of a server-sent events body: a list of (event name or None, data text)."""
    events = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        name, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[6:] if line[5:6] == " " else line[5:])
        if lines:
            events.append((name, "\n".join(lines)))
    return events


def openai_stream_text(data):
    """The text an OpenAI stream (chat or completions) carries, joined."""
    out = []
    for _, payload in parse_sse(data):
        if payload == "[DONE]":
            continue
        for choice in json.loads(payload).get("choices") or []:
            out.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return "".join(out)


def anthropic_stream_text(data):
    out = []
    for name, payload in parse_sse(data):
        value = json.loads(payload)
        if value.get("type") == "content_block_delta":
            out.append(value["delta"].get("text", ""))
    return "".join(out)
