"""The manual pages, as built: omnicache(1) documents every command and
option the built command has, omnicached(8) every flag of the daemon,
omnicache.toml(5) every key of the setting table with its default and its
environment variable; and each page renders without a warning.

The commands and options come from walking `omnicache --help` and each
command's --help, the keys from `omnicache config template`: a command, an
option or a key added without its manual entry fails here, by name."""

import os
import re
import shutil
import subprocess
import unittest

import harness

BUILD_DIR = os.environ.get("OMNICACHE_TEST_BUILD_DIR") or os.path.join(harness.SOURCE_DIR, "build", "release")
MAN_DIR = os.path.join(BUILD_DIR, "man")
PAGES = {"omnicache(1)": "omnicache.1", "omnicached(8)": "omnicached.8", "omnicache.toml(5)": "omnicache.toml.5"}

# Options every command has; omnicache(1) documents them once, under OPTIONS.
EVERY_COMMAND = {"--help"}


def run_help(binary, *args):
    sandbox = harness.Sandbox()
    try:
        result = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, env=sandbox.environment(),
                                timeout=harness.COMMAND_TIMEOUT)
    finally:
        sandbox.remove()
    if result.returncode != 0:
        raise AssertionError(f"{binary} {' '.join(args)} --help exited {result.returncode}: {result.stderr}")
    return result.stdout


def help_block(text, title):
    """The lines of one block of CLI11's help ("Options:", "Subcommands:"), up to the next blank line."""
    lines = text.splitlines()
    if f"{title}:" not in lines:
        return []
    block = []
    for line in lines[lines.index(f"{title}:") + 1:]:
        if not line.strip():
            break
        block.append(line)
    return block


def long_options(help_text):
    options = []
    for line in help_block(help_text, "Options"):
        match = re.match(r"^\s{2}(?:-\w,)?(--[A-Za-z0-9][\w-]*)", line)
        if match:
            options.append(match.group(1))
    return options


def subcommands(help_text):
    names = []
    for line in help_block(help_text, "Subcommands"):
        match = re.match(r"^\s{2}([a-z][\w-]*)(\s|$)", line)
        if match:
            names.append(match.group(1))
    return names


def command_tree(binary):
    """{("response", "set"): [long options], ...}, from the root (()) down to every leaf."""
    tree = {}
    pending = [()]
    while pending:
        path = pending.pop()
        text = run_help(binary, *path)
        tree[path] = long_options(text)
        pending.extend(path + (name,) for name in subcommands(text))
    return tree


def plain(roff):
    """The text of roff source, without font changes and escapes, for searching."""
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", roff)
    text = text.replace("\\&", "").replace("\\-", "-").replace("\\(aq", "'").replace("\\*(Aq", "'")
    text = text.replace("\\e", "\\").replace("\\\\", "\\")
    return text


def sections(roff):
    """[(heading, plain text)] for each .SH and .SS of a page, in order."""
    out = []
    heading, body = "", []
    for line in roff.splitlines():
        match = re.match(r'^\.S[HS]\s+"?(.*?)"?\s*$', line)
        if match:
            out.append((heading, plain("\n".join(body))))
            heading, body = plain(match.group(1)), []
        elif not line.startswith(".") or line.startswith(".\\\""):
            body.append(line)
    out.append((heading, plain("\n".join(body))))
    return out


def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def read_page(test, title):
    path = os.path.join(MAN_DIR, PAGES[title])
    test.assertTrue(os.path.isfile(path), f"{title}: {path} was not built (the target omnicache_man builds it)")
    with open(path, encoding="utf-8") as f:
        return f.read()


class ManPagesTest(unittest.TestCase):

    def test_omnicache_1_documents_every_command_and_option(self):
        roff = read_page(self, "omnicache(1)")
        parts = sections(roff)
        by_command = {}
        for heading, body in parts:
            words = heading.split()
            if words[:1] == ["omnicache"]:
                path = tuple(w for w in words[1:] if re.fullmatch(r"[a-z][a-z-]*", w))
                by_command.setdefault(path, "")
                by_command[path] += body
        global_options = "".join(body for heading, body in parts if heading == "OPTIONS")
        self.assertTrue(global_options, "omnicache(1): no OPTIONS section")

        tree = command_tree(harness.CLI)
        self.assertGreater(len(tree), 30, f"walking omnicache --help found only {sorted(tree)}")
        missing = []
        for path, options in sorted(tree.items()):
            name = " ".join(("omnicache",) + path)
            if path and not any(documented[:len(path)] == path for documented in by_command):
                missing.append(f"command '{name}' (no section headed '{name} ...')")
                continue
            # An option is documented in the command's own section, in a parent command's (options every
            # response command takes), or under OPTIONS for the program's own.
            texts = [by_command.get(path[:depth], "") for depth in range(1, len(path) + 1)] if path else []
            texts.append(global_options if not path else "")
            for option in options:
                if path and option in EVERY_COMMAND:
                    continue
                if not any(mentions(text, option) for text in texts):
                    missing.append(f"option {option} of '{name}'")
        if missing:
            self.fail("omnicache(1) does not document: " + "; ".join(missing))

    def test_omnicache_1_documents_the_exit_codes(self):
        parts = dict(sections(read_page(self, "omnicache(1)")))
        self.assertIn("EXIT STATUS", parts, "omnicache(1): no EXIT STATUS section")
        with open(os.path.join(harness.SOURCE_DIR, "cli", "exit_codes.hpp"), encoding="utf-8") as f:
            codes = re.findall(r"k_exit_\w+\s*=\s*(\d+)", f.read())
        self.assertGreaterEqual(len(codes), 5, "no exit codes found in cli/exit_codes.hpp")
        for code in codes:
            self.assertRegex(parts["EXIT STATUS"], rf"(?m)^{code}$", f"omnicache(1): exit code {code} missing")

    def test_omnicached_8_documents_every_flag(self):
        text = plain(read_page(self, "omnicached(8)"))
        flags = long_options(run_help(harness.DAEMON))
        self.assertIn("--foreground", flags, "omnicached --help lists no --foreground: the parse is wrong")
        missing = [flag for flag in flags if not mentions(text, flag)]
        if missing:
            self.fail("omnicached(8) does not document: " + ", ".join(missing))
        for word in ("SIGTERM", "SIGINT", "SIGHUP", "LISTEN_FDS", "NOTIFY_SOCKET", "omnicached.socket",
                     "omnicached.service", "PROTOCOL.md"):
            self.assertTrue(mentions(text, word), f"omnicached(8) does not mention {word}")

    def test_omnicache_toml_5_documents_every_key(self):
        sandbox = harness.Sandbox()
        try:
            template = subprocess.run([harness.CLI, "config", "template"], capture_output=True, text=True,
                                      env=sandbox.environment(), timeout=harness.COMMAND_TIMEOUT, check=True).stdout
        finally:
            sandbox.remove()
        keys = []  # (section, name, env, default)
        section, env = None, None
        for line in template.splitlines():
            if match := re.fullmatch(r"\[([\w.]+)\]", line):
                section = match.group(1)
            elif match := re.fullmatch(r"# env: (\w+);.*", line):
                env = match.group(1)
            elif match := re.fullmatch(r"#(\w+) = (.*)", line):
                self.assertIsNotNone(env, f"config template: no '# env:' line before {section}.{match.group(1)}")
                keys.append((section, match.group(1), env, match.group(2).strip('"')))
                env = None
        self.assertGreater(len(keys), 40, f"config template parsed to only {len(keys)} keys")

        by_section = {heading: body for heading, body in sections(read_page(self, "omnicache.toml(5)"))}
        missing = []
        for section, name, env, default in keys:
            body = by_section.get(f"[{section}]")
            if body is None:
                missing.append(f"section [{section}]")
                continue
            # The key's entry: from its name at the start of a line to the next entry's.
            match = re.search(rf"(?ms)^{re.escape(name)} \(.*?(?=^[a-z]\w* \(|\Z)", body)
            if match is None:
                missing.append(f"key {section}.{name}")
                continue
            entry = match.group(0)
            if not mentions(entry, env):
                missing.append(f"environment variable {env} of {section}.{name}")
            if default and f"Default: {default}." not in entry and f'Default: "{default}".' not in entry:
                missing.append(f"default {default} of {section}.{name}")
        if missing:
            self.fail("omnicache.toml(5) does not document: " + "; ".join(missing))

    def test_pages_render_without_warnings(self):
        groff = shutil.which("groff")
        mandoc = shutil.which("mandoc")
        if groff is None and mandoc is None:
            self.skipTest("neither groff nor mandoc is installed (Debian: groff-base or mandoc)")
        for title in PAGES:
            path = os.path.join(MAN_DIR, PAGES[title])
            read_page(self, title)
            if groff is not None:
                # -P-cbou: plain text, without the overstrikes that make bold and underlined letters.
                result = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-P-cbou", path], capture_output=True,
                                        timeout=harness.COMMAND_TIMEOUT)
                self.assertEqual(result.returncode, 0, f"{title}: groff exited {result.returncode}")
                if result.stderr:
                    self.fail(f"{title}: groff warns: {result.stderr.decode(errors='replace')}")
                rendered = result.stdout.decode(errors="replace")
                self.assertTrue(rendered.startswith(title) and "\nNAME\n" in rendered,
                                f"{title}: groff rendered no page headed {title} with a NAME section: "
                                f"{rendered[:300]!r}")
            if mandoc is not None:
                result = subprocess.run([mandoc, "-T", "lint", "-W", "error", path], capture_output=True, text=True,
                                        timeout=harness.COMMAND_TIMEOUT)
                if result.stdout or result.stderr:
                    self.fail(f"{title}: mandoc finds errors: {result.stdout}{result.stderr}")


if __name__ == "__main__":
    unittest.main()
