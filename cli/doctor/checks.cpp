#include "cli/doctor/checks.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/file.h>
#include <unistd.h>

namespace omnicache::cli::doctor {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::size_t k_problems_shown = 5;

// A read-only connection: it neither checkpoints the write-ahead log nor
// removes it, so a check changes nothing a later recovery would need. With
// no daemon and no log, the file is opened immutable: SQLite then creates
// no -wal or -shm beside it either.
class ReadOnlyDb
{
public:
  ReadOnlyDb(const std::string& path, bool immutable)
  {
    std::string uri = "file:";
    for (const char c : path) {
      const bool special = c == '?' || c == '#' || c == '%';
      uri += special ? fmt::format("%{:02X}", static_cast<unsigned char>(c)) : std::string(1, c);
    }
    uri += immutable ? "?immutable=1" : "";
    const int rc = sqlite3_open_v2(uri.c_str(), &m_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) {
      m_error = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
    }
    sqlite3_busy_timeout(m_db, 5000);
  }
  ~ReadOnlyDb() { sqlite3_close_v2(m_db); }
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

  // Calls `row` for each row of `sql`; returns SQLite's message on failure.
  std::optional<std::string> query(const char* sql, const std::function<void(sqlite3_stmt*)>& row)
  {
    if (!m_error.empty()) {
      return m_error;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(m_db, sql, -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        row(stmt);
      }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      return std::string(sqlite3_errmsg(m_db));
    }
    return std::nullopt;
  }

private:
  sqlite3* m_db = nullptr;
  std::string m_error;
};

std::string
text_of(sqlite3_stmt* stmt, int column)
{
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return text == nullptr ? std::string() : std::string(text);
}

std::uint32_t
read_u32be(const unsigned char* p)
{
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// The first `n` bytes of a file, fewer when it is shorter.
std::string
head_of(const std::string& path, std::size_t n)
{
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

// Returns false when later checks have nothing to read.
bool
check_file(Report& report)
{
  std::error_code ec;
  const auto status = fs::symlink_status(report.database, ec);
  if (ec || !fs::exists(status)) {
    report.add("file", Status::ok, "does not exist yet: the daemon creates it at its first start");
    return false;
  }
  report.exists = true;
  const auto target = fs::status(report.database, ec);
  if (ec || !fs::is_regular_file(target)) {
    report.add("file", Status::fail, "is not a regular file");
    return false;
  }
  const auto size = fs::file_size(report.database, ec);
  if (size == 0) {
    report.add("file", Status::ok, "empty: the daemon creates its tables at the next start");
    return false;
  }
  static constexpr std::string_view k_magic{"SQLite format 3\0", 16};
  if (head_of(report.database, k_magic.size()) != k_magic) {
    report.add("file", Status::fail, "is not an omnicache database: not an SQLite database at all");
    return false;
  }
  report.add("file", Status::ok, fmt::format("an SQLite database of {} bytes", size));
  return true;
}

void
check_integrity(Report& report, ReadOnlyDb& db)
{
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> problems;
  const auto error = db.query("PRAGMA integrity_check", [&](sqlite3_stmt* stmt) {
    // A row may hold several lines, the first naming the schema ("main").
    const std::string text = text_of(stmt, 0);
    for (std::size_t at = 0; at < text.size();) {
      const auto end = std::min(text.find('\n', at), text.size());
      if (end > at && !text.substr(at, end - at).starts_with("*** in database")) {
        problems.push_back(text.substr(at, end - at));
      }
      at = end + 1;
    }
  });
  report.integrity_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::steady_clock::now() - started)
                                                      .count());
  if (error) {
    report.add("integrity", Status::fail, fmt::format("is damaged: SQLite cannot read it ({})", *error));
    return;
  }
  if (problems.size() == 1 && problems[0] == "ok") {
    report.add("integrity", Status::ok, fmt::format("PRAGMA integrity_check: ok in {} ms", report.integrity_ms));
    return;
  }
  auto& check = report.add("integrity", Status::fail,
                           fmt::format("is damaged: PRAGMA integrity_check found {}{} problem{}", problems.size(),
                                       problems.size() >= 100 ? " or more" : "", problems.size() == 1 ? "" : "s"));
  for (std::size_t i = 0; i < problems.size() && i < k_problems_shown; ++i) {
    check.more.push_back(problems[i]);
  }
}

void
check_schema(Report& report, ReadOnlyDb& db)
{
  int version = 0;
  std::vector<std::string> tables;
  auto error = db.query("PRAGMA user_version", [&](sqlite3_stmt* stmt) { version = sqlite3_column_int(stmt, 0); });
  if (!error) {
    error = db.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'",
                     [&](sqlite3_stmt* stmt) { tables.push_back(text_of(stmt, 0)); });
  }
  if (error) {
    report.add("schema", Status::fail, fmt::format("cannot be read ({})", *error));
    return;
  }
  report.schema_version = version;
  if (version > k_schema_version) {
    report.add("schema", Status::fail,
               fmt::format("version {}, newer than this build's {}: a newer omnicache wrote it", version,
                           k_schema_version));
  } else if (version == 0 && tables.empty()) {
    report.add("schema", Status::ok, "none yet: the daemon creates it at the next start");
  } else if (std::ranges::find(tables, "entries") == tables.end()) {
    report.add("schema", Status::fail,
               fmt::format("is not an omnicache database: an SQLite database with {} table{} of another program",
                           tables.size(), tables.size() == 1 ? "" : "s"));
  } else {
    report.add("schema", Status::ok,
               fmt::format("version {}{}", version,
                           version < k_schema_version ? fmt::format(" (upgraded to {} at the next start)",
                                                                    k_schema_version)
                                                      : ""));
    db.query("SELECT value FROM semantic_state WHERE name = 'generation'",
             [&](sqlite3_stmt* stmt) { report.generation = sqlite3_column_int64(stmt, 0); });
  }
}

// SQLite ignores a log whose header is not a log's, and with it the commits
// it held: worth saying, though the database itself still opens.
void
check_wal(Report& report)
{
  const std::string path = report.database + "-wal";
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    report.add("wal", Status::ok, "none");
    return;
  }
  if (size == 0) {
    report.add("wal", Status::ok, "empty");
    return;
  }
  const std::string header = head_of(path, 32);
  const auto* bytes = reinterpret_cast<const unsigned char*>(header.data());
  const std::uint32_t magic = header.size() == 32 ? read_u32be(bytes) : 0;
  const std::uint32_t page = header.size() == 32 ? read_u32be(bytes + 8) : 0;
  if ((magic & 0xfffffffe) != 0x377f0682 || page < 512 || page > 65536 || (page & (page - 1)) != 0) {
    report.add("wal", Status::warn,
               fmt::format("{} bytes with no valid header: SQLite ignores it, and any commits in it are lost", size));
    return;
  }
  report.add("wal", Status::ok,
             fmt::format("{} bytes, room for {} pages of recent commits", size, (size - 32) / (page + 24)));
}

// The daemon rebuilds a saved index it cannot use from the database, so
// nothing here is a failure.
void
check_semantic_index(Report& report)
{
  const fs::path dir = report.database + ".semantic";
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    report.add("semantic_index", Status::ok, "none saved: the daemon builds it from the database");
    return;
  }
  const auto rebuilt = [&](const std::string& why) {
    report.add("semantic_index", report.daemon_pid ? Status::ok : Status::warn,
               fmt::format("{}: the daemon {} from the database", why,
                           report.daemon_pid ? "saves it again when it stops" : "rebuilds it at its next start"));
  };
  const auto size = fs::file_size(dir / "manifest.json", ec);
  if (ec || size > (64u << 20)) {
    return rebuilt("no readable manifest");
  }
  const Json manifest = Json::parse(head_of(dir / "manifest.json", size), nullptr, false);
  if (!manifest.is_object() || manifest.value("format", 0) != 1 || !manifest.contains("graphs")
      || !manifest["graphs"].is_array() || !manifest.contains("generation") || !manifest["generation"].is_number()) {
    return rebuilt("its manifest is not one this build reads");
  }
  for (const auto& graph : manifest["graphs"]) {
    const auto file = graph.is_object() ? graph.value("file", std::string()) : std::string();
    const auto bytes = graph.is_object() ? graph.value("bytes", std::uint64_t{0}) : 0;
    if (file.empty() || file.find('/') != std::string::npos || fs::file_size(dir / file, ec) != bytes || ec) {
      return rebuilt(fmt::format("graph file '{}' is missing or not the size the manifest says", file));
    }
  }
  const auto saved = manifest["generation"].get<std::int64_t>();
  if (report.generation && *report.generation != saved) {
    return rebuilt(fmt::format("saved at generation {}, the database is at {}", saved, *report.generation));
  }
  report.add("semantic_index", Status::ok,
             fmt::format("{} graph{} saved at generation {}", manifest["graphs"].size(),
                         manifest["graphs"].size() == 1 ? "" : "s", saved));
}

void
check_daemon(Report& report)
{
  report.add("daemon", Status::ok,
             report.daemon_pid ? fmt::format("omnicached (pid {}) is using the database", *report.daemon_pid)
                               : "none is using the database");
}

} // namespace

Report
examine(const std::string& database)
{
  Report report;
  report.database = database;
  probe_lock(report, false);
  if (check_file(report)) {
    std::error_code ec;
    ReadOnlyDb db(database, !report.daemon_pid && !fs::exists(database + "-wal", ec));
    check_integrity(report, db);
    check_schema(report, db);
  }
  check_wal(report);
  check_semantic_index(report);
  check_daemon(report);
  return report;
}

int
probe_lock(Report& report, bool hold)
{
  const std::string path = report.database + ".lock";
  const int fd = open(path.c_str(), (hold ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return -1;
  }
  if (flock(fd, (hold ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) {
    if (hold) {
      return fd;
    }
    close(fd);
    return -1;
  }
  if (errno != EWOULDBLOCK) {
    close(fd);
    return -1;
  }
  char pid[32] = {};
  const auto n = pread(fd, pid, sizeof pid - 1, 0);
  std::string holder(pid, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
    holder.pop_back();
  }
  report.daemon_pid = holder.empty() ? "?" : holder;
  close(fd);
  return -1;
}

std::string_view
status_name(Status status)
{
  switch (status) {
  case Status::ok:
    return "ok";
  case Status::warn:
    return "WARN";
  case Status::fail:
    return "FAIL";
  }
  return "?";
}

} // namespace omnicache::cli::doctor
