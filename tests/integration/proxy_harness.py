"""Shared setup for the proxy's tests: a fake LLM provider on loopback, a
daemon whose [proxy] listens on a free port and forwards to it, and small
HTTP clients (http.client with keep-alive, and curl) to talk to the proxy."""

import hashlib
import http.client
import json
import os
import re
import subprocess

import harness
from fake_llm import FakeLLM
from harness import IntegrationTest, wait_for

MODEL = "gpt-4o"
CLAUDE = "claude-3-5-haiku"
HTTP_TIMEOUT = 60.0


class Reply:
    """An HTTP answer: status, headers by lower-case name, body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def cache(self):
        return self.header("X-Omnicache")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.headers} {self.body[:1500]!r}>"


def chat_body(text, model=MODEL, **params):
    return {"model": model, "messages": [{"role": "user", "content": text}], **params}


def messages_body(text, model=CLAUDE, **params):
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}], **params}


def chat_text(reply):
    return reply.json()["choices"][0]["message"]["content"]


def tenant_of_key(api_key):
    """The tenant scope per-key gives the requests carrying `api_key`."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def toml_value(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else json.dumps(str(value))


def parse_metrics(text):
    """Prometheus text: {(name, ((label, value), ...) sorted): value}, plus the # TYPE lines by name."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(3) or "")))
        samples[(match.group(1), labels)] = float(match.group(4))
    return samples, types


class ProxyTest(IntegrationTest):
    """A test with a fake provider; start_proxy() starts the daemon."""

    def setUp(self):
        super().setUp()
        self.fake = FakeLLM()
        self.addCleanup(self.fake.close)
        self.port = None
        self.connection = None

    def start_proxy(self, upstream=None, anthropic_upstream=None, tokens=None, prices=None, env=None, **proxy):
        """Writes the config ([proxy] with `proxy` as its keys, [proxy.tokens],
        [prices.MODEL]) and starts the daemon; returns it once the proxy listens."""
        settings = {"listen": "127.0.0.1:0", "upstream": upstream or self.fake.url,
                    "anthropic_upstream": anthropic_upstream or self.fake.url, **proxy}
        lines = ["[proxy]"] + [f"{key} = {toml_value(value)}" for key, value in settings.items()]
        if tokens:
            lines += ["", "[proxy.tokens]"] + [f"{json.dumps(t)} = {json.dumps(token)}" for t, token in tokens.items()]
        for model, price in (prices or {}).items():
            lines += ["", f"[prices.{json.dumps(model)}]"] + [f"{k} = {v}" for k, v in price.items()]
        self.sandbox.write_config("\n".join(lines) + "\n")
        daemon = self.start_daemon(env=env)
        address = wait_for(lambda: self.proxy_address(), message="the proxy's address in the hello reply")
        host, _, port = address.rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.port = int(port)
        return daemon

    def proxy_address(self):
        client = harness.omnicache_client.Client(self.sandbox.socket, timeout=10)
        try:
            return client.hello().get("proxy")
        finally:
            client.close()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    # -- HTTP through http.client (one keep-alive connection per test) -------------

    def http(self):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
            self.addCleanup(self.connection.close)
        return self.connection

    def request(self, method, path, body=None, headers=None, connection=None):
        connection = connection or self.http()
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            connection.close()
            raise
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)

    def post(self, path, body, **headers):
        return self.request("POST", path, body, {k.replace("_", "-"): v for k, v in headers.items()})

    def chat(self, text, headers=None, **params):
        return self.request("POST", "/v1/chat/completions", chat_body(text, **params), headers)

    def anthropic(self, text, headers=None, **params):
        sent = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", **(headers or {})}
        return self.request("POST", "/v1/messages", messages_body(text, **params), sent)

    # -- HTTP through curl --------------------------------------------------------

    def curl(self, path, body=None, headers=(), method=None, stream=False):
        """Runs curl against the proxy; returns (Reply, curl's exit code).
        `body` (a dict) is sent from a file."""
        base = os.path.join(self.sandbox.root, f"curl-{len(os.listdir(self.sandbox.root))}")
        args = ["curl", "-sS", "--noproxy", "*", "-D", base + ".head", "-o", base + ".body",
                "--max-time", str(int(HTTP_TIMEOUT))]
        if stream:
            args.append("-N")
        if method:
            args += ["-X", method]
        for header in headers:
            args += ["-H", header]
        if body is not None:
            with open(base + ".json", "w") as f:
                json.dump(body, f)
            args += ["-H", "Content-Type: application/json", "--data-binary", "@" + base + ".json"]
        done = subprocess.run(args + [self.base_url + path], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=HTTP_TIMEOUT + 10)
        status, headers_seen = 0, {}
        if os.path.exists(base + ".head"):
            with open(base + ".head", "rb") as f:
                blocks = [b for b in f.read().decode("latin-1").split("\r\n\r\n") if b.strip()]
            if blocks:
                lines = blocks[-1].split("\r\n")
                status = int(lines[0].split()[1])
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers_seen[name.strip().lower()] = value.strip()
        payload = b""
        if os.path.exists(base + ".body"):
            with open(base + ".body", "rb") as f:
                payload = f.read()
        return Reply(status, headers_seen, payload), done.returncode

    # -- the daemon's view --------------------------------------------------------

    def write_json(self, name, value):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    def response_key(self, body, model=MODEL):
        """`omnicache response key` for a request body (messages and params)."""
        params = [a for k, v in body.items() if k not in ("model", "messages")
                  for a in ("--param", f"{k}={json.dumps(v)}")]
        path = self.write_json(f"messages-{len(os.listdir(self.sandbox.root))}.json", body["messages"])
        return self.cli("response", "key", "--model", model, "--messages", path, *params).text.strip()

    def entries(self, tenant=None):
        args = ("--tenant", tenant) if tenant else ()
        return self.stats(*args)["totals"]["entries"]

    def metrics(self):
        reply = self.request("GET", "/metrics")
        self.assertEqual(reply.status, 200, reply)
        return parse_metrics(reply.body.decode())

    def assert_outcome(self, reply, outcome, status=200):
        self.assertEqual((reply.status, reply.cache), (status, outcome), reply)
