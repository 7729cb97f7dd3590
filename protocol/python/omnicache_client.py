"""A minimal omnicache client in standard-library Python.

It follows protocol/PROTOCOL.md and nothing else, which is how it proves the
spec: the integration tests drive the daemon through it.

    with Client("/run/user/1000/omnicache/omnicached.sock") as c:
        c.hello()
        c.call("set", {"key": "k", "ttl_ms": 60000}, b"value")
        header, value = c.call("get", {"key": "k"})
"""

import json
import socket
import struct

PROTOCOL_VERSION = 1


class ServerError(Exception):
    """An error reply: `code` is the stable UPPER_SNAKE code."""

    def __init__(self, code, message, header=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.header = header or {}


def encode_frame(header, value=b""):
    """frame = u32be(len(body)) body; body = u32be(len(header)) header value"""
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    body = struct.pack(">I", len(header_bytes)) + header_bytes + value
    return struct.pack(">I", len(body)) + body


def decode_body(body):
    if len(body) < 4:
        raise ValueError("frame body shorter than its header length")
    (header_length,) = struct.unpack(">I", body[:4])
    if header_length > len(body) - 4:
        raise ValueError("header length runs past the end of the frame")
    header = json.loads(body[4 : 4 + header_length].decode("utf-8"))
    return header, body[4 + header_length :]


class Client:
    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.next_id = 1
        self.buffer = bytearray()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, op, fields=None, value=b""):
        """Sends one request without waiting; returns its id."""
        header = dict(fields or {})
        header["op"] = op
        header["id"] = self.next_id
        self.next_id += 1
        self.sock.sendall(encode_frame(header, value))
        return header["id"]

    def send_raw(self, data):
        self.sock.sendall(data)

    def _read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buffer += chunk
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def receive(self):
        """Reads one reply: (header, value). Does not raise on error replies."""
        (length,) = struct.unpack(">I", self._read_exact(4))
        return decode_body(self._read_exact(length))

    def call(self, op, fields=None, value=b""):
        """Sends a request and reads its reply; raises ServerError on an error reply."""
        request_id = self.send(op, fields, value)
        header, value = self.receive()
        if header.get("id") != request_id:
            raise ValueError(f"reply id {header.get('id')} does not match request id {request_id}")
        if not header.get("ok"):
            error = header.get("error", {})
            raise ServerError(error.get("code"), error.get("message"), header)
        return header, value

    def hello(self, require=()):
        header, _ = self.call("hello", {"version": PROTOCOL_VERSION, "client": "omnicache_client.py",
                                        "require": list(require)})
        return header
