#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// What `omnicache doctor` checks, reading the database file with SQLite
// directly, without the daemon (the store library would make every command
// slower to start).
namespace omnicache::cli::doctor {

// The schema version this build's daemon writes (the migrations in the
// store's schema.cpp); test_doctor fails when the two disagree.
constexpr int k_schema_version = 4;

enum class Status { ok, warn, fail };

struct Check
{
  std::string name;
  Status status = Status::ok;
  std::string detail;
  std::vector<std::string> more; // further lines of detail
};

struct Report
{
  std::string database;
  std::vector<Check> checks;
  std::optional<int> schema_version;
  std::optional<std::int64_t> generation;  // of the vectors, for the saved index
  std::optional<std::string> daemon_pid;   // set while a daemon holds the lock
  bool exists = false;                     // the database file
  std::uint64_t integrity_ms = 0;

  bool healthy() const
  {
    return std::ranges::none_of(checks, [](const Check& c) { return c.status == Status::fail; });
  }
  Check& add(std::string name, Status status, std::string detail)
  {
    return checks.emplace_back(Check{std::move(name), status, std::move(detail), {}});
  }
};

// Runs every check on `database` and reports each one.
Report examine(const std::string& database);

// The daemon holds an exclusive flock on <database>.lock for its life; the
// file records its pid, which lands in report.daemon_pid. Returns the
// descriptor when `hold` and the lock was free, -1 otherwise.
int probe_lock(Report& report, bool hold);

std::string_view status_name(Status status);

} // namespace omnicache::cli::doctor
