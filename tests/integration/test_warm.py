"""omnicache warm: importing CSV and JSON Lines files, reporting bad rows by
line, and computing missing responses with --exec, against a real daemon."""

import base64
import hashlib
import json
import os
import pty
import subprocess
import threading
import time

import harness
from harness import EXIT_OK, EXIT_USAGE, IntegrationTest


def response_key(model, prompt):
    """The key of `omnicache response set --model M --prompt P`, written
    independently: canonical JSON (sorted keys, no whitespace, UTF-8)."""
    canonical = json.dumps({"messages": [{"content": prompt, "role": "user"}], "model": model, "params": {}},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "response:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


# How every summary ends: the command's time and its rows per second.
PACE = r"in \d+\.\d\d s \(\d+ rows/s\)"


def read_terminal(leader, seen):
    """Collects what is written to a pseudo-terminal until its other side
    closes, so that the command never blocks on a full terminal."""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            return
        if not chunk:
            return
        seen.extend(chunk)


# Prints "answer: <prompt>" and appends a line to runs.txt for each run.
COUNTING_COMMAND = "printf 'answer: '; cat; echo run >> runs.txt"


class WithDaemon(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    def write(self, name, data):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return name  # relative: the command runs in the sandbox, and reports use the name as given

    def warm(self, *args, code=EXIT_OK, **kwargs):
        """Runs warm --json; returns (report, result)."""
        result = self.cli("warm", *args, "--json", code=code, **kwargs)
        return result.json(), result

    def value(self, key):
        return self.cli("get", key).stdout

    def entry(self, key):
        return self.cli_json("inspect", key)["entry"]

    def runs(self):
        try:
            with open(os.path.join(self.sandbox.root, "runs.txt")) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0


class Csv(WithDaemon):

    def test_quotes_line_breaks_utf8_bom_and_crlf_survive_byte_for_byte(self):
        data = ("\ufeffkey,value\r\n"
                'plain,hello\r\n'
                'comma,"a, b"\r\n'
                'quote,"say ""hi"""\r\n'
                'multi,"line one\r\nline two\nline three"\r\n'
                'utf8,"héllo ✓ 日本"\n'
                '"quoted key",x\r\n')
        report, _ = self.warm(self.write("data.csv", data))
        self.assertEqual((report["rows"], report["imported"], report["skipped"], report["failed"]), (6, 6, 0, 0))
        self.assertEqual(self.value("plain"), b"hello")
        self.assertEqual(self.value("comma"), b"a, b")
        self.assertEqual(self.value("quote"), b'say "hi"')
        self.assertEqual(self.value("multi"), b"line one\r\nline two\nline three")
        self.assertEqual(self.value("utf8"), "héllo ✓ 日本".encode())
        self.assertEqual(self.value("quoted key"), b"x")
        self.assertEqual(report["format"], "csv")

    def test_bad_rows_are_reported_by_line_and_the_good_rows_are_imported(self):
        data = ("key,value,ttl\n"
                "good1,v1,\n"
                "short-row\n"               # line 3: too few fields
                "good2,v2,10m\n"
                "badttl,v,soon\n"           # line 5: ttl
                ',"no key",\n'              # line 6: no key
                'bad"quote,v,\n'            # line 7: quote inside an unquoted field
                "nov,,\n"                   # line 8: no value
                'good3,"multi\nline",\n'    # lines 9-10
                "good4,v4,never\n")
        name = self.write("rows.csv", data)
        result = self.run_cli("warm", name)
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        for line in (3, 5, 6, 7, 8):
            self.assertIn(f"rows.csv:{line}: ", result.stderr, f"line {line}{result.describe()}")
        self.assertEqual(len([l for l in result.stderr.splitlines() if l.startswith("rows.csv:")]), 5,
                         result.describe())
        self.assertIn("ttl", result.stderr)
        self.assertRegex(result.text, r"^rows\.csv: 9 rows: 4 imported, 0 skipped \(already cached\), 5 failed "
                                      + PACE + r"\n$")
        for key, value in (("good1", b"v1"), ("good2", b"v2"), ("good3", b"multi\nline"), ("good4", b"v4")):
            self.assertEqual(self.value(key), value)
        report, _ = self.warm(name, code=EXIT_USAGE)
        self.assertEqual((report["rows"], report["imported"], report["skipped"], report["failed"]), (9, 0, 4, 5))
        self.assertEqual([f["line"] for f in report["failures"]], [3, 5, 6, 7, 8])

    def test_an_unknown_column_is_refused_unless_ignored(self):
        name = self.write("extra.csv", "key,value,colour\na,1,red\n")
        result = self.run_cli("warm", name)
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn('unknown column "colour"', result.stderr)
        self.cli("exists", "a", code=harness.EXIT_MISS)
        report, _ = self.warm(name, "--ignore-unknown")
        self.assertEqual(report["imported"], 1)
        self.assertEqual(self.value("a"), b"1")

    def test_a_second_warm_skips_what_is_cached_and_overwrite_replaces_it(self):
        name = self.write("kv.csv", "key,value\na,1\nb,2\nc,3\n")
        first, _ = self.warm(name)
        self.assertEqual((first["imported"], first["skipped"]), (3, 0))
        self.cli("set", "b", "changed")
        second, _ = self.warm(name)
        self.assertEqual((second["imported"], second["skipped"]), (0, 3))
        self.assertEqual(self.value("b"), b"changed", "an existing entry is left alone")
        third, _ = self.warm(name, "--overwrite")
        self.assertEqual((third["imported"], third["skipped"]), (3, 0))
        self.assertEqual(self.value("b"), b"2")

    def test_ttl_tags_and_layer_columns_are_honoured(self):
        data = ("key,value,ttl,tags,layer\n"
                "t1,v,10m,a;b,\n"
                "t2,v,never, x ; y ;,context\n"
                "t3,v,,,\n")
        self.warm(self.write("meta.csv", data), "--tag", "batch:1", "--ttl", "1h")
        t1, t2, t3 = self.entry("t1"), self.entry("t2"), self.entry("t3")
        self.assertEqual(t1["expires_ms"] - t1["created_ms"], 600000)
        self.assertEqual(sorted(t1["tags"]), ["a", "b", "batch:1"])
        self.assertEqual(t1["layer"], "kv")
        self.assertIsNone(t2["expires_ms"], "ttl never means no expiry")
        self.assertEqual(sorted(t2["tags"]), ["batch:1", "x", "y"])
        self.assertEqual(t2["layer"], "context")
        self.assertEqual(t3["expires_ms"] - t3["created_ms"], 3600000, "--ttl applies where the column is empty")
        self.assertEqual(t3["tags"], ["batch:1"])
        self.assertEqual(self.cli("invalidate", "batch:1").text.strip(), "3")

    def test_deps_meta_and_encoding_columns_are_read_and_each_bad_one_fails_its_row(self):
        data = ("key,deps,meta,encoding,value\n"
                'good,"[""doc:a"",{""name"":""doc:b"",""version"":""v2""}]","{""n"":{""x"":1}}",base64,/wA=\n'
                "names,doc:c;doc:d,,text,\n"
                "bad-meta,,[1],,v\n"
                "bad-deps,[{},,,v\n"
                'bad-dep,"[{""version"":""v""}]",,,v\n'
                "bad-base64,,,base64,%%%\n"
                "bad-encoding,,,hex,00\n")
        report, result = self.warm(self.write("cols.csv", data), code=EXIT_USAGE)
        self.assertEqual((report["imported"], report["failed"]), (2, 5), result.describe())
        reasons = {f["line"]: f["error"] for f in report["failures"]}
        self.assertIn("meta must be a JSON object", reasons[4])
        self.assertIn("deps must be a JSON array", reasons[5])
        self.assertIn("each dependency must be a name", reasons[6])
        self.assertIn("not base64", reasons[7])
        self.assertIn('encoding "hex"', reasons[8])
        self.assertEqual(self.value("good"), b"\xff\x00")
        good = self.entry("good")
        self.assertEqual(good["deps"], [{"name": "doc:a", "version": ""}, {"name": "doc:b", "version": "v2"}])
        self.assertEqual(good["meta"], {"n": {"x": 1}})
        self.assertEqual(self.value("names"), b"", "an encoding with an empty value is the empty value")
        self.assertEqual([d["name"] for d in self.entry("names")["deps"]], ["doc:c", "doc:d"])

    def test_layer_option_sets_the_layer_of_key_rows(self):
        self.warm(self.write("l.csv", "key,value\nk,v\n"), "--layer", "embedding")
        self.assertEqual(self.entry("k")["layer"], "embedding")

    def test_a_large_file_shows_a_progress_bar_on_a_terminal_only(self):
        # Over 8 MiB: 120000 rows of 80 bytes.
        filler = "x" * 64
        name = self.write("big.csv", "key,value\n" + "".join(f"big:{i:07d},{filler}\n" for i in range(120000)))
        # A dry run reads the file just the same, and quickly.
        piped = self.cli("warm", name, "--dry-run")
        self.assertNotIn("%", piped.stderr, "no bar when stderr is not a terminal")
        self.assertNotIn("\r", piped.stderr)
        leader, follower = pty.openpty()
        self.addCleanup(os.close, leader)
        seen = bytearray()
        reader = threading.Thread(target=read_terminal, args=(leader, seen), daemon=True)
        reader.start()
        try:
            process = subprocess.Popen([harness.CLI, "warm", name, "--dry-run"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=follower, env=self.sandbox.environment(),
                                       cwd=self.sandbox.root)
        finally:
            os.close(follower)
        out, _ = process.communicate(timeout=harness.COMMAND_TIMEOUT)
        reader.join(timeout=harness.WAIT)
        self.assertEqual(process.returncode, EXIT_OK, bytes(seen))
        self.assertIn(b"%", seen, "a bar on a terminal")
        self.assertIn(b"120000 rows", out)

    def test_a_summary_of_one_row_says_row(self):
        path = self.write("one.csv", "key,value\nk1,v1\n")
        self.assertRegex(self.cli("warm", path).text, r"^one\.csv: 1 row: 1 imported, ")

    def test_every_summary_ends_with_the_time_taken_and_rows_per_second(self):
        name = self.write("pace.csv", "key,value\n" + "".join(f"pace:{i},v\n" for i in range(50)))
        report, _ = self.warm(name)
        self.assertEqual(report["rows"], 50)
        self.assertGreater(report["elapsed_s"], 0)
        self.assertAlmostEqual(report["rows_per_s"], 50 / report["elapsed_s"], delta=report["rows_per_s"] * 1e-6)
        again = self.cli("warm", name)
        self.assertRegex(again.text, r"^pace\.csv: 50 rows: 0 imported, 50 skipped \(already cached\), 0 failed "
                                     + PACE + r"\n$")
        dry = self.cli("warm", name, "--dry-run")
        self.assertRegex(dry.text, r"\(dry run: nothing was sent\) " + PACE + r"\n$")

    def test_standard_input_is_read_for_a_dash(self):
        report, _ = self.warm("-", input=b"key,value\nfrom-stdin,yes\n")
        self.assertEqual(report["imported"], 1)
        self.assertEqual(self.value("from-stdin"), b"yes")
        result = self.run_cli("warm", "-", input=b"key,value\nx\n")
        self.assertIn("<stdin>:2: ", result.stderr, result.describe())


class DaemonRefusals(IntegrationTest):

    def test_a_row_the_daemon_refuses_fails_alone(self):
        self.start_daemon("store.max_bytes=64KiB")
        rows = [f"k{i},v{i}" for i in range(50)]
        # Line 22: random text, which compresses too little to fit the whole store.
        rows.insert(20, "huge," + base64.b64encode(os.urandom(120000)).decode())
        with open(os.path.join(self.sandbox.root, "r.csv"), "w") as f:
            f.write("key,value\n" + "\n".join(rows) + "\n")
        result = self.run_cli("warm", "r.csv", "--json")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        report = result.json()
        self.assertEqual((report["imported"], report["failed"]), (50, 1), result.describe())
        self.assertIn("r.csv:22: ", result.stderr)
        self.assertIn("store.max_bytes", result.stderr)
        self.assertEqual(self.cli("get", "k49").stdout, b"v49")


class Prompts(WithDaemon):

    def assert_response(self, model, prompt, value):
        key = response_key(model, prompt)
        self.assertEqual(self.cli("get", key, "--layer", "response").stdout, value, (model, prompt))
        entry = self.entry(key)
        self.assertIn(f"model:{model}", entry["tags"])
        self.assertEqual(entry["meta"]["model"], model)
        self.assertEqual(self.cli("response", "get", "--model", model, "--prompt", prompt).stdout, value)

    def test_prompt_rows_become_response_entries_and_need_a_model(self):
        data = ("prompt,response,model\n"
                "What is 2+2?,4,gpt-4o\n"
                '"Ünïcödé ""q""",ok,\n'
                '"multi\nline",ml,claude\n'
                "no model here,x,\n")
        name = self.write("p.csv", data)
        result = self.run_cli("warm", name)
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("p.csv:3: a prompt row needs a model", result.stderr)
        self.assertIn("p.csv:6: a prompt row needs a model", result.stderr)
        self.assert_response("gpt-4o", "What is 2+2?", b"4")
        self.assert_response("claude", "multi\nline", b"ml")
        report, _ = self.warm(name, "--model", "fallback")
        self.assertEqual((report["imported"], report["skipped"], report["failed"]), (2, 2, 0))
        self.assert_response("fallback", 'Ünïcödé "q"', b"ok")
        self.assert_response("fallback", "no model here", b"x")

    def test_query_is_a_prompt_and_usage_is_recorded(self):
        answer = json.dumps({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30}})
        self.warm(self.write("q.jsonl", json.dumps({"query": "hi", "value": answer}) + "\n"), "--model", "m")
        meta = self.entry(response_key("m", "hi"))["meta"]
        self.assertEqual((meta["prompt_tokens"], meta["completion_tokens"]), (12, 30))

    def test_json_lines_input(self):
        lines = [
            json.dumps({"prompt": "a", "response": "A", "model": "m", "ttl": 60, "tags": ["x", "y"]}),
            "",
            json.dumps({"key": "plain", "value": {"nested": [1, 2]}, "layer": "retrieval"}),
            "not json",
            json.dumps({"key": "k2", "value": "v", "colour": "red"}),
            json.dumps({"key": "k3", "value": "v3", "ttl": "2h"}, ensure_ascii=False),
        ]
        name = self.write("d.jsonl", "\n".join(lines) + "\n")
        report, result = self.warm(name, code=EXIT_USAGE)
        self.assertEqual((report["rows"], report["imported"], report["failed"]), (5, 3, 2), result.describe())
        self.assertEqual(report["format"], "jsonl")
        self.assertIn("d.jsonl:4: ", result.stderr)
        self.assertIn('d.jsonl:5: unknown field "colour"', result.stderr)
        entry = self.entry(response_key("m", "a"))
        self.assertEqual(entry["expires_ms"] - entry["created_ms"], 60000)
        self.assertEqual(sorted(entry["tags"]), ["model:m", "x", "y"])
        self.assertEqual(json.loads(self.value("plain")), {"nested": [1, 2]})
        self.assertEqual(self.entry("plain")["layer"], "retrieval")
        self.assertEqual(self.value("k3"), b"v3")


class DryRun(IntegrationTest):

    def test_dry_run_checks_every_row_and_contacts_no_daemon(self):
        path = os.path.join(self.sandbox.root, "dry.csv")
        with open(path, "w") as f:
            f.write("key,prompt,value\nk,,v\n,p,\nbad\n")
        result = self.run_cli("warm", "dry.csv", "--dry-run", "--model", "m", "--exec", "cat", "--json")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        report = result.json()
        self.assertEqual((report["dry_run"], report["rows"], report["would_import"], report["would_exec"],
                          report["failed"], report["imported"]), (True, 3, 1, 1, 1, 0))
        self.assertIn("dry.csv:4: ", result.stderr)
        self.assertFalse(os.path.exists(self.sandbox.socket), "no daemon was started")
        self.assertFalse(os.path.exists(self.sandbox.database), "nothing was stored")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])


class Exec(WithDaemon):

    def test_exec_answers_each_missing_row_once_with_two_jobs(self):
        prompts = [f"question {i}" for i in range(8)]
        data = "prompt,response\n" + "".join(f"{p},\n" for p in prompts) + "given,known\n"
        name = self.write("e.csv", data)
        report, result = self.warm(name, "--model", "m", "--exec", COUNTING_COMMAND, "--jobs", "2")
        self.assertEqual((report["imported"], report["skipped"], report["failed"], report["executed"]), (9, 0, 0, 8),
                         result.describe())
        self.assertEqual(self.runs(), 8)
        for p in prompts:
            self.assertEqual(self.value(response_key("m", p)), f"answer: {p}".encode())
        self.assertEqual(self.value(response_key("m", "given")), b"known")
        again, _ = self.warm(name, "--model", "m", "--exec", COUNTING_COMMAND, "--jobs", "2")
        self.assertEqual((again["imported"], again["skipped"], again["executed"]), (0, 9, 0))
        self.assertEqual(self.runs(), 8, "cached rows do not run the command")

    def test_exec_shows_rows_rate_and_time_left_on_a_terminal_only(self):
        name = self.write("p.csv", "prompt\n" + "".join(f"progress {i}\n" for i in range(3)))
        piped = self.cli("warm", name, "--model", "m", "--exec", "cat")
        self.assertNotIn("\r", piped.stderr, "no progress line when stderr is not a terminal")
        self.assertNotIn("--exec:", piped.stderr)
        self.assertRegex(piped.text, r"^p\.csv: 3 rows: 3 imported, 0 skipped \(already cached\), 0 failed, "
                                     r"--exec ran 3 times " + PACE + r"\n$")
        # Each run takes over the line's redraw interval, so every row redraws it.
        name = self.write("q.csv", "prompt\n" + "".join(f"terminal {i}\n" for i in range(3)))
        leader, follower = pty.openpty()
        self.addCleanup(os.close, leader)
        seen = bytearray()
        reader = threading.Thread(target=read_terminal, args=(leader, seen), daemon=True)
        reader.start()
        try:
            process = subprocess.Popen([harness.CLI, "warm", name, "--model", "m", "--exec", "sleep 0.3; cat"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
                                       env=self.sandbox.environment(), cwd=self.sandbox.root)
        finally:
            os.close(follower)
        out, _ = process.communicate(timeout=harness.COMMAND_TIMEOUT)
        reader.join(timeout=harness.WAIT)
        self.assertEqual(process.returncode, EXIT_OK, bytes(seen))
        self.assertIn(b"\r--exec: 0/3 rows, rate not known yet", seen, "drawn at once, whatever the file's size")
        self.assertRegex(bytes(seen), rb"\r--exec: 3/3 rows, \d+\.\d rows/s\x1b\[K")
        self.assertRegex(bytes(seen), rb"\r--exec: [12]/3 rows, \d+\.\d rows/s, about \d+[smh]\w* left\x1b\[K")
        self.assertTrue(bytes(seen).endswith(b"\r\x1b[K"), f"the line is erased at the end: {bytes(seen)!r}")
        self.assertIn(b"--exec ran 3 times in ", out)

    def test_the_command_sees_the_model(self):
        self.warm(self.write("m.csv", "prompt,model\nhi,model-a\n"), "--exec", 'printf %s "$OMNICACHE_WARM_MODEL"')
        self.assertEqual(self.value(response_key("model-a", "hi")), b"model-a")

    def test_two_concurrent_warms_run_the_command_once_per_row(self):
        prompts = [f"p{i}" for i in range(6)]
        name = self.write("c.csv", "prompt\n" + "".join(f"{p}\n" for p in prompts))
        command = "sleep 0.2; " + COUNTING_COMMAND
        argv = [harness.CLI, "warm", name, "--model", "m", "--exec", command, "--jobs", "2", "--json"]
        processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                      env=self.sandbox.environment(), cwd=self.sandbox.root) for _ in range(2)]
        reports = []
        for process in processes:
            out, err = process.communicate(timeout=harness.COMMAND_TIMEOUT)
            self.assertEqual(process.returncode, EXIT_OK, err)
            reports.append(json.loads(out))
        self.assertEqual(self.runs(), len(prompts), reports)
        self.assertEqual(sum(r["executed"] for r in reports), len(prompts))
        self.assertEqual(sum(r["imported"] for r in reports), len(prompts))
        self.assertEqual(sum(r["skipped"] for r in reports), len(prompts))
        for p in prompts:
            self.assertEqual(self.value(response_key("m", p)), f"answer: {p}".encode())

    def test_a_failing_command_fails_its_row_only(self):
        command = 'p=$(cat); case "$p" in *bad*) echo oops >&2; exit 3;; esac; printf "ok:%s" "$p"'
        name = self.write("f.csv", "prompt\nfine 1\nbad one\nfine 2\n")
        report, result = self.warm(name, "--model", "m", "--exec", command, "--jobs", "2", code=EXIT_USAGE)
        self.assertEqual((report["imported"], report["failed"], report["executed"]), (2, 1, 3), result.describe())
        self.assertIn("f.csv:3: --exec command exited with status 3", result.stderr)
        self.assertEqual(self.value(response_key("m", "fine 2")), b"ok:fine 2")
        self.cli("exists", response_key("m", "bad one"), code=harness.EXIT_MISS)
        # The lease was given back: a later run may compute the row.
        start = time.monotonic()
        report, _ = self.warm(name, "--model", "m", "--exec", "cat")
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual((report["imported"], report["skipped"]), (1, 2))

    def test_rows_without_a_value_fail_without_exec(self):
        name = self.write("n.csv", "prompt,response\nq,\n")
        report, result = self.warm(name, "--model", "m", code=EXIT_USAGE)
        self.assertEqual(report["failed"], 1)
        self.assertIn("n.csv:2: no value", result.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
