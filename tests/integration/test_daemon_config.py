"""The running daemon's configuration: `config show --daemon` marks what differs
from the file and environment of the command, `daemon reload` applies an edit
and says what changed and what needs a restart, and `daemon restart` starts a
daemon with the command's configuration."""

import unittest

import harness
from harness import EXIT_MISS, EXIT_OK, EXIT_USAGE, IntegrationTest

HOUR_MS = 3600 * 1000
TEN_MINUTES_MS = 600 * 1000


class DaemonConfig(IntegrationTest):

    def write_config(self, response_ttl, extra=""):
        # Room for the sanitizer build to start a daemon, in the file so that
        # the daemon and every command read the same value.
        self.sandbox.write_config(f'[client]\nstart_timeout = "30s"\n\n[ttl]\nresponse = "{response_ttl}"\n{extra}')

    def start(self):
        self.cli("daemon", "start")
        pid = self.background_pid()
        self.assertIsNotNone(pid, "a background daemon runs")
        return pid

    def response_ttl_ms(self, prompt):
        """The TTL a new `response set` entry gets."""
        self.cli("response", "set", "--model", "m", "--prompt", prompt, "answer")
        key = self.cli("response", "key", "--model", "m", "--prompt", prompt).text.strip()
        entry = self.cli_json("inspect", key)["entry"]
        return entry["expires_ms"] - entry["created_ms"]

    def starred(self, text):
        return [line for line in text.splitlines() if line.startswith("* (")]

    def test_an_edit_is_marked_then_reloaded_and_new_entries_get_the_new_ttl(self):
        self.write_config("10m")
        self.start()
        self.assertEqual(self.response_ttl_ms("before"), TEN_MINUTES_MS)
        self.assertEqual(self.starred(self.cli("config", "show", "--daemon").text), [],
                         "nothing differs before the edit")

        self.write_config("1h")
        shown = self.cli("config", "show", "--daemon").text
        self.assertEqual(self.starred(shown), ["* (file) ttl.response = 10m"], shown)
        self.assertIn(f"* differs from {self.sandbox.config_file}: run `omnicache daemon reload`", shown)
        self.assertIn("  (file) client.start_timeout = 30s", shown.splitlines())
        self.assertEqual(self.cli_json("config", "show", "--daemon")["differs"], ["ttl.response"])
        self.assertEqual(self.response_ttl_ms("not yet reloaded"), TEN_MINUTES_MS)

        reload = self.cli("daemon", "reload").text
        self.assertIn("ttl.response: 10m -> 1h", reload)
        self.assertNotIn("restart", reload)
        self.assertEqual(self.response_ttl_ms("after"), HOUR_MS)
        after = self.cli_json("config", "show", "--daemon")
        self.assertEqual(after["differs"], [])
        self.assertEqual(after["settings"]["ttl.response"]["value"], "1h")
        self.assertEqual(after["settings"]["ttl.response"]["origin"], "file")

    def test_reload_json_gives_each_change_and_an_unchanged_file_changes_nothing(self):
        self.write_config("10m")
        pid = self.start()
        self.write_config("1h")
        reply = self.cli_json("daemon", "reload")
        self.assertEqual(reply["pid"], pid)
        self.assertTrue(reply["reloaded"])
        self.assertEqual(reply["file"], self.sandbox.config_file)
        self.assertEqual(reply["changes"], [{"key": "ttl.response", "before": "10m", "after": "1h", "live": True}])
        self.assertEqual(self.cli_json("daemon", "reload")["changes"], [])
        self.assertIn("nothing changed", self.cli("daemon", "reload").text)

    def test_an_invalid_edit_is_refused_naming_the_key_and_the_old_configuration_stays(self):
        self.write_config("10m")
        pid = self.start()
        self.write_config("banana")
        self.addCleanup(self.write_config, "10m")  # so that the test's end can stop the daemon
        refused = self.cli("daemon", "reload", code=EXIT_USAGE)
        self.assertIn(f"omnicached (pid {pid}) kept its configuration", refused.stderr)
        self.assertIn(f"{self.sandbox.config_file}:5", refused.stderr)
        self.assertIn("ttl.response", refused.stderr)
        self.assertIn("banana", refused.stderr)
        settings = self.client().call("config", {})[0]["settings"]
        self.assertEqual(settings["ttl.response"]["value"], "10m")
        # The command cannot read the file either, but still shows what the daemon runs.
        shown = self.cli("config", "show", "--daemon").text
        self.assertIn("  (file) ttl.response = 10m", shown.splitlines())
        self.assertEqual(self.starred(shown), [])
        self.assertIn("# nothing marked: this command cannot read its configuration:", shown)
        self.assertEqual(self.background_pid(), pid, "the daemon still runs")

        self.write_config("1h")
        self.assertIn("ttl.response: 10m -> 1h", self.cli("daemon", "reload").text)
        self.assertEqual(self.response_ttl_ms("fixed"), HOUR_MS)

    def test_a_setting_that_needs_a_restart_is_reported_and_keeps_its_running_value(self):
        self.write_config("10m")
        self.start()
        self.write_config("10m", "\n[daemon]\nio_threads = 2\n")
        reload = self.cli("daemon", "reload").text
        self.assertIn("daemon.io_threads: 1 -> 2 (needs a restart)", reload)
        self.assertIn("omnicache daemon restart", reload)
        change = self.cli_json("daemon", "reload")["changes"]
        self.assertEqual(change, [{"key": "daemon.io_threads", "before": "1", "after": "2", "live": False}],
                         "still pending: every reload until the restart says so")

        shown = self.cli("config", "show", "--daemon").text
        self.assertEqual(self.starred(shown), ["* (default) daemon.io_threads = 1"], shown)
        self.assertIn("run `omnicache daemon restart` (daemon.io_threads needs a restart)", shown)
        entry = self.cli_json("config", "show", "--daemon")["settings"]["daemon.io_threads"]
        self.assertEqual((entry["value"], entry["here"], entry["needs_restart"]), ("1", "2", True))

    def test_restart_gives_a_new_daemon_that_uses_the_new_values(self):
        self.write_config("10m")
        old = self.start()
        self.write_config("1h", "\n[daemon]\nio_threads = 2\n")
        restart = self.cli("daemon", "restart").text
        new = self.background_pid()
        self.assertIsNotNone(new)
        self.assertNotEqual(new, old)
        self.assertIn(f"stopped omnicached (pid {old})", restart)
        self.assertIn(f"started omnicached (pid {new})", restart)
        self.assertFalse(harness.pid_alive(old), "the old daemon is gone")
        self.assertEqual(harness.daemon_pids_under(self.sandbox.root), [new])

        shown = self.cli_json("config", "show", "--daemon")
        self.assertEqual(shown["pid"], new)
        self.assertEqual(shown["differs"], [])
        self.assertEqual(shown["settings"]["daemon.io_threads"]["value"], "2")
        self.assertEqual(self.response_ttl_ms("restarted"), HOUR_MS)

    def test_restart_takes_this_commands_environment_and_a_reload_cannot(self):
        self.write_config("10m")
        self.start()
        env = {"OMNICACHE_TTL_RESPONSE": "2h"}
        shown = self.cli("config", "show", "--daemon", env=env).text
        self.assertEqual(self.starred(shown), ["* (file) ttl.response = 10m"], shown)
        self.assertIn("run `omnicache daemon restart`", shown)
        self.assertIn("nothing changed", self.cli("daemon", "reload", env=env).text,
                      "the daemon reads its own environment")

        self.cli("daemon", "restart", env=env)
        shown = self.cli_json("config", "show", "--daemon", env=env)
        self.assertEqual(shown["differs"], [])
        self.assertEqual(shown["environment"], ["OMNICACHE_TTL_RESPONSE"])
        entry = shown["settings"]["ttl.response"]
        self.assertEqual((entry["value"], entry["origin"], entry["where"]), ("2h", "env", "OMNICACHE_TTL_RESPONSE"))
        self.assertEqual(self.response_ttl_ms("from the environment"), 2 * HOUR_MS)

    def test_without_a_daemon_reload_and_show_say_so_and_restart_starts_one(self):
        self.write_config("10m")
        reload = self.cli("daemon", "reload", code=EXIT_MISS)
        self.assertIn("not running", reload.text)
        shown = self.cli("config", "show", "--daemon", code=EXIT_MISS)
        self.assertIn("not running", shown.stderr)
        self.assertIsNone(self.background_pid(), "neither started a daemon")

        restart = self.cli("daemon", "restart", code=EXIT_OK).text
        self.assertIn("was not running", restart)
        self.assertIsNotNone(self.background_pid())


if __name__ == "__main__":
    unittest.main()
