"""Semantic matches through the real daemon: exact first, then nearest
neighbours within tenant, model and context, the threshold's edge, the guard,
similarities never above 1, an index that survives a restart and a kill -9,
and the examples of `semantic --help`, `response --help` and the README's
"Semantic matches", run as written."""

import json
import os
import re
import struct
import time

from harness import CLI, EXIT_MISS, EXIT_USAGE, SOURCE_DIR, IntegrationTest

FRANCE = "What is the capital of France?"


class WithDaemon(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()

    def get(self, text, *args, code=None, **kwargs):
        result = self.run_cli("semantic", "get", text, "--model", "gpt-4o", "--json", *args, **kwargs)
        if code is not None:
            self.assertEqual(result.code, code, result.describe())
        return result.json()


class Matching(WithDaemon):

    def test_the_same_question_written_differently_is_a_semantic_hit(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        exact = self.get(FRANCE, code=0)
        self.assertEqual((exact["match"], exact["similarity"], exact["value"]), ("exact", 1.0, "Paris"))
        # Case and punctuation do not change the lexical embedding.
        near = self.get("what is the capital of france", code=0)
        self.assertEqual(near["match"], "semantic")
        self.assertEqual(near["value"], "Paris")
        self.assertEqual(near["key"], exact["key"])
        status = self.cli("semantic", "get", "what is the capital of france", "--model", "gpt-4o", "--status")
        self.assertRegex(status.stderr, r"^SEMANTIC 1\.0000 semantic:[0-9a-f]{32}\n")

    def test_a_look_alike_question_is_refused_by_the_guard(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        spain = self.get("What is the capital of Spain?", "--threshold", "0", code=EXIT_MISS)
        self.assertFalse(spain["found"])
        self.assertEqual(len(spain["rejected"]), 1)
        self.assertIn("Spain", spain["rejected"][0]["reason"])
        # Without the guard and with a low enough threshold it would have been a (wrong) hit.
        unguarded = self.get("What is the capital of Spain?", "--threshold", "0", "--no-guard", code=0)
        self.assertEqual(unguarded["value"], "Paris")

    def test_the_threshold_is_inclusive(self):
        self.cli("semantic", "set", "How do I reset my password quickly", "answer", "--model", "gpt-4o")
        query = "How do I reset my password"
        probe = self.get(query, "--threshold", "0", code=0)
        similarity = probe["similarity"]
        self.assertLess(similarity, 1.0)
        at = f"{similarity:.6f}"
        self.get(query, "--threshold", at, code=0)
        above = f"{round(similarity, 6) + 0.000001:.6f}"
        self.get(query, "--threshold", above, code=EXIT_MISS)

    def test_models_tenants_and_contexts_do_not_mix(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        self.cli("semantic", "get", FRANCE.lower(), "--model", "other", code=EXIT_MISS)
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", "--tenant", "t2", code=EXIT_MISS)
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", "--context", "abc", code=EXIT_MISS)
        self.cli("semantic", "set", FRANCE, "Paris, in that conversation", "--model", "gpt-4o", "--context", "abc")
        self.assertEqual(self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", "--context", "abc").stdout,
                         b"Paris, in that conversation")
        self.assertEqual(self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o").stdout, b"Paris")

    def test_expired_and_invalidated_entries_never_match(self):
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o", "--ttl", "1s")
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o")
        time.sleep(1.2)
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", code=EXIT_MISS)
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o", "--tag", "geo")
        self.assertEqual(self.cli("invalidate", "geo").text.strip(), "1")
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", code=EXIT_MISS)
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        self.assertEqual(self.cli("invalidate", "--model", "gpt-4o").text.strip(), "1")
        self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", code=EXIT_MISS)

    def test_a_similarity_is_never_above_one(self):
        # Equal lexical vectors, each component rounded to a float on its own,
        # gave 1.00000005 before the cosine was bounded.
        questions = (FRANCE, "Explain quicksort", "How do I reset my password quickly",
                     "What is 3 plus 1.5 and 2?")
        for question in questions:
            self.cli("semantic", "set", question, "answer", "--model", "gpt-4o")
        for question in questions:
            for typed in (question.lower(), question.upper() + "!!", question + "."):
                got = self.get(typed, "--threshold", "0", code=0)
                self.assertEqual(got["match"], "semantic", typed)
                self.assertLessEqual(got["similarity"], 1.0, typed)
                self.assertGreater(got["similarity"], 0.9999, typed)

    def test_a_replaced_answer_is_the_one_returned(self):
        self.cli("semantic", "set", FRANCE, "old", "--model", "gpt-4o")
        self.cli("semantic", "set", FRANCE, "new", "--model", "gpt-4o")
        self.assertEqual(self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o").stdout, b"new")
        self.assertEqual(self.stats()["server"]["semantic_vectors"], 1)

    def test_client_vectors_match_only_client_vectors(self):
        path = os.path.join(self.sandbox.root, "v.json")
        near = os.path.join(self.sandbox.root, "near.f32")
        with open(path, "w") as f:
            json.dump([1.0, 0.0, 0.0, 0.0], f)
        with open(near, "wb") as f:
            f.write(struct.pack("<4f", 0.99, 0.1, 0.0, 0.0))
        self.cli("semantic", "set", "q one", "A", "--model", "m", "--vector-file", path)
        hit = self.run_cli("semantic", "get", "q two", "--model", "m", "--vector-file", near, "--json",
                           "--no-guard")
        self.assertEqual(hit.code, 0, hit.describe())
        self.assertAlmostEqual(hit.json()["similarity"], 0.99 / (0.99 ** 2 + 0.01) ** 0.5, places=5)
        # The daemon's own embedding of the same text is another scope.
        self.cli("semantic", "get", "q one", "--model", "m", code=0)  # exact key still hits
        self.cli("semantic", "get", "q one!", "--model", "m", code=EXIT_MISS)

    def test_bad_input_is_refused(self):
        bad = os.path.join(self.sandbox.root, "bad.json")
        with open(bad, "w") as f:
            f.write("[0, 0]")
        result = self.run_cli("semantic", "set", "q", "v", "--model", "m", "--vector-file", bad)
        self.assertEqual(result.code, EXIT_USAGE, result.describe())
        self.assertIn("not all zeros", result.stderr)
        result = self.run_cli("semantic", "get", "q", "--model", "m", "--threshold", "1.5")
        self.assertEqual(result.code, EXIT_USAGE)


class Restart(IntegrationTest):

    def test_the_index_is_rebuilt_after_kill_9(self):
        daemon = self.start_daemon()
        self.cli("semantic", "set", FRANCE, "Paris", "--model", "gpt-4o")
        daemon.kill9()
        self.daemons.remove(daemon)
        self.start_daemon()
        result = self.cli("semantic", "get", FRANCE.lower(), "--model", "gpt-4o", "--status")
        self.assertEqual(result.stdout, b"Paris")
        self.assertTrue(result.stderr.startswith("SEMANTIC"), result.stderr)


class Examples(WithDaemon):
    """The semantic examples of `semantic --help` and of the README, run as
    written with the default embedder. A comment says what a line gives:
    "miss..." is exit 1; "OUT; STATUS" is OUT on stdout and a first line on
    stderr that starts with STATUS (up to its "..." or "…")."""

    def run_examples(self, lines):
        self.assertTrue(lines)
        env = {"PATH": os.path.dirname(os.path.abspath(CLI)) + os.pathsep + os.environ.get("PATH", "")}
        for line in lines:
            command, _, comment = (part.strip() for part in line.partition("  # "))
            result = self._run(["bash", "-c", command], env=env)
            self.assertEqual(result.code, EXIT_MISS if comment.startswith("miss") else 0, f"{line}\n{result.describe()}")
            if ";" in comment and not comment.startswith("miss"):
                out, _, status = comment.partition(";")
                self.assertEqual(result.stdout.decode().rstrip("\n"), out.strip(), line)
                self.assertTrue(result.stderr.startswith(status.strip().rstrip(".…")), f"{line}\n{result.stderr}")
            elif comment and not comment.startswith("miss"):
                self.assertEqual(result.stdout.decode().rstrip("\n"), comment, line)

    def test_the_help_examples_work_as_shown(self):
        text = self.cli("semantic", "--help").text
        self.run_examples([line.strip() for line in text.splitlines() if line.strip().startswith("omnicache ")])

    def test_the_response_help_examples_work_as_shown(self):
        turn = [{"role": "user", "content": "What is 2+2?"}]
        for name, value in (("messages.json", turn),
                            ("request.json", {"model": "gpt-4o", "messages": turn, "temperature": 0})):
            with open(os.path.join(self.sandbox.root, name), "w") as f:
                json.dump(value, f)
        text = self.cli("response", "--help").text
        self.assertIn("'what is 2+2'", text)
        self.run_examples([line.strip() for line in text.splitlines() if line.strip().startswith("omnicache ")])

    def test_the_readme_examples_work_as_shown(self):
        with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        section = readme[readme.index("### Semantic matches"):]
        section = section[:section.index("\n#", 1)]
        blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
        self.assertEqual(len(blocks), 3)
        self.run_examples([line for block in blocks for line in block.splitlines() if line.strip()])
