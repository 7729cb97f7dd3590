"""The semantic index saved beside the database: written at a clean stop,
used at the next start when the database has not changed since, rebuilt
from the database otherwise (no files, kill -9, damaged files), and never a
way for a removed entry to answer."""

import json
import os
import shutil

from harness import EXIT_MISS, IntegrationTest

# Two sets of entries: questions for the daemon's embedder with their
# answers, and one entry with a client vector.
SETS = {
    "a": {"questions": [("What is the capital of France?", "Paris"),
                        ("How long should bread dough be kneaded?", "Ten minutes")],
          "vector": [1.0, 0.0, 0.0, 0.0], "query": [0.99, 0.0, 0.05, 0.0], "answer": "V"},
    "b": {"questions": [("What is the boiling point of water at sea level?", "Hot"),
                        ("How many legs does a spider have?", "Eight")],
          "vector": [0.0, 1.0, 0.0, 0.0], "query": [0.05, 0.99, 0.0, 0.0], "answer": "W"},
}


class IndexFile(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.folder = self.sandbox.database + ".semantic"

    # -- helpers ------------------------------------------------------------------

    def restart(self, daemon, kill=False):
        if kill:
            daemon.kill9()
        else:
            self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        return self.start_daemon()

    def vector_file(self, name, values):
        path = os.path.join(self.sandbox.root, name)
        with open(path, "w") as f:
            json.dump(values, f)
        return path

    def set_entries(self, name="a"):
        entries = SETS[name]
        for question, answer in entries["questions"]:
            self.cli("semantic", "set", question, answer, "--model", "gpt-4o")
        vector = self.vector_file(f"set-{name}.json", entries["vector"])
        self.cli("semantic", "set", f"question {name}", entries["answer"], "--model", "m", "--vector-file", vector)

    def assert_hits(self, name="a"):
        """Each entry of the set answers a question written differently."""
        entries = SETS[name]
        for question, answer in entries["questions"]:
            near = self.cli_json("semantic", "get", question.lower().rstrip("?"), "--model", "gpt-4o")
            self.assertEqual((near["match"], near["value"]), ("semantic", answer))
        query = self.vector_file(f"query-{name}.json", entries["query"])
        near = self.cli_json("semantic", "get", "another question", "--model", "m", "--vector-file", query,
                             "--no-guard")
        self.assertEqual((near["match"], near["value"]), ("semantic", entries["answer"]))

    def index_at_start(self):
        server = self.stats()["server"]
        self.assertIsInstance(server["semantic_index_ms"], int)
        return server["semantic_index"], server["semantic_vectors"]

    def graph_files(self):
        with open(os.path.join(self.folder, "manifest.json")) as f:
            manifest = json.load(f)
        return [os.path.join(self.folder, graph["file"]) for graph in manifest["graphs"]]

    def saved_and_stopped(self):
        daemon = self.start_daemon()
        self.set_entries()
        self.stop_daemon(daemon)
        self.daemons.remove(daemon)
        self.assertIn("semantic index: saved 3 vectors in 2 scopes", daemon.log_text())
        return daemon

    # -- tests --------------------------------------------------------------------

    def test_a_clean_stop_saves_the_index_and_the_next_start_loads_it(self):
        self.saved_and_stopped()
        self.assertTrue(os.path.isfile(os.path.join(self.folder, "manifest.json")))
        self.assertEqual(len(self.graph_files()), 2)
        self.assertEqual(os.stat(self.folder).st_mode & 0o777, 0o700)
        daemon = self.start_daemon()
        self.assertEqual(self.index_at_start(), ("loaded", 3))
        self.assertIn("semantic index: loaded 3 vectors in 2 scopes", daemon.log_text())
        self.assert_hits()
        # Entries set after a load are found, and saved at the next stop.
        self.set_entries("b")
        self.assert_hits("b")
        daemon = self.restart(daemon)
        self.assertEqual(self.index_at_start(), ("loaded", 6))
        self.assert_hits()
        self.assert_hits("b")

    def test_without_the_folder_the_index_is_rebuilt(self):
        self.saved_and_stopped()
        shutil.rmtree(self.folder)
        daemon = self.start_daemon()
        self.assertEqual(self.index_at_start(), ("rebuilt", 3))
        self.assertIn("rebuilt from the database (no saved index): 3 vectors", daemon.log_text())
        self.assert_hits()

    def test_after_kill_9_the_stale_files_are_not_used(self):
        self.saved_and_stopped()
        daemon = self.start_daemon()
        self.assertEqual(self.index_at_start(), ("loaded", 3))
        self.set_entries("b")
        daemon = self.restart(daemon, kill=True)
        self.assertEqual(self.index_at_start(), ("rebuilt", 6))
        self.assertRegex(daemon.log_text(), r"rebuilt from the database \(saved at generation \d+, "
                                            r"the database is at \d+\): 6 vectors")
        # The stale files are gone until the next clean stop writes new ones.
        self.assertFalse(os.path.exists(self.folder))
        self.assert_hits()
        self.assert_hits("b")
        self.restart(daemon)
        self.assertEqual(self.index_at_start(), ("loaded", 6))

    def test_a_kill_9_without_changes_keeps_the_saved_index_usable(self):
        self.saved_and_stopped()
        daemon = self.start_daemon()
        self.assert_hits()
        self.restart(daemon, kill=True)
        self.assertEqual(self.index_at_start(), ("loaded", 3))
        self.assert_hits()

    def test_damaged_files_are_rebuilt_from_the_database(self):
        damages = {
            "a damaged graph file": (lambda path: self.overwrite(path, os.path.getsize(path) // 2, b"\x5a" * 64),
                                     "does not match its checksum"),
            "a truncated graph file": (lambda path: os.truncate(path, os.path.getsize(path) // 3), "bytes"),
            "a garbage header": (lambda path: self.overwrite(path, 0, b"\xff" * 96), "not that of this version"),
            "a garbage manifest": (lambda path: self.overwrite(os.path.join(self.folder, "manifest.json"), 0,
                                                               b"\x00garbage{"), "not a JSON object"),
        }
        daemon = self.start_daemon()
        self.set_entries()
        for name, (damage, reason) in damages.items():
            with self.subTest(name):
                daemon = self.restart(daemon)
                self.assertEqual(self.index_at_start(), ("loaded", 3))
                self.stop_daemon(daemon)
                self.daemons.remove(daemon)
                for path in self.graph_files():
                    damage(path)
                daemon = self.start_daemon()
                self.assertEqual(self.index_at_start(), ("rebuilt", 3))
                self.assertIn(reason, daemon.log_text())
                self.assert_hits()

    def test_an_entry_deleted_before_the_stop_never_answers_after_a_load(self):
        daemon = self.start_daemon()
        gone = self.cli_json("semantic", "set", "q one", "gone", "--model", "m", "--vector-file",
                             self.vector_file("one.json", [1.0, 0.0, 0.0, 0.0]))
        self.cli("semantic", "set", "q two", "kept", "--model", "m", "--vector-file",
                 self.vector_file("two.json", [0.8, 0.6, 0.0, 0.0]))
        query = self.vector_file("query.json", [1.0, 0.01, 0.0, 0.0])
        hit = self.cli_json("semantic", "get", "q three", "--model", "m", "--vector-file", query, "--no-guard",
                            "--threshold", "0")
        self.assertEqual(hit["value"], "gone")
        self.cli("del", gone["key"])
        daemon = self.restart(daemon)
        # The index forgot the entry when it was deleted, so the saved one never had it.
        self.assertEqual(self.index_at_start(), ("loaded", 1))
        self.assertRegex(daemon.log_text(), r"loaded 1 vectors in 1 scopes .*\(0 stale dropped, 0 added\)")
        hit = self.cli_json("semantic", "get", "q three", "--model", "m", "--vector-file", query, "--no-guard",
                            "--threshold", "0")
        self.assertEqual(hit["value"], "kept")
        self.cli("semantic", "get", "q one", "--model", "m", code=EXIT_MISS)

    def test_a_changed_index_parameter_rebuilds(self):
        self.saved_and_stopped()
        daemon = self.start_daemon("semantic.m=8")
        self.assertEqual(self.index_at_start(), ("rebuilt", 3))
        self.assertIn("built with m = 16, ef_construction = 200", daemon.log_text())
        self.assert_hits()

    def test_entries_flushed_leave_the_index_and_no_vectors_leave_no_folder(self):
        daemon = self.start_daemon()
        self.cli("set", "plain", "value")
        daemon = self.restart(daemon)
        self.assertFalse(os.path.exists(self.folder))
        self.set_entries()
        self.assertEqual(self.stats()["server"]["semantic_vectors"], 3)
        self.cli("flush")
        self.assertEqual(self.stats()["server"]["semantic_vectors"], 0)
        daemon = self.restart(daemon)
        self.assertEqual(self.index_at_start(), ("rebuilt", 0))
        self.stop_daemon(daemon)
        self.assertFalse(os.path.exists(self.folder))

    @staticmethod
    def overwrite(path, offset, data):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)
