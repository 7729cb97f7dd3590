"""What a new user meets first: entries that say what they are (keys -l,
inspect), help and suggestions for mistyped commands, one meaning for -j,
and keys with odd bytes printed so that they can be read."""

import json
import os
import re

import harness
from harness import EXIT_MISS, EXIT_OK, EXIT_USAGE, IntegrationTest

PROMPT = "What is the capital of France? Answer in one word."


class WithDaemon(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    def response_key(self, model, prompt):
        return self.cli("response", "key", "--model", model, "--prompt", prompt).text.strip()

    def only_key(self, *args):
        keys = self.cli("keys", *args).text.splitlines()
        self.assertEqual(len(keys), 1, keys)
        return keys[0]


class LongListing(WithDaemon):

    def store_three_kinds(self):
        self.cli("set", "plain", "hello", "--ttl", "10m")
        self.cli("get", "plain")
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", PROMPT, "Paris")
        self.assertEqual(self.cli("run", "--", "echo", "hello", "world").stdout, b"hello world\n")
        return self.response_key("gpt-4o", PROMPT), self.only_key("--layer", "run")

    def test_keys_long_shows_layer_size_ttl_hits_key_and_what_the_entry_is(self):
        response, run = self.store_three_kinds()
        lines = self.cli("keys", "-l").text.splitlines()
        self.assertEqual(len(lines), 3, lines)
        by_key = {}
        for line in lines:
            words = line.split()
            by_key[words[4]] = (words[:4], " ".join(words[5:]), line)
        layer, size, ttl, hits = by_key["plain"][0]
        self.assertEqual((layer, size, hits), ("kv", "5B", "1"))
        self.assertRegex(ttl, r"^(9m\d+s|10m)$")
        self.assertEqual(by_key["plain"][1], "", "a plain entry says nothing of its value")
        layer, size, ttl, hits = by_key[response][0]
        self.assertEqual((layer, size, hits), ("response", "5B", "0"))
        self.assertEqual(by_key[response][1], f"gpt-4o: {PROMPT}")
        layer, size, ttl, hits = by_key[run][0]
        self.assertEqual((layer, hits), ("run", "0"))
        self.assertEqual(by_key[run][1], "echo hello world")
        # Aligned: every key starts in the same column.
        starts = {line.index(key) for key, (_, _, line) in by_key.items()}
        self.assertEqual(len(starts), 1, lines)

    def test_a_run_entry_that_records_its_words_shows_its_command_line_as_typed(self):
        # What a writer may record beside the command's name: every word,
        # shown quoted where a shell needs it.
        self.client().call("set", {"key": "run:typed", "layer": "run",
                                   "meta": {"command": "./ask.sh", "argv": ["./ask.sh", "what's up?", "-n", "2"]}},
                           b"answer")
        line = self.cli("keys", "-l").text.rstrip("\n")
        self.assertTrue(line.endswith("run:typed  ./ask.sh 'what'\\''s up?' -n 2"), line)
        self.assertRegex(self.cli("inspect", "run:typed").text,
                         r"(?m)^command: +\./ask\.sh 'what'\\''s up\?' -n 2$")

    def test_keys_long_with_json_gives_the_same_summaries(self):
        response, run = self.store_three_kinds()
        out = self.cli_json("keys", "-l")
        self.assertEqual(out["keys"], sorted(out["keys"]))
        entries = {entry["key"]: entry for entry in out["entries"]}
        self.assertEqual(set(entries), {"plain", response, run})
        self.assertEqual(entries["plain"]["layer"], "kv")
        self.assertEqual(entries["plain"]["raw_size"], 5)
        self.assertEqual(entries["plain"]["hits"], 1)
        self.assertTrue(0 < entries["plain"]["ttl_ms"] <= 600000, entries["plain"])
        self.assertEqual(entries[response]["question"], PROMPT)
        self.assertEqual(entries[response]["meta"]["model"], "gpt-4o")
        self.assertEqual(entries[run]["meta"]["command"], "echo")
        self.assertEqual(entries[run]["meta"]["argv"], ["echo", "hello", "world"])

    def test_a_run_records_a_bounded_command_line(self):
        # An argument may be a whole document: the entry keeps its first KiB.
        self.cli("run", "--", "true", "é" * 3000, "next")
        argv = self.cli_json("keys", "-l", "--layer", "run")["entries"][0]["meta"]["argv"]
        self.assertEqual(argv[0], "true")
        self.assertTrue(argv[1].startswith("é" * 100) and argv[1].endswith("..."), argv[1][-20:])
        self.assertEqual(argv[-1], "...")
        self.assertLessEqual(sum(len(word.encode()) for word in argv), 1024 + 6)

    def test_a_long_listing_is_one_request_per_page_not_one_per_key(self):
        self.store_three_kinds()
        before = self.stats()["operations"]
        self.cli("keys", "-l")
        after = self.stats()["operations"]
        self.assertEqual(after["keys"]["count"] - before["keys"]["count"], 1)
        self.assertEqual(after.get("inspect", {}).get("count", 0), before.get("inspect", {}).get("count", 0))

    def test_inspect_shows_the_prompt_of_a_response_and_the_command_of_a_run(self):
        response, run = self.store_three_kinds()
        shown = {}
        for line in self.cli("inspect", response).text.splitlines():
            label, _, value = line.partition(":")
            shown[label] = value.strip()
        self.assertEqual(shown.get("prompt"), PROMPT)
        self.assertEqual(shown.get("model"), "gpt-4o")
        text = self.cli("inspect", run).text
        self.assertRegex(text, r"(?m)^command: +echo hello world$")
        self.assertEqual(self.cli_json("inspect", response)["entry"]["question"], PROMPT)

    def test_inspect_of_a_missing_key_says_not_found_on_stderr(self):
        result = self.cli("inspect", "missing:1", code=EXIT_MISS)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr, "not found: missing:1\n")
        result = self.cli("inspect", "a\nb", code=EXIT_MISS)
        self.assertEqual(result.stderr, 'not found: "a\\nb"\n')


class KeyEscaping(WithDaemon):

    def test_keys_with_control_bytes_are_quoted_and_json_stays_raw(self):
        keys = ["plain", "a\nb", "tab\there", "\x01ctl", '"quoted', "café", "back\\slash"]
        for key in keys:
            self.cli("set", key, "v")
        shown = self.cli("keys").text.split("\n")
        self.assertEqual(shown[-1], "", "one line per key")
        expected = {"plain": "plain", "a\nb": '"a\\nb"', "tab\there": '"tab\\there"', "\x01ctl": '"\\x01ctl"',
                    '"quoted': '"\\"quoted"', "café": "café", "back\\slash": "back\\slash"}
        self.assertEqual(shown[:-1], [expected[key] for key in sorted(keys, key=lambda k: k.encode())])
        self.assertEqual(self.cli_json("keys")["keys"], sorted(keys, key=lambda k: k.encode()))
        long_lines = self.cli("keys", "-l").text.splitlines()
        self.assertEqual(len(long_lines), len(keys), long_lines)
        self.assertTrue(any(line.rstrip().endswith('"a\\nb"') for line in long_lines), long_lines)


class Help(IntegrationTest):

    def test_help_alone_is_the_top_level_help(self):
        self.assertEqual(self.cli("help").stdout, self.cli("--help").stdout)
        self.assertIn(b"help", self.cli("--help").stdout)

    def test_help_command_is_that_commands_help(self):
        for words in (["run"], ["keys"], ["response", "get"], ["daemon", "status"]):
            with self.subTest(words=words):
                shown = self.cli("help", *words).stdout
                self.assertEqual(shown, self.cli(*words, "--help").stdout)
                self.assertIn(b"Usage: omnicache " + " ".join(words).encode(), shown)
        # Asking for help starts no daemon.
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_help_of_an_unknown_command_names_it_with_suggestions(self):
        result = self.cli("help", "invalidat", code=EXIT_USAGE)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr, "omnicache: unknown command 'invalidat'\ndid you mean invalidate?\n")
        result = self.cli("help", "response", "gte", code=EXIT_USAGE)
        self.assertIn("unknown command 'gte' of 'omnicache response'\ndid you mean get?\n", result.stderr)


class DidYouMean(IntegrationTest):

    def test_a_mistyped_command_suggests_the_nearest_ones(self):
        cases = {"invalidat": "invalidate", "stast": "stats", "isnpect": "inspect", "respons": "response",
                 "gte": "get"}
        for typed, meant in cases.items():
            with self.subTest(typed=typed):
                result = self.cli(typed, "x", code=EXIT_USAGE)
                self.assertEqual(result.stderr, f"omnicache: unknown command '{typed}'\ndid you mean {meant}?\n")
        # Two as near as each other: both.
        result = self.cli("gel", code=EXIT_USAGE)
        self.assertIn("did you mean get or del?", result.stderr)
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [])

    def test_a_word_near_no_command_gets_no_guess(self):
        result = self.cli("frobnicate", code=EXIT_USAGE)
        self.assertIn("unknown command 'frobnicate'", result.stderr)
        self.assertNotIn("did you mean", result.stderr)
        self.assertIn("omnicache --help", result.stderr)

    def test_a_mistyped_subcommand_suggests_the_nearest(self):
        result = self.cli("response", "gte", "--model", "m", "--prompt", "p", code=EXIT_USAGE)
        self.assertEqual(result.stderr, "omnicache: unknown command 'gte' of 'omnicache response'\n"
                                        "did you mean get?\n")
        result = self.cli("daemon", "stpo", code=EXIT_USAGE)
        self.assertIn("did you mean stop?", result.stderr)

    def test_global_options_and_their_values_are_not_taken_for_commands(self):
        result = self.cli("--tenant", "invalidat", "stast", code=EXIT_USAGE)
        self.assertEqual(result.stderr, "omnicache: unknown command 'stast'\ndid you mean stats?\n")


class ArgumentsAreNotCommands(WithDaemon):

    def test_a_key_that_looks_like_a_command_is_a_key(self):
        result = self.cli("get", "invalidat", code=EXIT_MISS)
        self.assertNotIn("did you mean", result.stderr)


class InvalidateTag(WithDaemon):

    def test_invalidate_takes_tag_options_like_keys(self):
        self.cli("set", "a", "1", "-t", "x")
        self.cli("set", "b", "2", "--tag", "y")
        self.cli("set", "c", "3", "--tag", "z")
        self.cli("set", "d", "4")
        self.assertEqual(self.cli("invalidate", "--tag", "x", "-t", "y").text.strip(), "2")
        self.assertEqual(self.cli("keys").text.splitlines(), ["c", "d"])
        # With positional tags too: any of them.
        self.cli("set", "e", "5", "--tag", "w")
        self.assertEqual(self.cli_json("invalidate", "z", "--tag", "w"), {"removed": 2})
        self.assertEqual(self.cli("keys").text.splitlines(), ["d"])


class OneMeaningForJ(WithDaemon):

    def test_j_means_json_on_every_command_that_prints(self):
        self.cli("set", "k", "v", "--tag", "t")
        rows = os.path.join(self.sandbox.root, "rows.jsonl")
        with open(rows, "w") as f:
            f.write(json.dumps({"key": "w1", "value": "one"}) + "\n")
        commands = [["get", "k"], ["exists", "k"], ["inspect", "k"], ["keys"], ["keys", "-l"], ["stats"], ["ping"],
                    ["set", "k2", "v"], ["del", "k2"], ["invalidate", "nothing"], ["warm", rows],
                    ["config", "show"], ["daemon", "status"], ["flush"]]
        for command in commands:
            with self.subTest(command=command):
                result = self.cli(*command, "-j")
                try:
                    json.loads(result.stdout)
                except ValueError as e:
                    self.fail(f"-j output is not JSON ({e}){result.describe()}")

    def test_warm_takes_its_number_of_jobs_as_jobs(self):
        rows = os.path.join(self.sandbox.root, "prompts.jsonl")
        with open(rows, "w") as f:
            for prompt in ("one", "two", "three"):
                f.write(json.dumps({"prompt": prompt}) + "\n")
        report = self.cli_json("warm", rows, "--model", "m", "--exec", "printf 'answer: '; cat", "--jobs", "2")
        self.assertEqual(report["executed"], 3, report)
        key = self.response_key("m", "two")
        self.assertEqual(self.cli("get", key).stdout, b"answer: two")
        # -j is --json there too, so it takes no number.
        result = self.cli("warm", rows, "--model", "m", "--exec", "cat", "-j", "2", code=EXIT_USAGE)
        self.assertIn("2", result.stderr)
