#include "cli/commands/command.hpp"
#include "cli/doctor/checks.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/paths.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <unistd.h>

// `omnicache doctor`: runs the checks in cli/doctor/ and moves a damaged
// database aside on request.
namespace omnicache::cli {

namespace {

namespace fs = std::filesystem;
using protocol::Json;
using namespace doctor;

struct Options
{
  std::string database;
  bool move_aside = false;
  bool force = false;
};

struct Move
{
  std::string from;
  std::string to;
};

// "<database>.broken-20261130T031500Z", with -2, -3 ... when a name is taken:
// moving never replaces anything.
std::string
free_base(const std::string& database, const std::vector<std::string>& suffixes)
{
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  for (int n = 1;; ++n) {
    const std::string base = fmt::format("{}.broken-{}{}", database, stamp, n == 1 ? "" : fmt::format("-{}", n));
    const auto taken = [&base](const std::string& suffix) {
      std::error_code ec;
      return fs::exists(fs::symlink_status(base + suffix, ec));
    };
    if (std::ranges::none_of(suffixes, taken)) {
      return base;
    }
  }
}

// The log first: a log left beside a new, empty database would be replayed
// into it. Renamed under the same suffixes, the set stays one database that
// SQLite can open as it was.
std::vector<Move>
move_aside(const std::string& database)
{
  std::vector<std::string> present;
  for (const char* suffix : {"-wal", "-shm", "", ".semantic"}) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(database + suffix, ec))) {
      present.emplace_back(suffix);
    }
  }
  const std::string base = free_base(database, present);
  std::vector<Move> moved;
  for (const auto& suffix : present) {
    Move move{database + suffix, base + suffix};
    if (std::rename(move.from.c_str(), move.to.c_str()) != 0) {
      const std::string done = moved.empty() ? "" : fmt::format(" ({} moved already)", moved.size());
      throw CliError(k_exit_damaged,
                     fmt::format("cannot move {} to {}: {}{}", move.from, move.to, std::strerror(errno), done));
    }
    moved.push_back(std::move(move));
  }
  return moved;
}

Json
report_json(const Report& report)
{
  Json checks = Json::array();
  for (const auto& check : report.checks) {
    Json item{{"name", check.name}, {"status", status_name(check.status)}, {"detail", check.detail}};
    if (!check.more.empty()) {
      item["problems"] = check.more;
    }
    checks.push_back(std::move(item));
  }
  Json json{{"database", report.database},
            {"healthy", report.healthy()},
            {"checks", std::move(checks)},
            {"known_schema_version", k_schema_version},
            {"integrity_ms", report.integrity_ms}};
  json["schema_version"] = report.schema_version ? Json(*report.schema_version) : Json(nullptr);
  json["daemon_pid"] = report.daemon_pid ? Json(*report.daemon_pid) : Json(nullptr);
  return json;
}

void
print_report(const Report& report)
{
  output::print_line(fmt::format("database {}", report.database));
  for (const auto& check : report.checks) {
    output::print_line(fmt::format("{:<5} {:<15} {}", status_name(check.status), check.name, check.detail));
    for (const auto& line : check.more) {
      output::print_line(fmt::format("{:22}{}", "", line));
    }
  }
}

// Moves the database aside when asked to and allowed to; returns what moved
// and a note on what it did not do.
std::vector<Move>
move_if_wanted(const Report& report, const Options& options, std::string& note)
{
  if (!report.exists) {
    note = fmt::format("nothing to move: {} does not exist", report.database);
    return {};
  }
  if (report.healthy() && !options.force) {
    note = "the database is healthy: not moved (--force moves it all the same)";
    return {};
  }
  Report probe;
  probe.database = report.database;
  const int lock = probe_lock(probe, true);
  if (lock < 0) {
    if (probe.daemon_pid) {
      throw CliError(k_exit_usage,
                     fmt::format("omnicached (pid {}) is using {}: stop it first (omnicache daemon stop), then move "
                                 "the database aside; nothing was moved",
                                 *probe.daemon_pid, report.database));
    }
    throw CliError(k_exit_usage, fmt::format("cannot lock {}.lock: {}; nothing was moved", report.database,
                                             std::strerror(errno)));
  }
  try {
    auto moved = move_aside(report.database);
    close(lock);
    note = "nothing was deleted; the next start of the daemon creates an empty database";
    return moved;
  } catch (...) {
    close(lock);
    throw;
  }
}

void
run_doctor(Globals& globals, const Options& options)
{
  const std::string database = options.database.empty()
                                 ? globals.config().settings().database
                                 : protocol::expand_path(options.database, protocol::current_directory(),
                                                         protocol::process_environment());
  const auto started = std::chrono::steady_clock::now();
  const Report report = examine(database);
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  // Printed before a move, which may be refused.
  if (!globals.json && !globals.quiet) {
    print_report(report);
  }
  globals.exit_code = report.healthy() ? k_exit_ok : k_exit_damaged;
  std::string note;
  std::vector<Move> moved;
  if (options.move_aside) {
    moved = move_if_wanted(report, options, note);
    globals.exit_code = k_exit_ok;
  } else if (!report.healthy()) {
    note = fmt::format("`omnicache doctor{} --move-aside` keeps the files aside; the next start then creates an "
                       "empty database",
                       options.database.empty() ? "" : " --database " + database);
  }
  if (globals.json) {
    Json json = report_json(report);
    json["elapsed_ms"] = elapsed;
    json["moved"] = Json::array();
    for (const auto& move : moved) {
      json["moved"].push_back({{"from", move.from}, {"to", move.to}});
    }
    json["note"] = note;
    output::print_json(json);
  } else if (!globals.quiet) {
    for (const auto& move : moved) {
      output::print_line(fmt::format("moved {} -> {}", move.from, move.to));
    }
    if (!note.empty()) {
      output::print_line(note);
    }
  }
}

} // namespace

void
add_doctor(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand("doctor", "Check the database file without the daemon; move a damaged one aside");
  command->add_option("-d,--database", options->database, "Database file (default: the daemon's, daemon.database)")
    ->type_name("PATH");
  command->add_flag("--move-aside", options->move_aside,
                    "Rename a damaged database (and its -wal, -shm, .semantic) to <database>.broken-<UTC time>; "
                    "refused while a daemon uses it");
  command->add_flag("--force", options->force, "With --move-aside: move a healthy database too");
  command->footer(
    "Checks, each printed ok, WARN or FAIL: the file is an SQLite database; PRAGMA integrity_check (reads\n"
    "every page: slow on a large file); the schema version is one this build knows; the write-ahead log;\n"
    "the saved semantic index (a warning only: the daemon rebuilds it); whether a daemon uses the database.\n"
    "It reads the file read-only and works with or without the daemon. Nothing is ever deleted.\n"
    "Exit codes: 0 healthy (or moved aside), 5 a check failed, 2 bad usage or --move-aside refused.");
  command->callback([&globals, options] { run_doctor(globals, *options); });
}

} // namespace omnicache::cli
