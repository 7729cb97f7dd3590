"""Shell completions: the checked-in scripts in completions/ are exactly what
`omnicache completion SHELL` prints, they name every command and long option
`--help` shows, and bash, zsh and fish really complete with them.

bash is driven by calling the completion function with COMP_WORDS set, as
bash does on TAB; fish by `complete -C`; zsh through a pseudo-terminal
(zsh/zpty) in which TAB is typed, with compadd wrapped to record the matches.
The zsh and fish tests skip when that shell is not installed.
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

from harness import CLI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OMNICACHE_TEST_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
COMPLETIONS = os.path.join(SOURCE_DIR, "completions")
SCRIPTS = {"bash": "omnicache.bash", "zsh": "_omnicache", "fish": "omnicache.fish"}
TIMEOUT = 120


def run(argv, cwd=None, env=None):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"{argv} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def generated(shell):
    return run([CLI, "completion", shell])


def checked_in(shell):
    with open(os.path.join(COMPLETIONS, SCRIPTS[shell]), encoding="utf-8") as f:
        return f.read()


def help_sections(path):
    """The subcommands and long options `omnicache PATH --help` lists."""
    text = run([CLI, *path, "--help"])
    subcommands, options, section = [], [], None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        match = re.match(r"^  (\S+)", line)
        if not match:
            continue
        first = match.group(1)
        if section == "Subcommands":
            subcommands.append(first)
        elif section == "Options":
            options.extend(re.findall(r"--[A-Za-z0-9][\w-]*", first))
    return subcommands, options


def command_tree():
    """Every command path from `--help`, recursively, with what its help lists."""
    tree, pending = {}, [()]
    while pending:
        path = pending.pop()
        subcommands, options = help_sections(list(path))
        tree[path] = (subcommands, options)
        pending.extend(path + (name,) for name in subcommands)
    return tree


class CheckedInScripts(unittest.TestCase):
    def test_checked_in_scripts_are_the_commands_output(self):
        for shell, name in SCRIPTS.items():
            with self.subTest(shell=shell):
                first = generated(shell)
                self.assertEqual(first, generated(shell), f"`omnicache completion {shell}` is not deterministic")
                self.assertTrue(
                    first == checked_in(shell),
                    f"completions/{name} differs from what `omnicache completion {shell}` prints; regenerate it "
                    f"from the source directory with: omnicache completion {shell} > completions/{name}")

    def test_an_unknown_shell_is_refused(self):
        result = subprocess.run([CLI, "completion", "tcsh"], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 2, result.stderr)


class EveryCommandAndOption(unittest.TestCase):
    """Independent of the generator: what --help shows must be in each script,
    in the part of it that completes that command."""

    @classmethod
    def setUpClass(cls):
        cls.tree = command_tree()
        cls.scripts = {shell: generated(shell) for shell in SCRIPTS}

    def test_help_walk_finds_nested_commands(self):
        self.assertIn(("response", "get"), self.tree)
        self.assertIn(("config", "template"), self.tree)
        self.assertIn(("completion",), self.tree)

    def part(self, shell, path):
        script = self.scripts[shell]
        if shell == "bash":
            match = re.search(r"^  '" + re.escape(" ".join(path)) + r"'\)\n(.*?)^    ;;$", script, re.M | re.S)
        elif shell == "zsh":
            name = "_omnicache" + "".join("_" + word.replace("-", "_") for word in path)
            match = re.search(r"^" + re.escape(name) + r"\(\)\n\{\n(.*?)^\}$", script, re.M | re.S)
        else:
            title = " ".join(("omnicache",) + path)
            match = re.search(r"^# " + re.escape(title) + r"\n(.*?)(?=^\n|\Z)", script, re.M | re.S)
        self.assertIsNotNone(match, f"no part for `{' '.join(path)}` in the {shell} script")
        return match.group(1)

    def mentions(self, shell, part, word):
        if shell == "fish":
            if word.startswith("--"):
                return re.search(r"-l " + re.escape(word[2:]) + r"\b", part) is not None
            return re.search(r"-a " + re.escape(word) + r" ", part) is not None
        return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", part) is not None

    def test_every_subcommand_and_long_option_is_in_every_script(self):
        _, globals_ = self.tree[()]
        globals_ = [name for name in globals_ if name not in ("--help", "--version")]
        for shell in SCRIPTS:
            for path, (subcommands, options) in self.tree.items():
                part = self.part(shell, path)
                for word in subcommands + options + globals_:
                    with self.subTest(shell=shell, command=" ".join(path), word=word):
                        self.assertTrue(self.mentions(shell, part, word),
                                        f"{word} of `omnicache {' '.join(path)}` is not in the {shell} script")


class Shell(unittest.TestCase):
    """Writes the script to a temporary folder and offers a folder with files."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="omnicache-completion-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.files = os.path.join(self.dir, "files")
        os.mkdir(self.files)
        for name in ("alpha.csv", "alpine.jsonl", "beta.txt"):
            open(os.path.join(self.files, name), "w").close()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.dir, "TERM": "dumb",
                    "LANG": "C.UTF-8"}

    def script_file(self, shell, name=None):
        path = os.path.join(self.dir, name or SCRIPTS[shell])
        with open(path, "w", encoding="utf-8") as f:
            f.write(generated(shell))
        return path

    def check_common_words(self):
        """The same few words in each shell; complete(words) returns the set offered."""
        self.assertEqual(self.complete("omnicache", "se"), {"set", "semantic"})
        response, _ = help_sections(["response"])
        self.assertEqual(self.complete("omnicache", "response", ""), set(response))
        offered = self.complete("omnicache", "get", "--")
        for word in ("--status", "--help", "--socket", "--config", "--tenant", "--json", "--quiet", "--verbose"):
            self.assertIn(word, offered)
        self.assertNotIn("--all-tenants", offered)
        self.assertEqual(self.complete("omnicache", "completion", ""), {"bash", "fish", "zsh"})
        self.assertEqual(self.complete("omnicache", "warm", "--format", ""), {"csv", "jsonl"})
        # An option's value is not taken for a command.
        self.assertEqual(self.complete("omnicache", "-T", "set", "re"), {"response", "retrieval"})

    def check_files(self):
        self.assertEqual(self.complete("omnicache", "warm", "al"), {"alpha.csv", "alpine.jsonl"})
        self.assertEqual(self.complete("omnicache", "--config", "b"), {"beta.txt"})


class Bash(Shell):
    def complete(self, *words):
        script = self.script_file("bash")
        line = " ".join(words)
        program = "\n".join([
            f"source {shlex.quote(script)}",
            "function=$(complete -p omnicache | sed -E 's/.* -F ([^ ]+) .*/\\1/')",
            "COMP_WORDS=(" + " ".join(shlex.quote(word) for word in words) + ")",
            f"COMP_CWORD={len(words) - 1}",
            f"COMP_LINE={shlex.quote(line)}",
            "COMP_POINT=${#COMP_LINE}",
            '"$function" omnicache "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
            "printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        out = run(["bash", "--norc", "--noprofile", "-c", program], cwd=self.files, env=self.env)
        return {word for word in out.split("\n") if word}

    def test_bash_completes_commands_options_and_values(self):
        self.check_common_words()

    def test_bash_completes_files_for_file_options(self):
        self.check_files()
        folder = self.files + "/al"
        self.assertEqual(self.complete("omnicache", "doctor", "-d", folder),
                         {self.files + "/alpha.csv", self.files + "/alpine.jsonl"})

    def test_bash_splits_option_and_value_at_the_equals_sign(self):
        # bash breaks `--format=js` into `--format`, `=` and `js`.
        self.assertEqual(self.complete("omnicache", "warm", "--format", "=", "js"), {"jsonl"})
        self.assertEqual(self.complete("omnicache", "warm", "--format", "="), {"csv", "jsonl"})

    def test_bash_completes_the_options_a_command_shadows_by_its_own(self):
        offered = self.complete("omnicache", "context", "get", "-")
        self.assertIn("--session", offered)
        self.assertIn("--socket", offered)  # -s is the session here, --socket still the global option


@unittest.skipUnless(shutil.which("fish"), "fish is not installed")
class Fish(Shell):
    def complete(self, *words):
        script = self.script_file("fish")
        line = " ".join(words)
        program = f"source {shlex.quote(script)}; complete -C {shlex.quote(line)}"
        out = run(["fish", "--no-config", "-c", program], cwd=self.files, env=self.env)
        return {entry.split("\t")[0] for entry in out.split("\n") if entry}

    def test_fish_completes_commands_options_and_values(self):
        self.check_common_words()

    def test_fish_completes_files_for_file_options(self):
        self.check_files()

    def test_fish_describes_commands(self):
        script = self.script_file("fish")
        out = run(["fish", "--no-config", "-c", f"source {shlex.quote(script)}; complete -C 'omnicache config '"],
                  env=self.env)
        self.assertIn("template\tPrint an annotated config file", out)


# Types the words and TAB into an interactive zsh on a pseudo-terminal; the
# wrapped compadd appends each match it adds to a file, and the last function
# of the completion marks it done.
ZSH_SETUP = r"""
PROMPT=''
fpath=({dir} $fpath)
autoload -U compinit
compinit -u -d {dir}/zcompdump
zstyle ':completion:*' insert-tab false
compadd() {{
  if [[ ${{@[1,(i)(-|--)]}} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -rl -- $__hits >> {out}
  builtin compadd "$@"
}}
__omnicache_test_done() {{ print done > {out}.done }}
comppostfuncs=(__omnicache_test_done)
cd {files}
"""

ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "source ${(q)1}"
zpty -w -n z "$2"$'\t'
repeat 600; do
  [[ -e $3.done ]] && break
  sleep 0.05
done
zpty -d z
[[ -e $3.done ]] || exit 4
"""


@unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
class Zsh(Shell):
    def complete(self, *words):
        self.script_file("zsh")
        out = os.path.join(self.dir, "matches")
        for stale in (out, out + ".done"):
            if os.path.exists(stale):
                os.remove(stale)
        setup = os.path.join(self.dir, "setup.zsh")
        with open(setup, "w", encoding="utf-8") as f:
            f.write(ZSH_SETUP.format(dir=shlex.quote(self.dir), out=shlex.quote(out), files=shlex.quote(self.files)))
        run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", setup, " ".join(words), out], env=self.env)
        if not os.path.exists(out):
            return set()
        with open(out, encoding="utf-8") as f:
            return {word for word in f.read().split("\n") if word}

    def test_zsh_completes_commands_options_and_values(self):
        self.check_common_words()

    def test_zsh_completes_files_for_file_options(self):
        self.check_files()

    def test_zsh_loads_the_script_sourced(self):
        script = self.script_file("zsh", "omnicache.zsh")
        program = f"autoload -U compinit; compinit -u -d {shlex.quote(self.dir)}/zcompdump; " \
                  f"source {shlex.quote(script)}; print -r -- $_comps[omnicache]; whence -w _omnicache_response_get"
        out = run(["zsh", "-f", "-c", program], env=self.env)
        self.assertEqual(out.split(), ["_omnicache", "_omnicache_response_get:", "function"])


if __name__ == "__main__":
    unittest.main()
