"""The wire protocol, through the reference Python client and raw sockets."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import IntegrationTest, ServerError, closed_by_peer, frame, raw_frame, read_reply, wait_for

CAPABILITIES = ["kv", "tags", "ttl", "layers", "tenants", "pipelining", "stats", "keys-cursor", "deps", "leases", "mset", "meta", "semantic"]


class Hello(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon("limits.max_key_bytes=100", "limits.max_tags=7")

    def test_hello_gives_the_version_capabilities_and_limits(self):
        hello = self.client(hello=False).hello()
        self.assertTrue(hello["ok"])
        self.assertEqual(hello["version"], 1)
        self.assertEqual(hello["server"], "omnicached")
        self.assertEqual(hello["pid"], self.daemon.pid)
        version = self.cli("--version").text.split()[-1]
        self.assertEqual(hello["server_version"], version)
        for capability in CAPABILITIES:
            self.assertIn(capability, hello["capabilities"])
        limits = hello["limits"]
        self.assertEqual(limits["max_key_bytes"], 100)
        self.assertEqual(limits["max_tags"], 7)
        self.assertEqual(limits["max_frame_bytes"], 256 << 20)
        self.assertEqual(limits["max_header_bytes"], 1 << 20)
        self.assertEqual(limits["max_tag_bytes"], 256)
        self.assertEqual(limits["max_in_flight"], 1024)

    def test_hello_requiring_known_capabilities_succeeds(self):
        self.client(hello=False).hello(require=CAPABILITIES)

    def test_hello_requiring_an_unknown_capability_fails_with_unsupported_naming_it(self):
        client = self.client(hello=False)
        with self.assertRaises(ServerError) as refused:
            client.hello(require=["kv", "teleportation"])
        self.assertEqual(refused.exception.code, "UNSUPPORTED")
        self.assertIn("teleportation", refused.exception.message)
        self.assertEqual(client.call("ping")[0]["ok"], True, "the connection stays usable")

    def test_hello_without_a_version_or_with_version_0_is_refused(self):
        client = self.client(hello=False)
        with self.assertRaises(ServerError) as refused:
            client.call("hello", {})
        self.assertEqual(refused.exception.code, "BAD_REQUEST")
        self.assertIn("version", refused.exception.message)
        with self.assertRaises(ServerError) as refused:
            client.call("hello", {"version": 0})
        self.assertEqual(refused.exception.code, "UNSUPPORTED")

    def test_a_newer_client_is_answered_with_the_version_both_speak(self):
        header, _ = self.client(hello=False).call("hello", {"version": 7})
        self.assertEqual(header["version"], 1)

    def test_requests_without_hello_work(self):
        client = self.client(hello=False)
        client.call("set", {"key": "k"}, b"v")
        self.assertEqual(client.call("get", {"key": "k"})[1], b"v")
        self.assertIn("time_ms", client.call("ping")[0])


class LargestTtl(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    # ttl_ms near the largest integer once overflowed now + ttl_ms in the
    # store: acknowledged, yet born expired, and fatal under UBSan.
    def test_a_ttl_of_2_to_the_53_minus_1_is_kept(self):
        client = self.client()
        header, _ = client.call("set", {"key": "k", "ttl_ms": 2**53 - 1}, b"v")
        self.assertEqual(header["ttl_ms"], 2**53 - 1)
        self.assertEqual(client.call("get", {"key": "k"})[1], b"v")

    def test_the_largest_ttl_never_crashes_the_daemon_or_loses_the_value(self):
        sock = self.raw_socket()
        sock.sendall(frame({"op": "set", "id": 1, "key": "k", "ttl_ms": 2**63 - 1}, b"v"))
        reply = read_reply(sock)
        if not harness.hello_ok(self.sandbox.socket):
            code = self.daemon.wait_exit(10)
            self.fail(f"the daemon died (exit {code}):\n{self.daemon.log_text()}")
        self.assertIsNotNone(reply)
        if reply[0]["ok"]:
            sock.sendall(frame({"op": "get", "id": 2, "key": "k"}))
            self.assertTrue(read_reply(sock)[0]["found"], "an acknowledged set must be readable")
        else:
            self.assertEqual(reply[0]["error"]["code"], "BAD_REQUEST")


class Pipelining(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.start_daemon()

    def test_pipelined_requests_get_replies_in_order_with_their_ids(self):
        client = self.client()
        requests = []
        for i in range(600):
            requests.append(("set", {"key": f"k{i}", "tags": [f"t{i % 3}"]}, f"v{i}".encode()))
            requests.append(("get", {"key": f"k{i}"}, b""))
            requests.append(("exists", {"key": f"k{i + 1}"}, b""))
        replies = harness.pipeline(client, requests, window=1000)
        for i in range(600):
            set_reply, get_reply, exists_reply = replies[3 * i:3 * i + 3]
            self.assertTrue(set_reply[0]["ok"])
            self.assertEqual(get_reply[1], f"v{i}".encode(), "a connection reads its own writes")
            self.assertFalse(exists_reply[0]["found"], "k{i+1} is set only after this request")

    def test_any_id_is_echoed_and_a_missing_id_is_answered_as_0(self):
        sock = self.raw_socket()
        ids = [0, 7, 3, 2**63, 2**64 - 1, 7]
        sock.sendall(b"".join(frame({"op": "ping", "id": i}) for i in ids) + frame({"op": "ping"}))
        got = [read_reply(sock)[0]["id"] for _ in range(len(ids) + 1)]
        self.assertEqual(got, ids + [0])

    def test_an_error_in_the_middle_of_a_pipeline_keeps_the_order(self):
        sock = self.raw_socket()
        bad_json = raw_frame(struct.pack(">I", 5) + b"{nope")
        sock.sendall(frame({"op": "set", "id": 1, "key": "a"}, b"1") + bad_json
                     + frame({"op": "teleport", "id": 3}) + frame({"op": "set", "id": 4, "key": "b"}, b"2")
                     + frame({"op": "get", "id": 5, "key": "b"}) + frame({"op": "get", "id": 6, "key": 7}))
        replies = [read_reply(sock) for _ in range(6)]
        self.assertEqual([(h["id"], h["ok"]) for h, _ in replies],
                         [(1, True), (0, False), (3, False), (4, True), (5, True), (6, False)])
        self.assertEqual(replies[4][1], b"2")

    def test_stats_count_the_open_connections(self):
        clients = [self.client() for _ in range(4)]
        # The harness's readiness probe may still be on its way out.
        wait_for(lambda: clients[0].call("stats")[0]["server"]["connections"] == 4,
                 message="four open connections")
        self.assertGreaterEqual(clients[0].call("stats")[0]["server"]["connections_total"], 4)
        clients[3].close()
        wait_for(lambda: clients[0].call("stats")[0]["server"]["connections"] == 3,
                 message="the closed connection to be counted out")

    def test_read_your_writes_on_one_connection(self):
        client = self.client()
        sequence = [("set", {"key": "k"}, b"one"), ("get", {"key": "k"}, b""), ("set", {"key": "k"}, b"two"),
                    ("get", {"key": "k"}, b""), ("del", {"keys": ["k"]}, b""), ("get", {"key": "k"}, b""),
                    ("set", {"key": "k", "tags": ["x"]}, b"three"), ("invalidate", {"tags": ["x"]}, b""),
                    ("exists", {"key": "k"}, b""), ("set", {"key": "k"}, b"four"), ("flush", {}, b""),
                    ("keys", {}, b"")]
        replies = harness.pipeline(client, sequence)
        self.assertEqual(replies[1][1], b"one")
        self.assertEqual(replies[3][1], b"two")
        self.assertEqual(replies[4][0]["removed"], 1)
        self.assertFalse(replies[5][0]["found"])
        self.assertEqual(replies[7][0]["removed"], 1)
        self.assertFalse(replies[8][0]["found"])
        self.assertEqual(replies[10][0]["removed"], 1)
        self.assertEqual(replies[11][0]["keys"], [])

    def test_more_requests_than_max_in_flight_are_all_answered(self):
        self.stop_daemon(self.daemons[0])
        self.start_daemon("limits.max_in_flight=4")
        sock = self.raw_socket()
        sock.sendall(b"".join(frame({"op": "set", "id": i, "key": f"k{i}"}, b"v" * 100) for i in range(300)))
        got = [read_reply(sock)[0] for _ in range(300)]
        self.assertEqual([h["id"] for h in got], list(range(300)))
        self.assertTrue(all(h["ok"] for h in got), "back-pressure, not errors")

    def test_a_frame_sent_one_byte_at_a_time_is_answered(self):
        sock = self.raw_socket()
        data = frame({"op": "set", "id": 1, "key": "slow"}, b"drip") + frame({"op": "get", "id": 2, "key": "slow"})
        for i in range(len(data)):
            sock.send(data[i:i + 1])
            time.sleep(0.001)
        self.assertTrue(read_reply(sock)[0]["ok"])
        header, value = read_reply(sock)
        self.assertEqual((header["id"], value), (2, b"drip"))

    def test_values_of_several_mebibytes_round_trip(self):
        client = self.client()
        random_value = os.urandom(6 << 20)
        text_value = (b"the quick brown fox jumps over the lazy dog " * 200000)[:9 << 20]
        client.call("set", {"key": "random"}, random_value)
        client.call("set", {"key": "text"}, text_value)
        self.assertEqual(client.call("get", {"key": "random"})[1], random_value)
        self.assertEqual(client.call("get", {"key": "text"})[1], text_value)
        result = self.cli("get", "text")
        self.assertEqual(result.stdout, text_value)
        entry = client.call("inspect", {"key": "text"})[0]["entry"]
        self.assertEqual(entry["raw_size"], len(text_value))
        self.assertLess(entry["stored_size"], len(text_value) // 10)

    def test_a_value_larger_than_the_daemons_read_chunk_round_trips(self):
        value = os.urandom(20 << 20)
        sock = self.raw_socket(timeout=120)
        sock.sendall(frame({"op": "set", "id": 1, "key": "huge"}, value) + frame({"op": "get", "id": 2, "key": "huge"}))
        self.assertTrue(read_reply(sock)[0]["ok"])
        header, got = read_reply(sock)
        self.assertTrue(header["found"])
        self.assertTrue(got == value, "the 20 MiB value came back changed")

    def test_many_clients_at_once_each_see_their_own_data(self):
        errors = []

        def work(n):
            try:
                with harness.omnicache_client.Client(self.sandbox.socket) as client:
                    client.hello()
                    for i in range(100):
                        value = f"{n}:{i}".encode() * 10
                        client.call("set", {"key": f"c{n}:{i}", "tenant": f"t{n % 3}"}, value)
                        if client.call("get", {"key": f"c{n}:{i}", "tenant": f"t{n % 3}"})[1] != value:
                            errors.append(f"client {n} read a wrong value for {i}")
            except Exception as e:  # reported below
                errors.append(f"client {n}: {e!r}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        stats = self.stats("--all-tenants")
        self.assertEqual(stats["totals"]["entries"], 1000)
        self.assertEqual(stats["totals"]["hits"], 1000)


class ManyThreads(Pipelining):
    """The same, with four serving threads."""

    def setUp(self):
        IntegrationTest.setUp(self)
        self.start_daemon("daemon.io_threads=4")


class BadInput(IntegrationTest):
    """Bad input gets a clear error and at worst a closed connection, and
    loses nothing already stored."""

    canary = b"\x00canary value\xff"

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon("limits.max_frame_bytes=1MiB", "limits.max_header_bytes=8KiB")
        self.client().call("set", {"key": "canary", "tags": ["keep"]}, self.canary)

    def tearDown(self):
        # Whatever the test sent, the daemon still serves a new client and
        # still has what was stored before.
        self.assertTrue(self.daemon.running(), self.daemon.log_text())
        with harness.omnicache_client.Client(self.sandbox.socket, timeout=10) as client:
            client.hello()
            self.assertEqual(client.call("get", {"key": "canary"})[1], self.canary)
            client.call("set", {"key": "after"}, b"fine")
            self.assertEqual(client.call("keys", {"tags": ["keep"]})[0]["keys"], ["canary"])
        super().tearDown()

    def send_and_expect(self, data, code, closes, needle=None):
        sock = self.raw_socket()
        sock.sendall(data)
        reply = read_reply(sock)
        self.assertIsNotNone(reply, f"no reply to {data[:60]!r}")
        header = reply[0]
        self.assertFalse(header["ok"], header)
        self.assertEqual(header["error"]["code"], code, header)
        self.assertTrue(header["error"]["message"], "the error says what was wrong")
        if needle:
            self.assertIn(needle, header["error"]["message"])
        if closes:
            self.assertTrue(closed_by_peer(sock), f"the connection is closed after {code}")
        else:
            sock.sendall(frame({"op": "ping", "id": 99}))
            follow = read_reply(sock)
            self.assertIsNotNone(follow, f"the connection stays open after {code}")
            self.assertEqual((follow[0]["id"], follow[0]["ok"]), (99, True))
        return header

    def test_a_body_shorter_than_its_header_length_gets_bad_frame_and_a_close(self):
        self.send_and_expect(raw_frame(b"ab"), "BAD_FRAME", closes=True)
        self.send_and_expect(raw_frame(b""), "BAD_FRAME", closes=True)

    def test_a_header_length_past_the_end_of_the_frame_gets_bad_frame_and_a_close(self):
        self.send_and_expect(raw_frame(struct.pack(">I", 100) + b'{"op":"ping"}'), "BAD_FRAME", closes=True)

    def test_replies_before_a_bad_frame_are_still_sent(self):
        sock = self.raw_socket()
        sock.sendall(frame({"op": "set", "id": 1, "key": "first"}, b"1") + raw_frame(b"x"))
        self.assertEqual(read_reply(sock)[0], {"id": 1, "ok": True, "replaced": False, "stored": True, "ttl_ms": None})
        self.assertEqual(read_reply(sock)[0]["error"]["code"], "BAD_FRAME")
        self.assertTrue(closed_by_peer(sock))
        self.assertEqual(self.client().call("get", {"key": "first"})[1], b"1", "the good request was kept")

    def test_an_oversized_frame_is_refused_before_its_body_is_sent(self):
        sock = self.raw_socket()
        sock.sendall(struct.pack(">I", 2 << 20))  # announces 2 MiB, sends nothing more
        reply = read_reply(sock)
        self.assertIsNotNone(reply, "the daemon answers without waiting for the body")
        self.assertEqual(reply[0]["error"]["code"], "TOO_LARGE")
        self.assertIn("limit", reply[0]["error"]["message"])
        self.assertTrue(closed_by_peer(sock))

    def test_the_largest_frame_allowed_is_accepted_and_one_byte_more_is_not(self):
        header = json.dumps({"op": "set", "id": 1, "key": "big"}, separators=(",", ":")).encode()
        limit = 1 << 20
        value = b"v" * (limit - 4 - len(header))
        body = struct.pack(">I", len(header)) + header + value
        self.assertEqual(len(body), limit)
        sock = self.raw_socket()
        sock.sendall(raw_frame(body))
        self.assertTrue(read_reply(sock)[0]["ok"])
        # One byte more: refused as soon as the length is in, so only the
        # prefix is sent (the daemon closes without reading the rest).
        sock.sendall(struct.pack(">I", limit + 1))
        self.assertEqual(read_reply(sock)[0]["error"]["code"], "TOO_LARGE")
        self.assertTrue(closed_by_peer(sock))
        self.assertEqual(self.client().call("inspect", {"key": "big"})[0]["entry"]["raw_size"], len(value))

    def test_a_header_over_max_header_bytes_is_too_large_and_the_connection_stays(self):
        self.send_and_expect(frame({"op": "ping", "id": 1, "padding": "x" * 9000}), "TOO_LARGE", closes=False)

    def test_a_header_that_is_not_json_gets_bad_request_and_the_connection_stays(self):
        for text in (b"{not json", b"", b'{"op":"ping"', b"\xff\xfe{}", b'{"op":"get","key":"\xc3\x28"}'):
            body = struct.pack(">I", len(text)) + text
            self.send_and_expect(raw_frame(body), "BAD_REQUEST", closes=False)

    def test_a_header_that_is_not_an_object_gets_bad_request(self):
        for text in (b"[1,2]", b'"ping"', b"42", b"null", b"true"):
            body = struct.pack(">I", len(text)) + text
            self.send_and_expect(raw_frame(body), "BAD_REQUEST", closes=False, needle="object")

    def test_an_unknown_operation_gets_unsupported_and_the_connection_stays(self):
        header = self.send_and_expect(frame({"op": "teleport", "id": 5}), "UNSUPPORTED", closes=False,
                                      needle="teleport")
        self.assertEqual(header["id"], 5, "the error carries the request's id")

    def test_missing_and_mistyped_fields_are_named(self):
        cases = [
            ({"id": 1}, "op"),
            ({"op": 7, "id": 1}, "op"),
            ({"op": "ping", "id": -1}, "id"),
            ({"op": "ping", "id": "one"}, "id"),
            ({"op": "get", "id": 1}, "key"),
            ({"op": "get", "id": 1, "key": 42}, "key"),
            ({"op": "get", "id": 1, "key": ""}, "key"),
            ({"op": "set", "id": 1, "key": "k", "ttl_ms": "10m"}, "ttl_ms"),
            ({"op": "set", "id": 1, "key": "k", "ttl_ms": -5}, "ttl_ms"),
            ({"op": "set", "id": 1, "key": "k", "ttl_ms": 1.5}, "ttl_ms"),
            ({"op": "set", "id": 1, "key": "k", "tags": "red"}, "tags"),
            ({"op": "set", "id": 1, "key": "k", "tags": ["red", 3]}, "tags"),
            ({"op": "set", "id": 1, "key": "k", "tags": [""]}, "tag"),
            ({"op": "set", "id": 1, "key": "k", "layer": "nonsense"}, "nonsense"),
            ({"op": "set", "id": 1, "key": "k", "meta": [1]}, "meta"),
            ({"op": "set", "id": 1, "key": "k", "tenant": 3}, "tenant"),
            ({"op": "set", "id": 1, "key": "k", "tenant": ""}, "tenant"),
            ({"op": "del", "id": 1}, "keys"),
            ({"op": "del", "id": 1, "keys": []}, "keys"),
            ({"op": "del", "id": 1, "keys": "k"}, "keys"),
            ({"op": "keys", "id": 1, "limit": 0}, "limit"),
            ({"op": "keys", "id": 1, "limit": "ten"}, "limit"),
            ({"op": "keys", "id": 1, "after": 5}, "after"),
            ({"op": "keys", "id": 1, "pattern": ["*"]}, "pattern"),
            ({"op": "invalidate", "id": 1}, "tags"),
            ({"op": "flush", "id": 1, "all_tenants": "yes"}, "all_tenants"),
            ({"op": "stats", "id": 1, "all_tenants": 1}, "all_tenants"),
        ]
        for header, field in cases:
            with self.subTest(header=header):
                self.send_and_expect(frame(header), "BAD_REQUEST", closes=False, needle=field)
        self.assertEqual(self.client().call("exists", {"key": "k"})[0]["found"], False, "no bad set stored anything")

    def test_over_limit_fields_are_too_large(self):
        cases = [
            ({"op": "set", "id": 1, "key": "k" * 4097}, "max_key_bytes"),
            ({"op": "set", "id": 1, "key": "k", "tags": [f"t{i}" for i in range(65)]}, "max_tags"),
            ({"op": "set", "id": 1, "key": "k", "tags": ["t" * 257]}, "max_tag_bytes"),
            ({"op": "set", "id": 1, "key": "k", "tenant": "t" * 257}, "tenant"),
        ]
        for header, needle in cases:
            with self.subTest(needle=needle):
                self.send_and_expect(frame(header), "TOO_LARGE", closes=False, needle=needle)

    def test_a_truncated_frame_and_a_disconnect_do_not_affect_other_clients(self):
        other = self.client()
        baseline = other.call("stats")[0]["server"]["connections"]
        for data in (struct.pack(">I", 1000) + b"\x00\x00\x00\x10{", b"\x00\x00", frame({"op": "get", "key": "canary"})[:-3]):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.sandbox.socket)
            sock.sendall(data)
            sock.close()
            self.assertEqual(other.call("get", {"key": "canary"})[1], self.canary)
        wait_for(lambda: other.call("stats")[0]["server"]["connections"] <= baseline,
                 message="the abandoned connections to be closed")

    def test_a_client_that_leaves_without_reading_its_replies_does_no_harm(self):
        other = self.client()
        baseline = other.call("stats")[0]["server"]["connections"]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.sandbox.socket)
        sock.sendall(b"".join(frame({"op": "get", "id": i, "key": "canary"}) for i in range(2000)))
        sock.close()
        wait_for(lambda: other.call("stats")[0]["server"]["connections"] <= baseline,
                 message="the abandoned connection to be closed")

    def test_errors_are_counted(self):
        client = self.client()
        before = client.call("stats")[0]["server"]["errors"]
        self.send_and_expect(frame({"op": "nope", "id": 1}), "UNSUPPORTED", closes=False)
        self.assertEqual(client.call("stats")[0]["server"]["errors"], before + 1)


class ConnectionLimits(IntegrationTest):

    def test_a_connection_over_max_connections_gets_busy_and_is_closed(self):
        self.start_daemon("limits.max_connections=3")
        clients = [self.client() for _ in range(3)]
        sock = self.raw_socket()
        reply = read_reply(sock)
        self.assertIsNotNone(reply, "the refused client is told why")
        self.assertEqual(reply[0]["error"]["code"], "BUSY")
        self.assertIn("max_connections", reply[0]["error"]["message"])
        self.assertTrue(closed_by_peer(sock))
        for client in clients:
            self.assertTrue(client.call("ping")[0]["ok"], "the admitted clients carry on")
        self.assertGreaterEqual(clients[0].call("stats")[0]["server"]["connections_rejected"], 1)
        clients[2].close()

        def admitted():
            try:
                with harness.omnicache_client.Client(self.sandbox.socket, timeout=5) as client:
                    return client.call("ping")[0]["ok"]
            except (ServerError, OSError):
                return False

        wait_for(admitted, message="a free slot after a client left")

    def test_the_command_reports_a_busy_daemon_as_a_daemon_error(self):
        self.start_daemon("limits.max_connections=1")
        self.client()
        result = self.run_cli("set", "k", input=os.urandom(4 << 20))
        self.assertEqual(result.code, harness.EXIT_DAEMON, result.describe())
        self.assertIn("max_connections", result.stderr)

    def test_the_command_fails_on_a_busy_daemon_without_hanging_or_starting_another(self):
        self.start_daemon("limits.max_connections=1")
        self.client()
        result = self.run_cli("get", "k")
        self.assertIn(result.code, (harness.EXIT_UNREACHABLE, harness.EXIT_DAEMON), result.describe())
        self.assertEqual(len(harness.daemon_pids_under(self.sandbox.root)), 1)

    def test_a_peer_with_another_uid_is_refused(self):
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or setpriv is None:
            self.skipTest("needs root and setpriv to connect as another user")
        daemon = self.start_daemon()
        script = (
            "import socket, struct, json, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "s.settimeout(10)\n"
            "s.connect(sys.argv[1])\n"
            "h = json.dumps({'op': 'hello', 'id': 1, 'version': 1}).encode()\n"
            "b = struct.pack('>I', len(h)) + h\n"
            "try:\n"
            "    s.sendall(struct.pack('>I', len(b)) + b)\n"
            "    data = s.recv(65536)\n"
            "except OSError as e:\n"
            "    data = b''\n"
            "print('served' if data else 'refused')\n"
        )
        # The other user needs to get through the 0700 folder to reach the
        # socket at all; SO_PEERCRED still says who it is.
        result = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "--inh-caps=+dac_override", "--ambient-caps=+dac_override",
                                 sys.executable, "-c", script, self.sandbox.socket],
                                capture_output=True, timeout=60, env=self.sandbox.environment())
        if result.returncode != 0 and b"setpriv" in result.stderr:
            self.skipTest(f"setpriv cannot switch users here: {result.stderr.decode()}")
        self.assertEqual(result.stdout.decode().strip(), "refused", result.stderr.decode())
        wait_for(lambda: "another user" in daemon.log_text(tail=None), message="the refusal in the log")
        self.assertGreaterEqual(self.client().call("stats")[0]["server"]["connections_rejected"], 1)


if __name__ == "__main__":
    unittest.main()
