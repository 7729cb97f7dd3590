"""Shared setup for the tests of the shared tier: a real redis-server on
loopback (started, stopped, killed and restarted on its port and folder), a
small RESP client to look inside it, and daemons ("nodes") that each have their
own socket and database and share that Redis.

Only redis-server is needed; the tests skip with a reason when it is absent."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import READY_TIMEOUT, STOP_TIMEOUT, IntegrationTest, wait_for

REDIS_SERVER = shutil.which("redis-server")
NO_REDIS = "redis-server is not installed (apt install redis-server); the shared tier needs one to test against"


class RespError(Exception):
    """An error reply from Redis."""


class Resp:
    """A RESP2 client on one connection: commands are lists of strings or bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, password=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = self.sock.makefile("rb")
        if password is not None:
            self.call("AUTH", password)

    def close(self):
        self.reader.close()
        self.sock.close()

    def call(self, *args):
        """Sends one command; returns its reply or raises RespError."""
        (reply,) = self.pipeline([args])
        if isinstance(reply, RespError):
            raise reply
        return reply

    def pipeline(self, commands):
        """Sends every command, then reads the replies in order (errors as RespError values)."""
        self.sock.sendall(b"".join(encode_command(command) for command in commands))
        return [self._read() for _ in commands]

    def _read(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise ConnectionError(f"not a RESP reply: {line!r}")


def encode_command(args):
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"".join([b"*%d\r\n" % len(parts)] + [b"$%d\r\n%s\r\n" % (len(p), p) for p in parts])


def free_port():
    """A loopback port nothing listened on a moment ago (Redis refuses port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server --daemonize no on 127.0.0.1, with its data in a temporary
    folder. `persistent` turns on the append-only file, synced at every write,
    so that the data outlives a SIGKILL."""

    def __init__(self, persistent=False, password=None):
        self.dir = tempfile.mkdtemp(prefix="ocr-", dir="/tmp")
        self.persistent = persistent
        self.password = password
        self.port = None
        self.process = None

    @property
    def log_path(self):
        return os.path.join(self.dir, "redis.log")

    def url(self, db=None):
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}" + (f"/{db}" if db is not None else "")

    def log_text(self, tail=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def start(self):
        """Starts on a fresh free port, trying another when it was taken meanwhile."""
        for _ in range(5):
            self.port = free_port()
            if self._spawn():
                return self
        raise AssertionError(f"redis-server did not start:\n{self.log_text()}")

    def restart(self):
        """Starts again on the same port and folder (after stop or kill9)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._spawn():
            if time.monotonic() >= deadline:
                raise AssertionError(f"redis-server did not start again on {self.port}:\n{self.log_text()}")
            time.sleep(0.1)
        return self

    def _spawn(self):
        """Starts redis-server and waits until it answers PING; False when it
        exited first (its port taken)."""
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--daemonize", "no", "--logfile", self.log_path, "--rdbcompression", "no",
                "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._pong():
                return True
            time.sleep(0.02)
        self.kill9()
        raise AssertionError(f"redis-server did not answer PING on {self.port}:\n{self.log_text()}")

    def _pong(self):
        try:
            client = self.client(timeout=2)
        except (OSError, RespError):
            return False
        try:
            return client.call("PING") == "PONG"
        except (OSError, ConnectionError, RespError):
            return False
        finally:
            client.close()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def client(self, timeout=10.0):
        return Resp(self.port, timeout=timeout, password=self.password)

    def call(self, *args):
        client = self.client()
        try:
            return client.call(*args)
        finally:
            client.close()

    def stop(self):
        """SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL, each bounded."""
        if not self.running():
            return
        try:
            self.call("SHUTDOWN", "NOSAVE")
        except (OSError, ConnectionError, RespError):
            pass  # the connection drops as Redis exits
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill9()

    def kill9(self):
        if self.running():
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def wipe(self):
        """Removes the data files of a stopped Redis: it starts again empty."""
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            if name == "redis.log":
                continue
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)

    def close(self):
        self.kill9()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what Redis holds ---------------------------------------------------------

    def keys(self, db=None):
        """Every key (SCAN), of database `db` when given."""
        client = self.client()
        try:
            if db is not None:
                client.call("SELECT", db)
            found, cursor = set(), b"0"
            while True:
                cursor, batch = client.call("SCAN", cursor, "COUNT", 1000)
                found.update(batch)
                if cursor == b"0":
                    return sorted(found)
        finally:
            client.close()

    def keys_holding(self, *markers, db=None):
        """{marker: [keys]}: the keys other than streams whose serialized
        content (DUMP, uncompressed) contains the marker, whatever the tier's
        layout. Values are markers: no one else writes them."""
        keys = self.keys(db)
        client = self.client()
        try:
            if db is not None:
                client.call("SELECT", db)
            types = client.pipeline([("TYPE", key) for key in keys])
            kept = [key for key, kind in zip(keys, types) if kind != "stream"]
            dumps = client.pipeline([("DUMP", key) for key in kept])
        finally:
            client.close()
        out = {}
        for marker in markers:
            needle = marker if isinstance(marker, bytes) else marker.encode()
            out[marker] = [key for key, dump in zip(kept, dumps) if isinstance(dump, bytes) and needle in dump]
        return out

    def holds(self, marker, db=None):
        return bool(self.keys_holding(marker, db=db)[marker])

    def stream_records(self, key):
        """Every record of a stream, each as the bytes of its fields and values."""
        return [b"\0".join(fields) for _, fields in self.call("XRANGE", key, "-", "+")]


class Node:
    """One daemon of the group: its own socket and database, one protocol
    connection kept open (reopened after a restart)."""

    def __init__(self, test, name, options, env):
        self.test = test
        self.name = name
        self.folder = os.path.join(test.sandbox.root, name)
        os.makedirs(self.folder, exist_ok=True)
        self.socket = os.path.join(self.folder, "omnicached.sock")
        self.database = os.path.join(self.folder, "cache.db")
        self.options = list(options)
        self.env = env
        self.daemon = None
        self.connection = None

    def start(self, wait=True):
        self.connection = None
        self.daemon = self.test.start_daemon(*self.options, env=self.env, socket_path=self.socket,
                                             database=self.database, wait=wait)
        return self

    def stop(self):
        self.close_connection()
        self.test.stop_daemon(self.daemon)

    def close_connection(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def client(self):
        if self.connection is None:
            self.connection = self.test.client(self.socket)
        return self.connection

    def call(self, op, fields=None, value=b""):
        return self.client().call(op, fields, value)

    def set(self, key, value, **fields):
        return self.call("set", {"key": key, **fields}, value.encode() if isinstance(value, str) else value)[0]

    def get(self, key, **fields):
        """(header, value) of a get."""
        return self.call("get", {"key": key, **fields})

    def found(self, key, **fields):
        return self.get(key, **fields)[0]["found"]

    def inspect(self, key, **fields):
        """The entry in this daemon's database (inspect reads no further), or None."""
        header, _ = self.call("inspect", {"key": key, **fields})
        return header["entry"] if header["found"] else None

    def tier(self):
        return self.call("stats", {})[0]["tier"]

    def cli(self, *args, code=harness.EXIT_OK):
        return self.test.cli("--socket", self.socket, *args, code=code)


class TierTest(IntegrationTest):
    """A Redis per test (`persistent` for an append-only file) and the means to
    start daemons that share it under a prefix of their own."""

    persistent = False
    password = None

    def setUp(self):
        if not REDIS_SERVER:
            self.skipTest(NO_REDIS)
        self.redis = RedisServer(persistent=self.persistent, password=self.password)
        # Registered before the sandbox's cleanup, so it runs after it: the
        # daemons stop while Redis still answers.
        self.addCleanup(self.redis.close)
        super().setUp()
        self.redis.start()
        self.prefix = "oc" + hashlib.sha256(self.id().encode()).hexdigest()[:6] + ":"

    def tier_options(self, url=None, **settings):
        """-o settings of the tier: this test's Redis and prefix, and `settings`
        (timeout="100ms" is tier.redis.timeout=100ms)."""
        options = [f"tier.redis.url={url or self.redis.url()}", f"tier.redis.prefix={self.prefix}"]
        return options + [f"tier.redis.{key}={value}" for key, value in settings.items()]

    def start_node(self, name, *options, url=None, env=None, tier=True, wait=True, **settings):
        """Starts a daemon in its own folder of the sandbox; `options` are more -o settings."""
        configured = (self.tier_options(url, **settings) if tier else []) + list(options)
        return Node(self, name, configured, env).start(wait=wait)

    def restart_node(self, node):
        return node.start()

    def wait_in_redis(self, *markers, message=None):
        """Waits until Redis holds every marker (values written through a daemon)."""
        wait_for(lambda: all(self.redis.keys_holding(*markers).values()), timeout=harness.WAIT,
                 message=message or f"{markers!r} to reach Redis")

    def wait_gone_from_redis(self, *markers, message=None):
        wait_for(lambda: not any(self.redis.keys_holding(*markers).values()), timeout=harness.WAIT,
                 message=message or f"{markers!r} to leave Redis")

    def wait_tier(self, node, condition, message):
        """Waits until `condition(node's stats tier)` holds; returns that tier object."""
        box = {}

        def check():
            box["tier"] = node.tier()
            return condition(box["tier"])

        try:
            wait_for(check, timeout=harness.WAIT, message=message)
        except AssertionError as e:
            raise AssertionError(f"{e}; last tier stats of {node.name}: {box.get('tier')}") from None
        return box["tier"]

