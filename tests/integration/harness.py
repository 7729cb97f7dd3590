"""Shared helpers for the integration tests.

Every test gets a fresh temporary folder holding everything the daemon and the
command touch: HOME, XDG_RUNTIME_DIR (the socket), XDG_CACHE_HOME (the
database), XDG_CONFIG_HOME (config.toml). Inherited OMNICACHE_* variables are
removed, so the tests see only the settings they make themselves.

The binaries come from the environment that tests/integration/CMakeLists.txt
sets (OMNICACHE_TEST_CLI, OMNICACHE_TEST_DAEMON,
OMNICACHE_TEST_PYTHON_CLIENT_DIR); when they are missing the release build of
this checkout is used, so a module can also be run by hand:

    cd tests/integration && python3 -m unittest -v test_cli
"""

import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))

CLI = os.environ.get("OMNICACHE_TEST_CLI") or os.path.join(SOURCE_DIR, "build", "release", "bin", "omnicache")
DAEMON = os.environ.get("OMNICACHE_TEST_DAEMON") or os.path.join(SOURCE_DIR, "build", "release", "bin", "omnicached")
PYTHON_CLIENT_DIR = os.environ.get("OMNICACHE_TEST_PYTHON_CLIENT_DIR") or os.path.join(SOURCE_DIR, "protocol", "python")

if PYTHON_CLIENT_DIR not in sys.path:
    sys.path.insert(0, PYTHON_CLIENT_DIR)

import omnicache_client  # noqa: E402  (after the path is set)

ServerError = omnicache_client.ServerError

def _sanitized():
    flag = os.environ.get("OMNICACHE_TEST_SANITIZE")
    if flag is not None:
        return flag.upper() in ("1", "ON", "TRUE", "YES")
    try:
        with open(DAEMON, "rb") as f:
            binary = f.read()
        return b"__asan_init" in binary or b"__tsan_init" in binary
    except OSError:
        return False


# True when the binaries are a sanitized build (ASan+UBSan or ThreadSanitizer).
SANITIZED = _sanitized()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")


def sanitizer_reports(log):
    """Each sanitizer report in a daemon's log, from its first line to the
    next report (a log may hold several lifetimes of a background daemon)."""
    starts = sorted(i for marker in SANITIZER_MARKERS for i in _find_all(log, marker))
    return [log[start:end] for start, end in zip(starts, starts[1:] + [len(log)])]


def _find_all(text, needle):
    i = text.find(needle)
    while i >= 0:
        yield i
        i = text.find(needle, i + 1)


def sanitizer_problem(log):
    """The first sanitizer report in `log`, or None."""
    for report in sanitizer_reports(log):
        return report[:4000]
    return None


# Bounds for waiting on conditions; generous, because the sanitizer build is
# several times slower and the machine may be busy. Nothing waits this long
# unless something is wrong.
WAIT = 20.0
READY_TIMEOUT = 60.0
COMMAND_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

EXIT_OK, EXIT_MISS, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_DAEMON = 0, 1, 2, 3, 4


def wait_for(condition, timeout=WAIT, interval=0.02, message="condition"):
    """Polls `condition` until it returns something truthy; returns that value.
    Fails the test (AssertionError) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def now_ms():
    """The wall clock in milliseconds, as the daemon counts."""
    return int(time.time() * 1000)


def task_state(path):
    """The one-letter state in a /proc stat file, or None once it is gone."""
    try:
        with open(path, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def pid_alive(pid):
    """True while any thread of process `pid` has not finished exiting.

    The main thread of a killed process can be a zombie while its other threads
    are still on their way out, holding the descriptors (a listening socket
    among them) the threads share; only when every thread is a zombie or gone
    are they closed."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(task_state(f"/proc/{pid}/task/{tid}/stat") not in (None, b"Z", b"X") for tid in tasks)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def daemon_pids_under(path):
    """Pids of live omnicached processes whose command line mentions `path`
    (every daemon a test starts names a socket inside its sandbox)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        args = cmdline(pid)
        if args and os.path.basename(args[0]) == "omnicached" and any(path in a for a in args) and pid_alive(pid):
            out.append(pid)
    return sorted(out)


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Result:
    """What a run of the command did: exit code, stdout bytes, stderr text."""

    def __init__(self, args, code, stdout, stderr):
        self.args = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def text(self):
        return self.stdout.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.stdout)

    def describe(self):
        return (f"\n  command: {' '.join(self.args)}\n  exit code: {self.code}"
                f"\n  stdout: {self.stdout[:2000]!r}\n  stderr: {self.stderr[:2000]}")

    def __repr__(self):
        return self.describe()


class Sandbox:
    """A temporary folder with an isolated environment for one test."""

    def __init__(self):
        # Short: a Unix socket path must stay under 108 bytes.
        self.root = tempfile.mkdtemp(prefix="oc-", dir="/tmp")
        self.home = os.path.join(self.root, "home")
        self.runtime = os.path.join(self.root, "run")
        self.cache = os.path.join(self.root, "cache")
        self.config_home = os.path.join(self.root, "cfg")
        for d in (self.home, self.runtime, self.cache, self.config_home):
            os.mkdir(d, 0o700)
        # The defaults the command derives from the environment above.
        self.socket = os.path.join(self.runtime, "omnicache", "omnicached.sock")
        self.database = os.path.join(self.cache, "omnicache", "cache.db")
        self.config_file = os.path.join(self.config_home, "omnicache", "config.toml")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICACHE_")}
        self.env.update(HOME=self.home, XDG_RUNTIME_DIR=self.runtime, XDG_CACHE_HOME=self.cache,
                        XDG_CONFIG_HOME=self.config_home)
        # Sanitizer reports must fail the run, and say where.
        self.env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    def write_config(self, text, path=None):
        path = path or self.config_file
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def environment(self, extra=None):
        env = dict(self.env)
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Daemon:
    """An omnicached --foreground started by a test."""

    def __init__(self, sandbox, socket_path, database, options=(), args=(), env=None, file_size_limit=None):
        self.sandbox = sandbox
        self.socket = socket_path
        self.database = database
        self.log_path = os.path.join(sandbox.root, f"daemon-{time.monotonic_ns()}.log")
        self.args = [DAEMON, "--foreground", "--socket", socket_path, "--database", database, *args]
        for option in options:
            self.args += ["-o", option]
        self.log = open(self.log_path, "wb")
        extra = {}
        if file_size_limit is not None:
            # Stands in for a full disk: writes past the limit fail with EFBIG
            # instead of killing the daemon with SIGXFSZ.
            def limit_files():
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

            extra = {"preexec_fn": limit_files, "restore_signals": False}
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        env=sandbox.environment(env), **extra)
        self.pid = self.process.pid
        self.exit_code = None

    def log_text(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text[-tail:] if tail else text

    def exit_problem(self, code):
        """Why exit `code` after a stop is not a clean exit, or None."""
        log = self.log_text(tail=None)
        report = sanitizer_problem(log)
        if report:
            return f"omnicached reported a sanitizer error:\n{report}"
        if code != 0:
            return f"omnicached exited with {code}:\n{self.log_text()}"
        return None

    def running(self):
        return self.process.poll() is None

    def hello_ok(self):
        return hello_ok(self.socket)

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"omnicached exited with {self.process.returncode} before serving:\n"
                                     f"{self.log_text()}")
            if os.path.exists(self.socket) and self.hello_ok() and semantic_index_ready(self.socket):
                return self
            time.sleep(0.02)
        raise AssertionError(f"omnicached did not answer on {self.socket} within {timeout:.0f}s:\n{self.log_text()}")

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.log.close()
        return self.exit_code

    def send(self, sig):
        if self.running():
            self.process.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the daemon and waits; kills it (and fails) if it does not exit.
        Returns the exit code."""
        if not self.running():
            return self.wait_exit()
        self.process.send_signal(sig)
        code = self.wait_exit(timeout)
        if code is None:
            self.process.kill()
            self.wait_exit()
            raise AssertionError(f"omnicached did not exit within {timeout:.0f}s of signal {sig}:\n{self.log_text()}")
        return code

    def kill9(self):
        self.process.kill()
        return self.wait_exit()


class IntegrationTest(unittest.TestCase):
    """Base class: a sandbox per test, and helpers to run the programs in it."""

    maxDiff = None

    def setUp(self):
        self.sandbox = Sandbox()
        self.daemons = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        problems = []
        for daemon in self.daemons:
            if daemon.running():
                try:
                    code = daemon.stop()
                except AssertionError as e:
                    problems.append(str(e))
                    continue
                problem = daemon.exit_problem(code)
                if problem:
                    problems.append(f"on SIGTERM at the end of the test: {problem}")
            elif daemon.exit_code is None:
                # It died and the test never looked: a crash.
                code = daemon.wait_exit()
                problems.append(f"omnicached exited with {code} during the test:\n{daemon.log_text()}")
            else:
                report = sanitizer_problem(daemon.log_text(tail=None))
                if report:
                    problems.append(f"omnicached reported a sanitizer error:\n{report}")
        # Background daemons the command started. One that failed to start
        # may still be on its way out; one that serves is a leak: ask it to
        # stop, then make sure.
        if not self.no_daemons_left(timeout=3):
            self.run_cli("daemon", "stop", check_timeout=False, timeout=STOP_TIMEOUT)
            for pid in daemon_pids_under(self.sandbox.root):
                problems.append(f"omnicached pid {pid} outlived the test: {cmdline(pid)}")
                kill_pid(pid)
        # Background daemons log beside their database.
        background_log = os.path.join(os.path.dirname(self.sandbox.database), "omnicached.log")
        if os.path.exists(background_log):
            with open(background_log, "rb") as f:
                report = sanitizer_problem(f.read().decode(errors="replace"))
            if report:
                problems.append(f"a background omnicached reported a sanitizer error:\n{report}")
        if os.environ.get("OMNICACHE_TEST_KEEP"):
            sys.stderr.write(f"\nkept {self.sandbox.root}\n")
        else:
            self.sandbox.remove()
        if problems:
            self.fail("\n".join(problems))

    def no_daemons_left(self, timeout=WAIT):
        """Waits (bounded) until no omnicached of this sandbox runs; returns
        whether that happened."""
        try:
            wait_for(lambda: not daemon_pids_under(self.sandbox.root), timeout=timeout,
                     message="the sandbox's daemons to exit")
            return True
        except AssertionError:
            return False

    # -- the daemon ---------------------------------------------------------------

    def start_daemon(self, *options, args=(), env=None, socket_path=None, database=None, wait=True,
                     file_size_limit=None):
        """Starts omnicached --foreground on the sandbox's default socket and
        database; `options` are KEY=VALUE settings passed as -o."""
        daemon = Daemon(self.sandbox, socket_path or self.sandbox.socket, database or self.sandbox.database,
                        options=options, args=args, env=env, file_size_limit=file_size_limit)
        self.daemons.append(daemon)
        if wait:
            daemon.wait_ready()
        return daemon

    def assert_clean_exit(self, daemon, code):
        """`code` is how `daemon` exited after a stop: 0, with no sanitizer report."""
        problem = daemon.exit_problem(code)
        if problem:
            self.fail(problem)

    def stop_daemon(self, daemon, sig=signal.SIGTERM):
        """Stops `daemon` and asserts it exited cleanly."""
        self.assert_clean_exit(daemon, daemon.stop(sig))

    def run_daemon(self, *args, env=None, timeout=COMMAND_TIMEOUT):
        """Runs omnicached to completion (for --check-config, bad configs...)."""
        return self._run([DAEMON, *args], env=env, timeout=timeout)

    # -- the command --------------------------------------------------------------

    def run_cli(self, *args, input=None, env=None, timeout=COMMAND_TIMEOUT, check_timeout=True):
        """Runs omnicache with the sandbox's environment; returns a Result."""
        return self._run([CLI, *args], input=input, env=env, timeout=timeout, check_timeout=check_timeout)

    def _run(self, argv, input=None, env=None, timeout=COMMAND_TIMEOUT, check_timeout=True):
        try:
            done = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.sandbox.environment(env),
                                  timeout=timeout, cwd=self.sandbox.root)
        except subprocess.TimeoutExpired as e:
            if check_timeout:
                self.fail(f"{' '.join(argv)} did not finish within {timeout:.0f}s; stderr: {e.stderr!r}")
            return Result(argv, None, e.stdout or b"", (e.stderr or b"").decode(errors="replace"))
        return Result(argv, done.returncode, done.stdout, done.stderr.decode(errors="replace"))

    def run_cli_reaping(self, daemon, *args, timeout=COMMAND_TIMEOUT):
        """Runs the command while reaping `daemon`, a child of this process:
        a command that waits for the daemon to be gone must not see a zombie."""
        process = subprocess.Popen([CLI, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.sandbox.environment(), cwd=self.sandbox.root)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            daemon.process.poll()
            time.sleep(0.01)
        if process.poll() is None:
            process.kill()
        out, err = process.communicate()
        return Result([CLI, *args], process.returncode, out, err.decode(errors="replace"))

    def cli(self, *args, code=EXIT_OK, **kwargs):
        """Runs the command and asserts its exit code."""
        result = self.run_cli(*args, **kwargs)
        self.assertEqual(result.code, code, f"unexpected exit code{result.describe()}")
        return result

    def cli_json(self, *args, code=EXIT_OK, **kwargs):
        result = self.cli(*args, "--json", code=code, **kwargs)
        try:
            return result.json()
        except ValueError as e:
            self.fail(f"--json output is not JSON ({e}){result.describe()}")

    def stats(self, *args, **kwargs):
        return self.cli_json("stats", *args, **kwargs)

    # -- the protocol -------------------------------------------------------------

    def client(self, socket_path=None, hello=True, timeout=30.0):
        client = omnicache_client.Client(socket_path or self.sandbox.socket, timeout=timeout)
        self.addCleanup(client.close)
        if hello:
            client.hello()
        return client

    def raw_socket(self, socket_path=None, timeout=10.0):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(socket_path or self.sandbox.socket)
        self.addCleanup(sock.close)
        return sock

    # -- background daemons the command starts ------------------------------------

    def background_pid(self, database=None):
        """The pid recorded in <database>.lock, if that process is alive."""
        try:
            with open((database or self.sandbox.database) + ".lock") as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid and pid_alive(pid) else None


def hello_ok(socket_path):
    """True when a daemon answers a hello on `socket_path`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(socket_path)
        sock.sendall(frame({"op": "hello", "id": 1, "version": omnicache_client.PROTOCOL_VERSION}))
        reply = read_reply(sock)
        return bool(reply and reply[0].get("ok") and reply[0].get("server") == "omnicached")
    except (OSError, ValueError):
        return False
    finally:
        sock.close()


def semantic_index_ready(socket_path):
    """True once the daemon's semantic index is complete: it is checked or
    rebuilt in the background after the daemon starts serving, and tests
    that expect semantic hits from before a restart wait for it."""
    try:
        client = omnicache_client.Client(socket_path, timeout=5)
    except OSError:
        return False
    try:
        reply, _ = client.call("stats", {})
        return bool(reply.get("server", {}).get("semantic_index_ready", True))
    except (OSError, ValueError, omnicache_client.ServerError):
        return False
    finally:
        client.close()


def frame(header, value=b""):
    return omnicache_client.encode_frame(header, value)


def raw_frame(body):
    """A frame around arbitrary body bytes."""
    return struct.pack(">I", len(body)) + body


def _recv_exact(sock, n):
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        count = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if count == 0:
            return None
        got += count
    return bytes(buffer)


def read_reply(sock):
    """Reads one reply frame from a raw socket: (header, value), or None when
    the connection closes first."""
    prefix = _recv_exact(sock, 4)
    if prefix is None:
        return None
    (length,) = struct.unpack(">I", prefix)
    body = _recv_exact(sock, length)
    if body is None:
        return None
    return omnicache_client.decode_body(body)


def closed_by_peer(sock, timeout=WAIT):
    """True when the peer closes the connection (recv returns b'') within `timeout`."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def pipeline(client, requests, window=256):
    """Sends (op, fields, value) requests without waiting, at most `window`
    ahead of the replies; returns the replies (header, value) in order."""
    replies = []
    sent = []
    for op, fields, value in requests:
        sent.append(client.send(op, fields, value))
        if len(sent) - len(replies) >= window:
            replies.append(client.receive())
    while len(replies) < len(sent):
        replies.append(client.receive())
    for request_id, (header, _) in zip(sent, replies):
        if header.get("id") != request_id:
            raise AssertionError(f"reply id {header.get('id')} out of order, expected {request_id}")
    return replies


def memory_bytes(pid, field="VmRSS"):
    """A memory figure of process `pid` from /proc/<pid>/status, in bytes
    (VmRSS: resident now; VmHWM: peak resident; VmPeak: peak address space)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def raise_open_file_limit(wanted):
    """Raises this process's soft limit on open files towards its hard limit
    (children inherit it); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (soft < wanted or wanted == resource.RLIM_INFINITY):
        soft = hard if hard == resource.RLIM_INFINITY or wanted == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def report(line):
    """Prints a scenario's figures on stderr, one line, so runs can be compared."""
    sys.stderr.write(f"\n{line}\n")
    sys.stderr.flush()
