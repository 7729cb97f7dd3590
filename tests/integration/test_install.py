"""`cmake --install` and the .deb CPack makes: every file lands in its place
under the prefix, and the installed programs run from there.

The build tree comes from OMNICACHE_TEST_BUILD_DIR (set by
tests/integration/CMakeLists.txt); it must have been built (`all`), since the
man pages are made at build time.
"""

import gzip
import os
import shutil
import subprocess
import unittest

from harness import CLI, EXIT_MISS, SOURCE_DIR, IntegrationTest, pid_alive, wait_for

BUILD_DIR = os.environ.get("OMNICACHE_TEST_BUILD_DIR") or os.path.dirname(os.path.dirname(CLI))
CMAKE = os.environ.get("OMNICACHE_TEST_CMAKE") or shutil.which("cmake") or "cmake"
CPACK = os.environ.get("OMNICACHE_TEST_CPACK") or shutil.which("cpack") or "cpack"

# What a user finds under the prefix, relative to it. The library folder of
# systemd's user units is not the multiarch one: systemd looks in lib/.
INSTALLED = [
    "bin/omnicache",
    "bin/omnicached",
    "lib/systemd/user/omnicached.service",
    "lib/systemd/user/omnicached.socket",
    "share/man/man1/omnicache.1.gz",
    "share/man/man5/omnicache.toml.5.gz",
    "share/man/man8/omnicached.8.gz",
    "share/bash-completion/completions/omnicache",
    "share/zsh/vendor-completions/_omnicache",
    "share/fish/vendor_completions.d/omnicache.fish",
    "share/doc/omnicache/README.md",
    "share/doc/omnicache/PROTOCOL.md",
    "share/doc/omnicache/config.toml",
]


def run(argv, timeout=300, **kwargs):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def unit_setting(path, name):
    """The value of `name=` in a unit file (the last one, as systemd reads it)."""
    value = None
    with open(path) as f:
        for line in f:
            key, sep, rest = line.strip().partition("=")
            if sep and key == name:
                value = rest
    return value


class InstallTest(IntegrationTest):

    def check_tree(self, root, prefix):
        """`root` + `prefix` holds every file of INSTALLED, the programs
        executable and the units pointing at the installed daemon."""
        base = os.path.join(root, prefix.lstrip("/"))
        missing = [p for p in INSTALLED if not os.path.isfile(os.path.join(base, p))]
        self.assertEqual(missing, [], f"not installed under {base}")
        for program in ("bin/omnicache", "bin/omnicached"):
            self.assertTrue(os.access(os.path.join(base, program), os.X_OK), f"{program} is not executable")
        examples = os.path.join(base, "share/doc/omnicache/examples")
        scripts = [name for name in os.listdir(examples) if name.endswith(".sh")]
        self.assertGreaterEqual(len(scripts), 3, f"examples installed: {os.listdir(examples)}")
        for name in scripts:
            self.assertTrue(os.access(os.path.join(examples, name), os.X_OK), f"examples/{name} is not executable")
        # Pages go in compressed (Debian's policy; man reads them as they are) and hold what the build made.
        for page in (p for p in INSTALLED if p.startswith("share/man/")):
            with gzip.open(os.path.join(base, page), "rb") as installed, \
                    open(os.path.join(BUILD_DIR, "man", os.path.basename(page)[:-len(".gz")]), "rb") as built:
                self.assertEqual(installed.read(), built.read(), f"{page} is not the page the build made")
        service = os.path.join(base, "lib/systemd/user/omnicached.service")
        exec_start = unit_setting(service, "ExecStart")
        self.assertIsNotNone(exec_start, "omnicached.service has no ExecStart")
        self.assertEqual(exec_start.split()[0], os.path.join(prefix, "bin", "omnicached"),
                         "the unit must start the daemon installed beside it")

    def test_cmake_install_puts_everything_under_the_prefix_and_the_programs_run(self):
        prefix = os.path.join(self.sandbox.root, "prefix")
        run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix])
        self.check_tree("/", prefix)

        installed_cli = os.path.join(prefix, "bin", "omnicache")
        version = self._run([installed_cli, "--version"])
        self.assertEqual(version.code, 0, version.describe())
        self.assertIn("omnicache", version.text)

        # The installed command starts the daemon installed beside it, which
        # keeps what it is given.
        result = self._run([installed_cli, "set", "greeting", "hello from the prefix"])
        self.assertEqual(result.code, 0, result.describe())
        self.assertEqual(self._run([installed_cli, "get", "greeting"]).stdout, b"hello from the prefix")
        self.assertEqual(self._run([installed_cli, "get", "absent"]).code, EXIT_MISS)
        pid = self.background_pid()
        self.assertIsNotNone(pid, "no background daemon recorded its pid")
        self.assertEqual(os.path.realpath(f"/proc/{pid}/exe"), os.path.realpath(os.path.join(prefix, "bin", "omnicached")))
        stopped = self._run([installed_cli, "daemon", "stop"])
        self.assertEqual(stopped.code, 0, stopped.describe())
        wait_for(lambda: not pid_alive(pid), message="the installed daemon to stop")

    @unittest.skipUnless(shutil.which("dpkg-deb"), "dpkg-deb is not installed")
    def test_cpack_makes_a_deb_that_holds_the_same_tree(self):
        out = os.path.join(self.sandbox.root, "package")
        os.mkdir(out)
        run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", out],
            cwd=BUILD_DIR, timeout=600)
        debs = [name for name in os.listdir(out) if name.endswith(".deb")]
        self.assertEqual(len(debs), 1, f"cpack made {os.listdir(out)}")
        deb = os.path.join(out, debs[0])

        fields = run(["dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends", "Maintainer"])
        self.assertIn("Package: omnicache\n", fields)
        self.assertIn("Architecture: " + run(["dpkg", "--print-architecture"]).strip(), fields)
        # dpkg-shlibdeps wrote the libraries the programs link.
        self.assertRegex(fields, r"Depends: .*libc6")
        self.assertRegex(fields, r"Depends: .*libsqlite3")

        root = os.path.join(self.sandbox.root, "unpacked")
        run(["dpkg-deb", "--extract", deb, root])
        self.check_tree(root, "/usr")
        for program in ("omnicache", "omnicached"):
            result = self._run([os.path.join(root, "usr", "bin", program), "--version"])
            self.assertEqual(result.code, 0, result.describe())
            self.assertIn(program, result.text)


if __name__ == "__main__":
    unittest.main()
