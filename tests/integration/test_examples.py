"""The shell scripts in examples/, run for real against the fake provider on
loopback (fake_llm.py) and a daemon of the test's own: the first call asks
the upstream, the same call again is a hit that asks nothing, and a changed
document, `omnicache invalidate --dep` or `--model`, or a re-pulled Ollama
model makes the answer stale."""

import json
import os
import shutil
import stat
import subprocess
import sys
import unittest

from fake_llm import FakeLLM
from harness import CLI, COMMAND_TIMEOUT, SOURCE_DIR, IntegrationTest, Result

EXAMPLES = os.path.join(SOURCE_DIR, "examples")
SCRIPTS = ("openai-curl.sh", "llm-tool.sh", "ollama.sh")
CHAT = "/v1/chat/completions"
OLLAMA_CHAT = "/api/chat"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

# The real `llm` (Simon Willison's, on PyPI only) cannot be installed here.
# This stand-in takes the arguments the example gives it (-m MODEL, -s SYSTEM,
# PROMPT), puts standard input before the prompt as llm does, asks the
# OpenAI-style API at OPENAI_BASE_URL, and prints the answer text on stdout
# like `llm -m MODEL PROMPT`.
LLM_STAND_IN = '''\
import argparse, json, os, sys, urllib.error, urllib.request
parser = argparse.ArgumentParser(prog="llm")
parser.add_argument("-m", "--model", required=True)
parser.add_argument("-s", "--system")
parser.add_argument("prompt", nargs="?", default="")
args = parser.parse_args()
stdin = "" if sys.stdin.isatty() else sys.stdin.read()
prompt = " ".join(part for part in (stdin, args.prompt) if part)
messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
    {"role": "user", "content": prompt}]
request = urllib.request.Request(
    os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions",
    data=json.dumps({"model": args.model, "messages": messages}).encode(),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")})
try:
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
except urllib.error.HTTPError as e:
    sys.exit("Error: " + e.read().decode(errors="replace"))
print(answer["choices"][0]["message"]["content"])
'''


@unittest.skipUnless(shutil.which("curl") and shutil.which("jq"), "the examples need curl and jq")
class ExamplesTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.fake = FakeLLM()
        self.addCleanup(self.fake.close)
        self.start_daemon()
        # The scripts run from a folder of their own, away from examples/.
        self.workdir = os.path.join(self.sandbox.root, "work")
        self.bin = os.path.join(self.sandbox.root, "bin")
        os.mkdir(self.workdir)
        os.mkdir(self.bin)

    def script_env(self, extra=None):
        env = {name: None for name in PROXY_VARIABLES}
        env.update(no_proxy="*", NO_PROXY="*", OMNICACHE_SOCKET=self.sandbox.socket, OMNICACHE=CLI,
                   OPENAI_BASE_URL=self.fake.url + "/v1", OPENAI_API_KEY="sk-test", OLLAMA_HOST=self.fake.url,
                   PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        env.update(extra or {})
        return self.sandbox.environment(env)

    def script(self, name, *args, env=None, input=None):
        argv = [os.path.join(EXAMPLES, name), *args]
        done = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, env=self.script_env(env), cwd=self.workdir,
                              timeout=COMMAND_TIMEOUT)
        return Result(argv, done.returncode, done.stdout, done.stderr.decode(errors="replace"))

    def ok(self, name, *args, **kwargs):
        result = self.script(name, *args, **kwargs)
        self.assertEqual(result.code, 0, result)
        return result

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def entries(self):
        return self.stats()["totals"]["entries"]

    def status_lines(self, result):
        return [line.split()[0] for line in result.stderr.splitlines() if line.split()[:1] in (["HIT"], ["MISS"])]

    # -- openai-curl.sh -------------------------------------------------------------

    def test_openai_curl_answers_a_document_once_until_it_changes_or_its_dep_is_invalidated(self):
        doc = self.write("contract.txt", "The tenant pays on the first of the month.\n")
        first = self.ok("openai-curl.sh", "--status", "-m", "gpt-4o", "-f", "contract.txt")
        self.assertEqual(first.text, "Echo: Summarize this document.\n\nThe tenant pays on the first of the month.\n\n")
        self.assertEqual(self.fake.count(CHAT), 1)
        asked = self.fake.last_body()
        self.assertEqual(asked["model"], "gpt-4o")
        self.assertEqual(asked["temperature"], 0)
        self.assertEqual(self.fake.last_headers()["authorization"], "Bearer sk-test")
        self.assertEqual(self.status_lines(first), ["MISS"], first)

        # The key is the response layer's: the same one `response key` (and the proxy) computes.
        request = self.write("request.json", json.dumps(asked))
        key = self.cli("response", "key", "--model", "gpt-4o", "--messages", request,
                       "--param", "temperature=0").text.strip()
        self.assertIn(key, first.stderr)

        second = self.ok("openai-curl.sh", "--status", "-m", "gpt-4o", "-f", doc)
        self.assertEqual(second.text, first.text)
        self.assertEqual(self.fake.count(CHAT), 1)
        self.assertEqual(self.status_lines(second), ["HIT"], second)

        removed = self.cli("invalidate", "--dep", "file:" + os.path.abspath(doc))
        self.assertEqual(removed.text.strip(), "1")
        third = self.ok("openai-curl.sh", "--status", "-m", "gpt-4o", "-f", doc)
        self.assertEqual(third.text, first.text)
        self.assertEqual(self.fake.count(CHAT), 2)
        self.assertEqual(self.status_lines(third), ["MISS"], third)

        # A new version of the document is a new question, and its answer
        # replaces the one about the old version.
        self.write("contract.txt", "The tenant pays on the fifth.\n")
        changed = self.ok("openai-curl.sh", "--status", "-m", "gpt-4o", "-f", doc)
        self.assertEqual(changed.text, "Echo: Summarize this document.\n\nThe tenant pays on the fifth.\n\n")
        self.assertEqual(self.fake.count(CHAT), 3)
        self.assertEqual(self.entries(), 1)

    def test_openai_curl_takes_omnicache_from_path_and_the_model_from_the_environment(self):
        cli_dir = os.path.dirname(CLI)
        env = {"OMNICACHE": None, "OMNICACHE_EXAMPLE_MODEL": "fake-mini",
               "PATH": cli_dir + os.pathsep + os.environ.get("PATH", "")}
        args = ("-s", "Answer briefly.", "--max-tokens", "50", "--tag", "project:test", "--json", "What is 2+2?")
        first = self.ok("openai-curl.sh", *args, env=env)
        answer = first.json()
        self.assertEqual(answer["choices"][0]["message"]["content"], "Echo: What is 2+2?")
        self.assertEqual(self.fake.last_body()["model"], "fake-mini")
        self.assertEqual(self.fake.last_body()["max_tokens"], 50)
        self.assertEqual(self.fake.last_body()["messages"][0], {"role": "system", "content": "Answer briefly."})

        again = self.ok("openai-curl.sh", *args, env=env)
        self.assertEqual(again.json(), answer)
        self.assertEqual(self.fake.count(CHAT), 1)
        # A different parameter is a different question.
        self.ok("openai-curl.sh", "-t", "0.5", "What is 2+2?", env=env)
        self.assertEqual(self.fake.count(CHAT), 2)

        self.ok("openai-curl.sh", *args, "--refresh", env=env)
        self.assertEqual(self.fake.count(CHAT), 3)
        self.ok("openai-curl.sh", *args, env={**env, "OMNICACHE_DISABLE": "1"})
        self.assertEqual(self.fake.count(CHAT), 4)
        self.assertEqual(self.cli("invalidate", "project:test").text.strip(), "1")
        self.ok("openai-curl.sh", *args, env=env)
        self.assertEqual(self.fake.count(CHAT), 5)

    def test_openai_curl_reports_an_upstream_error_and_caches_nothing(self):
        self.fake.fail_next(429, '{"error": {"message": "Rate limit reached", "type": "requests"}}')
        failed = self.script("openai-curl.sh", "--status", "Hello?")
        self.assertEqual(failed.code, 1, failed)
        self.assertIn("HTTP 429: Rate limit reached", failed.stderr)
        self.assertEqual(failed.stdout, b"")
        self.assertEqual(self.entries(), 0)

        answered = self.ok("openai-curl.sh", "--status", "Hello?")
        self.assertEqual(answered.text, "Echo: Hello?\n")
        self.assertEqual(self.status_lines(answered), ["MISS"], answered)
        self.assertEqual(self.fake.count(CHAT), 2)

    def test_openai_curl_still_answers_when_no_daemon_can_be_reached(self):
        # A socket inside a regular file: no daemon can be started there.
        blocker = self.write("not-a-folder", "")
        env = {"OMNICACHE_SOCKET": os.path.join(blocker, "omnicached.sock")}
        for _ in range(2):
            answered = self.ok("openai-curl.sh", "Hello?", env=env)
            self.assertEqual(answered.text, "Echo: Hello?\n")
            self.assertIn("asking without the cache", answered.stderr)
        self.assertEqual(self.fake.count(CHAT), 2)
        self.assertEqual(self.entries(), 0)

    # -- llm-tool.sh ----------------------------------------------------------------

    def install_llm_stand_in(self):
        path = os.path.join(self.bin, "llm")
        with open(path, "w") as f:
            f.write(f"#!{sys.executable}\n" + LLM_STAND_IN)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)

    def test_llm_tool_calls_llm_once_per_new_line(self):
        self.install_llm_stand_in()
        self.write("phrases.txt", "good morning\n\nthank you\nsee you soon")
        first = self.ok("llm-tool.sh", "--status", "-m", "gpt-4o", "Translate into French: {}", "phrases.txt")
        self.assertEqual(first.text, "Echo: Translate into French: good morning\n"
                                     "Echo: Translate into French: thank you\n"
                                     "Echo: Translate into French: see you soon\n")
        self.assertEqual(self.fake.count(CHAT), 3)
        self.assertEqual(self.status_lines(first), ["MISS"] * 3, first)

        self.write("phrases.txt", "good morning\nthank you\nsee you soon\ngood night\n")
        second = self.ok("llm-tool.sh", "--status", "-m", "gpt-4o", "Translate into French: {}", "phrases.txt")
        self.assertEqual(second.text, first.text + "Echo: Translate into French: good night\n")
        self.assertEqual(self.fake.count(CHAT), 4)
        self.assertEqual(self.status_lines(second), ["HIT", "HIT", "HIT", "MISS"], second)

        # Lines from standard input, and entries found by their model's tag.
        piped = self.ok("llm-tool.sh", "-m", "gpt-4o", "Translate into French: {}", input=b"thank you\n")
        self.assertEqual(piped.text, "Echo: Translate into French: thank you\n")
        self.assertEqual(self.fake.count(CHAT), 4)
        self.assertEqual(self.cli("invalidate", "--model", "gpt-4o").text.strip(), "4")
        self.ok("llm-tool.sh", "-m", "gpt-4o", "Translate into French: {}", input=b"thank you\n")
        self.assertEqual(self.fake.count(CHAT), 5)

    def test_llm_tool_answers_depend_on_the_context_document(self):
        self.install_llm_stand_in()
        doc = self.write("contract.txt", "Rent is due monthly.")
        topics = self.write("topics.txt", "rent\ndeposit\n")
        args = ("--status", "--ttl", "1h", "-c", "contract.txt", "Where does this mention the", topics)
        first = self.ok("llm-tool.sh", *args)
        self.assertEqual(first.text, "Echo: Rent is due monthly. Where does this mention the rent\n"
                                     "Echo: Rent is due monthly. Where does this mention the deposit\n")
        self.assertEqual(self.fake.count(CHAT), 2)
        self.assertEqual(self.status_lines(self.ok("llm-tool.sh", *args)), ["HIT", "HIT"])
        self.assertEqual(self.fake.count(CHAT), 2)

        # openai-curl.sh names and versions the document as `run --file` does:
        # its answer joins the others, and removes none of them.
        self.ok("openai-curl.sh", "-f", doc)
        self.assertEqual(self.fake.count(CHAT), 3)
        self.assertEqual(self.status_lines(self.ok("llm-tool.sh", *args)), ["HIT", "HIT"])

        removed = self.cli("invalidate", "--dep", "file:" + os.path.abspath(doc))
        self.assertEqual(removed.text.strip(), "3")
        again = self.ok("llm-tool.sh", *args)
        self.assertEqual(again.text, first.text)
        self.assertEqual(self.status_lines(again), ["MISS", "MISS"])
        self.assertEqual(self.fake.count(CHAT), 5)

    def test_llm_tool_goes_on_after_a_failed_line_and_stores_only_answers(self):
        self.install_llm_stand_in()
        self.fake.fail_next(500, '{"error": {"message": "overloaded"}}')
        failed = self.script("llm-tool.sh", "Say", input=b"one\ntwo\n")
        self.assertEqual(failed.code, 1, failed)
        self.assertEqual(failed.text, "Echo: Say two\n")
        self.assertIn("line 1 failed: one", failed.stderr)
        again = self.ok("llm-tool.sh", "--status", "Say", input=b"one\ntwo\n")
        self.assertEqual(again.text, "Echo: Say one\nEcho: Say two\n")
        self.assertEqual(self.status_lines(again), ["MISS", "HIT"])

    # -- ollama.sh ------------------------------------------------------------------

    def test_ollama_answers_once_per_model_digest(self):
        self.fake.pull_ollama_model("llama3.2:latest")
        first = self.ok("ollama.sh", "--status", "Why is the sky blue?")
        self.assertEqual(first.text, "Echo: Why is the sky blue?\n")
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 1)
        asked = self.fake.last_body()
        self.assertIs(asked["stream"], False)
        self.assertEqual(asked["model"], "llama3.2")
        self.assertEqual(self.status_lines(first), ["MISS"], first)

        second = self.ok("ollama.sh", "--status", "Why is the sky blue?")
        self.assertEqual(second.text, first.text)
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 1)
        self.assertEqual(self.status_lines(second), ["HIT"], second)
        # Ollama's token counts were kept with the answer: a hit saves them.
        saved = self.stats()["models"]["llama3.2"]
        self.assertEqual((saved["hits"], saved["prompt_tokens_saved"], saved["completion_tokens_saved"]), (1, 5, 6))

        # `ollama pull` brought a new version: its digest changed.
        self.fake.pull_ollama_model("llama3.2:latest")
        pulled = self.ok("ollama.sh", "--status", "Why is the sky blue?")
        self.assertEqual(pulled.text, first.text)
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 2)
        self.assertEqual(self.status_lines(pulled), ["MISS"], pulled)
        self.assertEqual(self.status_lines(self.ok("ollama.sh", "--status", "Why is the sky blue?")), ["HIT"])

        self.assertEqual(self.cli("invalidate", "--model", "llama3.2").text.strip(), "1")
        self.ok("ollama.sh", "Why is the sky blue?")
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 3)

    def test_ollama_document_dependency_and_a_model_not_pulled(self):
        self.fake.pull_ollama_model("qwen2.5:7b")
        doc = self.write("notes.md", "- call the plumber\n")
        host = self.fake.url.removeprefix("http://")  # as OLLAMA_HOST is often written
        args = ("-m", "qwen2.5:7b", "-f", doc, "--seed", "7", "List the action items.")
        first = self.ok("ollama.sh", *args, env={"OLLAMA_HOST": host})
        self.assertEqual(first.text, "Echo: List the action items.\n\n- call the plumber\n\n")
        self.assertEqual(self.fake.last_body()["options"], {"temperature": 0, "seed": 7})
        self.ok("ollama.sh", *args)
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 1)
        self.assertEqual(self.cli("invalidate", "--dep", "file:" + os.path.abspath(doc)).text.strip(), "1")
        self.ok("ollama.sh", *args)
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 2)

        missing = self.script("ollama.sh", "-m", "mistral", "Hello")
        self.assertEqual(missing.code, 1, missing)
        self.assertIn("ollama pull mistral", missing.stderr)
        self.assertEqual(self.fake.count(OLLAMA_CHAT), 2)

    # -- all three ------------------------------------------------------------------

    def test_usage_and_bad_usage(self):
        for name in SCRIPTS:
            with self.subTest(script=name):
                shown = self.ok(name, "-h")
                self.assertIn("Usage: " + name, shown.text)
                self.assertIn("OMNICACHE", shown.text)
                wrong = self.script(name, "--no-such-option", "x")
                self.assertEqual(wrong.code, 2, wrong)
                self.assertIn("unknown option --no-such-option", wrong.stderr)
                missing = self.script(name, "-m")
                self.assertEqual(missing.code, 2, missing)
                self.assertIn("-m needs a value", missing.stderr)
        self.assertEqual(self.fake.count(), 0)

    def test_scripts_pass_shellcheck(self):
        shellcheck = shutil.which("shellcheck")
        if not shellcheck:
            self.skipTest("shellcheck is not installed")
        done = subprocess.run([shellcheck, *(os.path.join(EXAMPLES, name) for name in SCRIPTS)],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


if __name__ == "__main__":
    unittest.main()
