#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/file.h>
#include <unistd.h>
#include <optional>
#include <thread>

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

int
run_start(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  bool started = false;
  auto client = running(globals);
  if (!client) {
    client.emplace(Client::connect(globals, Client::Start::if_needed));
    started = true;
  }
  client->call("ping");
  const auto pid = client->server().value("pid", 0);
  report(globals, {{"running", true}, {"started", started}, {"pid", pid}, {"socket", socket}},
         started ? fmt::format("started omnicached (pid {}) on {}", pid, socket)
                 : fmt::format("omnicached is already running (pid {}) on {}", pid, socket));
  return k_exit_ok;
}

// Whether `pid` is a process that has not exited yet (a zombie has).
bool
process_running(int pid)
{
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) {
    return true; // no /proc: trust kill()
  }
  // "pid (comm) S ...": the state follows the last ')'.
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

int
run_stop(Globals& globals)
{
  const auto& socket = globals.config().settings().socket;
  auto client = running(globals);
  if (!client) {
    report(globals, {{"running", false}, {"stopped", false}, {"socket", socket}},
           fmt::format("omnicached is not running on {}", socket));
    return k_exit_ok;
  }
  const std::string database = client->call("stats").header["server"].value("database", "");
  client->call("shutdown");
  const auto pid = client->server().value("pid", 0);
  // Stopped means gone: the database is closed, its lock released and the
  // process ended (it may linger as a zombie until its parent reaps it).
  const auto deadline = std::chrono::steady_clock::now() + k_stop_timeout;
  while (!lock_is_free(database + ".lock") || (pid > 0 && process_running(pid))) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw CliError(k_exit_daemon, fmt::format("omnicached (pid {}) is still running after {}s", pid,
                                                std::chrono::duration_cast<std::chrono::seconds>(k_stop_timeout).count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  report(globals, {{"running", false}, {"stopped", true}, {"pid", pid}, {"socket", socket}},
         fmt::format("stopped omnicached (pid {})", pid));
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
  const auto stats = client->call("stats").header;
  const auto& server = stats["server"];
  Json json{{"running", true},
            {"pid", server["pid"]},
            {"version", server["version"]},
            {"uptime_s", server["uptime_s"]},
            {"socket", server["socket"]},
            {"database", server["database"]},
            {"connections", server["connections"]},
            {"entries", stats["totals"]["entries"]}};
  report(globals, json,
         fmt::format("omnicached {} is running (pid {}, up {})\n  socket:   {}\n  database: {}",
                     server.value("version", "?"), server.value("pid", 0),
                     protocol::format_duration_ms(std::max<std::int64_t>(1, server.value("uptime_s", std::int64_t{0}))
                                                  * 1000),
                     server.value("socket", ""), server.value("database", "")));
  return k_exit_ok;
}

} // namespace

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
}

} // namespace omnicache::cli
