"""Matching by meaning beyond the semantic layer, and feedback on wrong hits,
through the real daemon and command: `response get --semantic` (exact key
first, then the same last question among entries with identical earlier
turns and parameters), `run --semantic-text`, and `semantic reject`."""

import json
import os
import stat

from harness import EXIT_MISS, EXIT_USAGE, IntegrationTest

FRANCE = "What is the capital of France?"
FRANCE_AGAIN = "what is the capital of france"


class WithDaemon(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    def write(self, name, content):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def server_stats(self):
        return self.stats()["server"]


class ResponseBySemantic(WithDaemon):

    def response_get(self, *args, code=None):
        result = self.run_cli("response", "get", "--model", "gpt-4o", "--json", *args)
        if code is not None:
            self.assertEqual(result.code, code, result.describe())
        return result.json()

    def test_a_response_answers_its_question_in_other_words(self):
        stored = self.cli("response", "set", "--model", "gpt-4o", "--prompt", FRANCE, "Paris", "--json").json()
        # Without --semantic only the exact request hits.
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", FRANCE_AGAIN, code=EXIT_MISS)
        near = self.response_get("--prompt", FRANCE_AGAIN, "--semantic", code=0)
        self.assertEqual((near["match"], near["value"], near["key"]), ("semantic", "Paris", stored["key"]))
        exact = self.response_get("--prompt", FRANCE, "--semantic", code=0)
        self.assertEqual((exact["match"], exact["similarity"]), ("exact", 1.0))
        status = self.cli("response", "get", "--model", "gpt-4o", "--prompt", FRANCE_AGAIN, "--semantic", "--status")
        self.assertEqual(status.stderr, f"SEMANTIC 1.0000 {stored['key']}\n")
        # The same look-alike protection as the semantic layer.
        spain = self.response_get("--prompt", "What is the capital of Spain?", "--semantic", "--threshold", "0",
                                  code=EXIT_MISS)
        self.assertIn("Spain", spain["rejected"][0]["reason"])
        # A hit counts as a response hit, with its savings.
        self.assertGreaterEqual(self.stats()["layers"]["response"]["hits"], 2)

    def test_only_requests_with_the_same_earlier_turns_and_parameters_match(self):
        conversation = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": FRANCE}]
        self.cli("response", "set", "--model", "gpt-4o", "--messages", self.write("a.json", conversation), "Paris (fr)")
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", FRANCE, "--param", "temperature=0", "Paris (t0)")

        same_turns = [conversation[0], {"role": "user", "content": FRANCE_AGAIN}]
        hit = self.response_get("--messages", self.write("b.json", same_turns), "--semantic", code=0)
        self.assertEqual(hit["value"], "Paris (fr)")
        other_system = [{"role": "system", "content": "Answer in German."}, {"role": "user", "content": FRANCE_AGAIN}]
        self.response_get("--messages", self.write("c.json", other_system), "--semantic", code=EXIT_MISS)

        self.assertEqual(self.response_get("--prompt", FRANCE_AGAIN, "--param", "temperature=0", "--semantic",
                                           code=0)["value"], "Paris (t0)")
        self.response_get("--prompt", FRANCE_AGAIN, "--param", "temperature=1", "--semantic", code=EXIT_MISS)
        self.response_get("--prompt", FRANCE_AGAIN, "--semantic", code=EXIT_MISS)
        # Another model never matches.
        self.cli("response", "get", "--model", "gpt-4o-mini", "--prompt", FRANCE_AGAIN, "--param", "temperature=0",
                 "--semantic", code=EXIT_MISS)

    def test_a_request_that_does_not_end_with_a_user_question_is_exact_only(self):
        ending_with_answer = [{"role": "user", "content": FRANCE}, {"role": "assistant", "content": "Paris"}]
        path = self.write("d.json", ending_with_answer)
        self.cli("response", "set", "--model", "gpt-4o", "--messages", path, "ok")
        self.assertEqual(self.server_stats()["semantic_vectors"], 0)
        result = self.run_cli("response", "get", "--model", "gpt-4o", "--messages", path, "--semantic")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("last message", result.stderr)
        result = self.run_cli("response", "get", "--model", "gpt-4o", "--prompt", "x", "--threshold", "0.5")
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("--semantic", result.stderr)

    def test_an_invalidated_response_no_longer_answers_by_meaning(self):
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", FRANCE, "Paris")
        self.response_get("--prompt", FRANCE_AGAIN, "--semantic", code=0)
        self.assertEqual(self.cli("invalidate", "--model", "gpt-4o").text.strip(), "1")
        self.response_get("--prompt", FRANCE_AGAIN, "--semantic", code=EXIT_MISS)
        self.assertEqual(self.server_stats()["semantic_vectors"], 0)


class RunBySemantic(WithDaemon):

    def setUp(self):
        super().setUp()
        self.counter = os.path.join(self.sandbox.root, "calls")
        self.script = self.write("ask.sh", f'#!/bin/sh\necho x >> "{self.counter}"\necho "answer to: $1"\n')
        os.chmod(self.script, stat.S_IRWXU)

    def calls(self):
        if not os.path.exists(self.counter):
            return 0
        with open(self.counter) as f:
            return len(f.readlines())

    def ask(self, question, *extra, code=0):
        result = self.run_cli("run", "--status", "--semantic-text", question, "--", self.script, *extra, question)
        self.assertEqual(result.code, code, result.describe())
        return result

    def test_a_question_in_other_words_replays_the_earlier_run(self):
        first = self.ask(FRANCE)
        self.assertTrue(first.stderr.startswith("MISS run:"), first.stderr)
        self.assertEqual(first.stdout, f"answer to: {FRANCE}\n".encode())
        again = self.ask(FRANCE_AGAIN)
        self.assertRegex(again.stderr, r"^SEMANTIC 1\.0000 run:[0-9a-f]{32}\n")
        self.assertEqual(again.stdout, first.stdout)
        self.assertEqual(self.calls(), 1)
        # The exact run is a plain hit.
        self.assertTrue(self.ask(FRANCE).stderr.startswith("HIT run:"))
        self.assertEqual(self.calls(), 1)

    def test_other_arguments_or_a_look_alike_question_run_the_command(self):
        self.ask(FRANCE)
        self.ask("What is the capital of Spain?")
        self.assertEqual(self.calls(), 2)
        other = self.ask(FRANCE_AGAIN, "--verbose")  # another command line
        self.assertTrue(other.stderr.startswith("MISS"), other.stderr)
        self.assertEqual(self.calls(), 3)

    def test_a_question_on_standard_input_is_taken_out_of_the_context(self):
        self.cli("run", "--semantic-text", FRANCE, "--", "cat", input=(FRANCE + "\n").encode())
        hit = self.run_cli("run", "--status", "--semantic-text", FRANCE_AGAIN, "--", "cat",
                           input=(FRANCE_AGAIN + "\n").encode())
        self.assertEqual(hit.code, 0, hit.describe())
        self.assertTrue(hit.stderr.startswith("SEMANTIC"), hit.stderr)
        self.assertEqual(hit.stdout, (FRANCE + "\n").encode())

    def test_without_semantic_text_nothing_is_matched_by_meaning(self):
        self.cli("run", "--", self.script, FRANCE)
        self.cli("run", "--", self.script, FRANCE_AGAIN)
        self.assertEqual(self.calls(), 2)
        self.assertEqual(self.server_stats()["semantic_vectors"], 0)


class Reject(WithDaemon):

    def get(self, text, code):
        result = self.run_cli("semantic", "get", text, "--model", "gpt-4o", "--json")
        self.assertEqual(result.code, code, result.describe())
        return result.json()

    def test_a_reported_wrong_hit_stops_matching_that_query_and_close_ones(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        wrong = self.get(FRANCE_AGAIN, 0)
        recorded = self.cli("semantic", "reject", wrong["key"], "--query", FRANCE_AGAIN, "--json").json()
        self.assertEqual(recorded, {"key": wrong["key"], "recorded": True})
        refused = self.get(FRANCE_AGAIN, EXIT_MISS)
        self.assertEqual(refused["rejected"][0]["reason"], "reported wrong")
        # A close variant of the reported query (same lexical vector) is refused too.
        self.get("What is the capital of France", EXIT_MISS)
        # The entry still answers its own question.
        self.assertEqual(self.get(FRANCE, 0)["match"], "exact")
        server = self.server_stats()
        self.assertEqual(server["semantic_false_hits_reported"], 1)
        self.assertGreaterEqual(server["semantic_feedback_rejections"], 2)

    def test_feedback_survives_a_restart_and_goes_with_its_entry(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        key = self.get(FRANCE_AGAIN, 0)["key"]
        self.cli("semantic", "reject", key, "--query", FRANCE_AGAIN)
        self.stop_daemon(self.daemon)
        self.daemon = self.start_daemon()
        self.get(FRANCE_AGAIN, EXIT_MISS)
        # A new answer to the same question is a new entry: old feedback does not apply.
        self.cli("semantic", "set", FRANCE, "Paris, France", "--model", "gpt-4o")
        self.assertEqual(self.get(FRANCE_AGAIN, 0)["value"], "Paris, France")

    def test_rejecting_an_unknown_key_records_nothing(self):
        result = self.run_cli("semantic", "reject", "semantic:0000", "--query", "x")
        self.assertEqual(result.code, EXIT_MISS, result.describe())
        self.assertIn("nothing recorded", result.stderr)
        self.cli("set", "plain", "v")
        self.assertEqual(self.run_cli("semantic", "reject", "plain", "--query", "x").code, EXIT_MISS)
        self.assertEqual(self.server_stats()["semantic_false_hits_reported"], 0)

    def test_a_wrong_response_and_run_hit_can_be_reported_too(self):
        self.cli("response", "set", "--model", "gpt-4o", "--prompt", FRANCE, "Paris")
        near = self.cli("response", "get", "--model", "gpt-4o", "--prompt", FRANCE_AGAIN, "--semantic", "--json").json()
        self.cli("semantic", "reject", near["key"], "--query", FRANCE_AGAIN)
        self.cli("response", "get", "--model", "gpt-4o", "--prompt", FRANCE_AGAIN, "--semantic", code=EXIT_MISS)


if __name__ == "__main__":
    import unittest
    unittest.main()
