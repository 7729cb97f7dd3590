#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/commands/running_daemon.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/file.h>
#include <unistd.h>
#include <optional>
#include <thread>
#include <vector>

namespace omnicache::cli {

namespace {

using protocol::Json;

constexpr auto k_stop_timeout = std::chrono::seconds(30);

// True when nobody holds the daemon's lock on `path` (or the file is gone).
bool
lock_is_free(const std::string& path)
{
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT;
  }
  const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free;
}

std::optional<Client>
running(Globals& globals)
{
  try {
    return Client::connect(globals, Client::Start::never);
  } catch (const CliError&) {
    return std::nullopt;
  }
}

void
report(const Globals& globals, const Json& json, const std::string& text)
{
  if (globals.json) {
    output::print_json(json);
  } else if (!globals.quiet) {
    output::print_line(text);
  }
}

struct DaemonStarted
{
  bool started = false; // false: one was already running
  std::int64_t pid = 0;
};

// The running daemon, or one started with this command's configuration and
// environment.
DaemonStarted
start_or_find(Globals& globals)
{
  DaemonStarted result;
  auto client = running(globals);
  if (!client) {
    client.emplace(Client::connect(globals, Client::Start::if_needed));
    result.started = true;
  }
  client->call<protocol::ops::Ping>({});
  result.pid = client->server().value("pid", std::int64_t{0});
  return result;
}

int
run_start(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  const auto daemon = start_or_find(globals);
  report(globals, {{"running", true}, {"started", daemon.started}, {"pid", daemon.pid}, {"socket", socket}},
         daemon.started ? fmt::format("started omnicached (pid {}) on {}", daemon.pid, socket)
                        : fmt::format("omnicached is already running (pid {}) on {}", daemon.pid, socket));
  return k_exit_ok;
}

// Whether a /proc/.../stat line ("pid (comm) S ...") is of a task that has
// not exited: its state, after the last ')', is not Z or X.
bool
task_running(const std::string& stat_path)
{
  std::ifstream stat(stat_path);
  std::string line;
  if (!std::getline(stat, line)) {
    return false; // gone while we looked
  }
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) {
    return true;
  }
  return line[close + 2] != 'Z' && line[close + 2] != 'X';
}

// Whether `pid` is a process that has not exited yet. Its main thread can be
// a zombie while other threads are still on their way out, holding what the
// process holds: only when every thread has exited has it.
bool
process_running(int pid)
{
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  std::error_code error;
  const std::filesystem::path tasks = fmt::format("/proc/{}/task", pid);
  std::filesystem::directory_iterator it(tasks, error);
  if (error) {
    return std::filesystem::exists("/proc/self", error) ? false : true; // no /proc: trust kill()
  }
  for (const auto& task : it) {
    if (task_running((task.path() / "stat").string())) {
      return true;
    }
  }
  return false;
}

// Asks the running daemon to stop and waits until it is gone. Returns its
// pid, or nullopt when none was running.
std::optional<std::int64_t>
stop_and_wait(Globals& globals)
{
  auto client = running(globals);
  if (!client) {
    return std::nullopt;
  }
  const std::string database = client->call<protocol::ops::Stats>({}).server.value("database", "");
  client->call<protocol::ops::Shutdown>({});
  const auto pid = client->server().value("pid", std::int64_t{0});
  // Stopped means gone: the database is closed, its lock released and the
  // process ended (it may linger as a zombie until its parent reaps it).
  const auto deadline = std::chrono::steady_clock::now() + k_stop_timeout;
  while (!lock_is_free(database + ".lock") || (pid > 0 && process_running(static_cast<int>(pid)))) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw CliError(k_exit_daemon, fmt::format("omnicached (pid {}) is still running after {}s", pid,
                                                std::chrono::duration_cast<std::chrono::seconds>(k_stop_timeout).count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pid;
}

int
run_stop(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  const auto pid = stop_and_wait(globals);
  if (!pid) {
    report(globals, {{"running", false}, {"stopped", false}, {"socket", socket}},
           fmt::format("omnicached is not running on {}", socket));
    return k_exit_ok;
  }
  report(globals, {{"running", false}, {"stopped", true}, {"pid", *pid}, {"socket", socket}},
         fmt::format("stopped omnicached (pid {})", *pid));
  return k_exit_ok;
}

// The new daemon reads this command's config file and environment, which
// may differ from those the old one was started with.
int
run_restart(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  const auto stopped = stop_and_wait(globals);
  const auto daemon = start_or_find(globals);
  const auto& config = globals.config();
  const std::string file = config.file() + (config.file_exists() ? "" : " (absent)");
  report(globals,
         {{"stopped", stopped.has_value()},
          {"old_pid", stopped ? Json(*stopped) : Json(nullptr)},
          {"pid", daemon.pid},
          {"socket", socket},
          {"file", config.file()}},
         fmt::format("{}started omnicached (pid {}) on {}, with {} and this environment",
                     stopped ? fmt::format("stopped omnicached (pid {})\n", *stopped)
                             : fmt::format("omnicached was not running on {}\n", socket),
                     daemon.pid, socket, file));
  return k_exit_ok;
}

int
run_status(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  auto client = running(globals);
  if (!client) {
    report(globals, {{"running", false}, {"socket", socket}}, fmt::format("omnicached is not running on {}", socket));
    return k_exit_miss;
  }
  // Not const: a figure an older daemon lacks is shown as null.
  auto stats = client->call<protocol::ops::Stats>({});
  auto& server = stats.server;
  Json json{{"running", true},
            {"pid", server["pid"]},
            {"version", server["version"]},
            {"uptime_s", server["uptime_s"]},
            {"socket", server["socket"]},
            {"database", server["database"]},
            {"connections", server["connections"]},
            {"entries", stats.totals["entries"]}};
  report(globals, json,
         fmt::format("omnicached {} is running (pid {}, up {})\n  socket:   {}\n  database: {}",
                     server.value("version", "?"), server.value("pid", 0),
                     protocol::format_duration_ms(std::max<std::int64_t>(1, server.value("uptime_s", std::int64_t{0}))
                                                  * 1000),
                     server.value("socket", ""), server.value("database", "")));
  return k_exit_ok;
}

std::string
reload_value_text(const Json& value)
{
  const auto text = value.get<std::string>();
  return text.empty() ? "(none)" : text;
}

int
run_reload(Globals& globals)
{
  auto daemon = find_running_daemon(globals);
  auto& client = daemon.client;
  if (!client) {
    report(globals, {{"running", false}, {"reloaded", false}, {"socket", daemon.socket}},
           fmt::format("omnicached is not running on {}; it reads its configuration when it starts",
                       daemon.socket));
    return k_exit_miss;
  }
  const auto reply = client->call<protocol::ops::Reload>({});
  const auto pid = client->server().value("pid", std::int64_t{0});
  // --json: the reply as the daemon sent it, less the envelope, with the pid.
  const auto json = [&reply, pid] {
    auto out = protocol::ops::to_reply_header(reply);
    out["pid"] = pid;
    return out;
  };
  const auto& file = reply.file;
  if (!reply.reloaded) {
    if (globals.json) {
      output::print_json(json());
    }
    throw CliError(k_exit_usage,
                   fmt::format("omnicached (pid {}) kept its configuration: {}", pid, reply.reason.value_or("")));
  }
  if (globals.json) {
    output::print_json(json());
    return k_exit_ok;
  }
  if (globals.quiet) {
    return k_exit_ok;
  }
  const auto& changes = reply.changes;
  output::print_line(fmt::format("reloaded omnicached (pid {}) from {}{}", pid, file,
                                 changes.empty() ? ": nothing changed" : ""));
  std::vector<std::string> restart;
  for (const auto& change : changes) {
    const auto key = change.value("key", "");
    const bool live = change.value("live", true);
    if (!live) {
      restart.push_back(key);
    }
    const auto before = reload_value_text(change["before"]);
    const auto after = reload_value_text(change["after"]);
    output::print_line(fmt::format("  {}: {}{}", key, before == after ? "changed" : before + " -> " + after,
                                   live ? "" : " (needs a restart)"));
  }
  if (!restart.empty()) {
    output::print_line(fmt::format("{} {} in force until `omnicache daemon restart`", fmt::join(restart, ", "),
                                   restart.size() == 1 ? "keeps its old value" : "keep their old values"));
  }
  if (daemon.config_error.empty() && globals.config().file() != file) {
    output::print_line(
      fmt::format("note: omnicached reads {}; this command reads {}", file, globals.config().file()));
  }
  return k_exit_ok;
}

} // namespace

RunningDaemon
find_running_daemon(Globals& globals)
{
  RunningDaemon daemon;
  try {
    daemon.socket = globals.config().settings().socket;
    if (auto client = running(globals)) {
      daemon.client.emplace(std::move(*client));
    }
    return daemon;
  } catch (const CliError& e) {
    daemon.config_error = e.what();
  }
  Globals without_file = globals;
  without_file.config_file = "/dev/null";
  try {
    daemon.socket = without_file.config().settings().socket;
    if (auto client = running(without_file)) {
      daemon.client.emplace(std::move(*client));
      return daemon;
    }
  } catch (const CliError&) {
    // Nothing else names the socket: the command's own error says it all.
  }
  throw CliError(k_exit_usage, daemon.config_error);
}

void
add_daemon(CLI::App& app, Globals& globals)
{
  auto* command = app.add_subcommand("daemon", "Start, stop or check the daemon (it starts by itself when needed)");
  command->require_subcommand(1);
  command->add_subcommand("start", "Start the daemon unless one is running")->callback([&globals] {
    globals.exit_code = run_start(globals);
  });
  command->add_subcommand("stop", "Stop the daemon after the requests in flight; wait until it has exited")
    ->callback([&globals] { globals.exit_code = run_stop(globals); });
  command->add_subcommand("status", "Say whether the daemon runs (exit 0) or not (exit 1)")->callback([&globals] {
    globals.exit_code = run_status(globals);
  });
  auto* reload = command->add_subcommand(
    "reload", "Make the running daemon read its configuration again; print what changed and what needs a restart");
  reload->footer("The daemon reads the config file it was started with (--config, else $OMNICACHE_CONFIG, else\n"
                 "$XDG_CONFIG_HOME/omnicache/config.toml) and the environment it was started with: an edit of\n"
                 "that file applies, a variable exported since does not (use restart). Settings that need a\n"
                 "restart keep their old values until then. SIGHUP does the same reload.\n"
                 "An invalid file is refused (exit 2, the reason on stderr) and the old configuration stays.\n"
                 "Exit 1 when no daemon runs.\n"
                 "Example: omnicache config show --daemon && omnicache daemon reload");
  reload->callback([&globals] { globals.exit_code = run_reload(globals); });
  command
    ->add_subcommand("restart", "Stop the daemon (waiting until it has exited), then start one with this "
                                "command's config file and environment")
    ->footer("Example: OMNICACHE_TTL_RESPONSE=1h omnicache daemon restart\n"
             "Under systemd, use systemctl --user restart omnicached instead.")
    ->callback([&globals] { globals.exit_code = run_restart(globals); });
}

} // namespace omnicache::cli
