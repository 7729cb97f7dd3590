"""omnicache export: a tenant's entries written as CSV or JSON Lines that
`omnicache warm` reads back into another tenant unchanged (values byte for
byte, layer, TTL left, tags, deps, meta), its filters, and its errors, against
a real daemon."""

import json
import os
import time

from harness import EXIT_USAGE, IntegrationTest

SOURCE = "source"

# key -> the set request's fields (besides the key) and the value.
ENTRIES = {
    "plain": ({"layer": "kv", "ttl_ms": 0}, b"hello"),
    "binary": ({"layer": "embedding", "ttl_ms": 3600_000, "tags": ["bin", "x"]}, bytes(range(256)) + b"\xff\xfe"),
    "csv-hostile": ({"layer": "response", "ttl_ms": 7200_000, "tags": ["model:gpt-4o", "batch:1"],
                     "meta": {"model": "gpt-4o", "input_tokens": 12, "nested": {"a": [1, 2]}}},
                    b'a,b\n"quoted" cell\r\nline;3, and \\ backslash'),
    "with-deps": ({"layer": "retrieval", "ttl_ms": 1800_000,
                   "deps": [{"name": "doc:1", "version": "v7"}, "file:notes", "n;1"],
                   "tags": ["batch:1"]}, b"doc text"),
    "empty": ({"layer": "context"}, b""),
    "unicode": ({"layer": "run", "ttl_ms": 600_000, "tags": ["\u00fc", "a;b", " padded ", "[x"], "meta": {"argv": ["\u65e5", "x"]}},
                "h\u00e9llo \u2713 \u65e5\u672c".encode()),
    "nul byte": ({"layer": "kv", "ttl_ms": 0}, b"a\x00b"),
    'odd, "key"\nwith a line break': ({"layer": "semantic", "ttl_ms": 0}, b"v"),
}


class WithEntries(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.protocol = self.client()
        for key, (fields, value) in ENTRIES.items():
            self.protocol.call("set", {"tenant": SOURCE, "key": key, **fields}, value)

    def inspect(self, tenant, key):
        header, _ = self.protocol.call("inspect", {"tenant": tenant, "key": key})
        self.assertTrue(header["found"], f"{key!r} in {tenant}")
        return header["entry"]

    def value(self, tenant, key):
        header, value = self.protocol.call("get", {"tenant": tenant, "key": key})
        self.assertTrue(header["found"], f"{key!r} in {tenant}")
        return value

    def keys(self, tenant):
        return self.cli_json("--tenant", tenant, "keys")["keys"]

    def exported_keys(self, *args):
        out = self.cli("--tenant", SOURCE, "export", "--format", "jsonl", *args).stdout
        return [json.loads(line)["key"] for line in out.decode().splitlines()]


class RoundTrip(WithEntries):

    def copy(self, fmt, target):
        """export | warm into the empty tenant `target`; returns the most
        milliseconds the copy can have taken."""
        self.assertEqual(self.keys(target), [])
        started = time.monotonic()
        if fmt == "csv":  # through a pipe, the format by default on both sides
            exported = self.cli("--tenant", SOURCE, "export").stdout
            self.cli("--tenant", target, "warm", "-", input=exported)
        else:  # through a file, the format by its extension
            result = self.cli("--tenant", SOURCE, "export", "copy.jsonl")
            self.assertEqual(result.text, f"copy.jsonl: {len(ENTRIES)} entries exported (jsonl)\n")
            self.cli("--tenant", target, "warm", "copy.jsonl")
        return (time.monotonic() - started) * 1000 + 1

    def assert_same_entries(self, target, copy_ms):
        self.assertEqual(self.keys(target), sorted(ENTRIES, key=lambda k: k.encode()))
        for key in ENTRIES:
            with self.subTest(key=key):
                self.assertEqual(self.value(target, key), self.value(SOURCE, key))
                source, copy = self.inspect(SOURCE, key), self.inspect(target, key)
                for field in ("layer", "deps", "meta", "raw_size"):
                    self.assertEqual(copy[field], source[field], field)
                self.assertEqual(sorted(copy["tags"]), sorted(source["tags"]))
                if source["expires_ms"] is None:
                    self.assertIsNone(copy["expires_ms"])
                else:
                    # The TTL left when exported, set again when imported: the
                    # copy expires at the same moment, plus the copy's transit.
                    self.assertGreaterEqual(copy["expires_ms"], source["expires_ms"])
                    self.assertLessEqual(copy["expires_ms"], source["expires_ms"] + copy_ms)

    def test_csv_export_piped_to_warm_copies_every_entry(self):
        self.assert_same_entries("copy-csv", self.copy("csv", "copy-csv"))

    def test_jsonl_export_to_a_file_then_warm_copies_every_entry(self):
        self.assert_same_entries("copy-jsonl", self.copy("jsonl", "copy-jsonl"))

    def test_a_value_that_is_not_utf8_is_written_as_base64_and_an_empty_one_as_text(self):
        out = self.cli("--tenant", SOURCE, "export", "--format", "jsonl").stdout
        rows = {row["key"]: row for row in map(json.loads, out.decode().splitlines())}
        self.assertEqual(rows["binary"]["encoding"], "base64")
        self.assertEqual(rows["empty"], {"key": "empty", "layer": "context", "ttl": rows["empty"]["ttl"],
                                         "encoding": "text", "value": ""})
        self.assertNotIn("encoding", rows["unicode"])
        self.assertEqual(rows["plain"]["ttl"], "never")
        self.assertRegex(rows["binary"]["ttl"], r"^\d+ms$")


class Filters(WithEntries):

    def test_layer_tag_and_pattern_select_what_they_say(self):
        self.assertEqual(self.exported_keys("--layer", "embedding"), ["binary"])
        self.assertEqual(self.exported_keys("--tag", "batch:1"), ["csv-hostile", "with-deps"])
        self.assertEqual(self.exported_keys("--tag", "bin", "--tag", "\u00fc"), ["binary", "unicode"])
        self.assertEqual(self.exported_keys("--pattern", "[pu]*"), ["plain", "unicode"])
        self.assertEqual(self.exported_keys("--pattern", "*", "--layer", "kv"), ["nul byte", "plain"])
        self.assertEqual(self.exported_keys("--tag", "nobody"), [])

    def test_every_entry_of_many_pages_is_written_once_in_key_order(self):
        bulk = [f"bulk:{i:05d}" for i in range(1234)]
        entries = [{"key": key, "size": 1} for key in bulk]
        self.protocol.call("mset", {"tenant": SOURCE, "entries": entries}, b"v" * len(bulk))
        self.assertEqual(self.exported_keys("--pattern", "bulk:*"), bulk)
        csv_lines = self.cli("--tenant", SOURCE, "export", "--pattern", "bulk:*").stdout.decode().splitlines()
        self.assertEqual(csv_lines[0], "key,layer,ttl,tags,deps,meta,encoding,value")
        self.assertEqual(len(csv_lines), 1 + len(bulk))


class Errors(IntegrationTest):

    def test_a_file_that_cannot_be_written_is_named_with_the_reason(self):
        self.start_daemon()
        result = self.run_cli("export", "no-such-folder/out.csv")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("cannot write no-such-folder/out.csv: No such file or directory", result.stderr)
        os.mkdir(os.path.join(self.sandbox.root, "folder"))
        result = self.run_cli("export", "folder")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("cannot write folder: Is a directory", result.stderr)

    def test_json_gives_the_summary_of_a_file_and_standard_output_holds_only_entries(self):
        self.start_daemon()
        self.cli("set", "k", "v", "--ttl", "never")
        self.assertEqual(self.cli_json("export", "out.jsonl"), {"file": "out.jsonl", "format": "jsonl", "entries": 1})
        self.assertEqual(self.cli("export", "--json").stdout, b"key,layer,ttl,tags,deps,meta,encoding,value\n"
                                                               b"k,kv,never,,,,,v\n")

    def test_an_unknown_format_is_refused(self):
        result = self.run_cli("export", "--format", "xml")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("--format", result.stderr)
