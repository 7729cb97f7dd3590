#include "store/sqlite.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

namespace omnicache::store::sqlite {

using protocol::Error;
using protocol::ErrorCode;

namespace {

// SQLITE_NOTADB and SQLITE_CORRUPT blame the file, not the statement.
void
throw_if_unusable(int rc, const std::string& path, std::string_view message)
{
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
    throw UnusableDatabase(UnusableDatabase::Reason::not_a_database, path,
                           fmt::format("{} is not an omnicache database (SQLite: {})", path, message));
  case SQLITE_CORRUPT:
    throw UnusableDatabase(UnusableDatabase::Reason::damaged, path,
                           fmt::format("the database {} is damaged (SQLite: {})", path, message));
  default:
    return;
  }
}

} // namespace

Connection::Connection(const std::string& path, Mode mode)
  : m_path(path)
{
  // A read-only connection is opened read-write with query_only set: a WAL
  // reader needs to write the shared-memory index.
  const int flags = SQLITE_OPEN_READWRITE | (mode == Mode::read_only ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &m_db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
    sqlite3_close_v2(m_db);
    m_db = nullptr;
    throw_if_unusable(rc, path, message);
    throw Error(ErrorCode::internal, fmt::format("cannot open database {}: {}", path, message));
  }
  sqlite3_extended_result_codes(m_db, 1);
  sqlite3_busy_timeout(m_db, 10000);
  if (mode == Mode::read_only) {
    exec("PRAGMA query_only = ON");
  }
}

Connection::~Connection()
{
  sqlite3_close_v2(m_db);
}

void
Connection::fail(int rc, std::string_view what) const
{
  const std::string message = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
  throw_if_unusable(rc, m_path, message);
  const ErrorCode code = (rc & 0xff) == SQLITE_FULL ? ErrorCode::disk_full : ErrorCode::internal;
  throw Error(code, fmt::format("{}: {}", what, message));
}

void
Connection::exec(const char* sql)
{
  char* message = nullptr;
  const int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw_if_unusable(rc, m_path, text);
    const ErrorCode code = (rc & 0xff) == SQLITE_FULL ? ErrorCode::disk_full : ErrorCode::internal;
    throw Error(code, fmt::format("database: {}", text));
  }
}

void
Connection::write_blob(const char* table, const char* column, std::int64_t rowid, std::string_view bytes)
{
  sqlite3_blob* blob = nullptr;
  int rc = sqlite3_blob_open(m_db, "main", table, column, rowid, 1, &blob);
  if (rc != SQLITE_OK) {
    fail(rc, "opening a value for writing");
  }
  constexpr std::size_t k_piece = 1 << 20;
  for (std::size_t at = 0; at < bytes.size() && rc == SQLITE_OK; at += k_piece) {
    const auto n = std::min(k_piece, bytes.size() - at);
    rc = sqlite3_blob_write(blob, bytes.data() + at, static_cast<int>(n), static_cast<int>(at));
  }
  sqlite3_blob_close(blob);
  if (rc != SQLITE_OK) {
    fail(rc, "writing a value");
  }
}

void
Connection::read_blob(const char* table, const char* column, std::int64_t rowid, std::string& out)
{
  sqlite3_blob* blob = nullptr;
  int rc = sqlite3_blob_open(m_db, "main", table, column, rowid, 0, &blob);
  if (rc != SQLITE_OK) {
    fail(rc, "opening a value for reading");
  }
  out.resize(static_cast<std::size_t>(sqlite3_blob_bytes(blob)));
  rc = sqlite3_blob_read(blob, out.data(), static_cast<int>(out.size()), 0);
  sqlite3_blob_close(blob);
  if (rc != SQLITE_OK) {
    fail(rc, "reading a value");
  }
}

Statement
Connection::prepare(std::string_view sql)
{
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) {
    fail(rc, fmt::format("preparing '{}'", sql));
  }
  return Statement(*this, stmt);
}

std::int64_t
Connection::changes() const
{
  return sqlite3_changes64(m_db);
}

Statement::Statement(Connection& connection, sqlite3_stmt* stmt)
  : m_connection(&connection),
    m_stmt(stmt)
{
}

Statement::~Statement()
{
  sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement&& other) noexcept
  : m_connection(std::exchange(other.m_connection, nullptr)),
    m_stmt(std::exchange(other.m_stmt, nullptr))
{
}

Statement&
Statement::operator=(Statement&& other) noexcept
{
  if (this != &other) {
    sqlite3_finalize(m_stmt);
    m_connection = std::exchange(other.m_connection, nullptr);
    m_stmt = std::exchange(other.m_stmt, nullptr);
  }
  return *this;
}

Statement&
Statement::bind(int index, std::int64_t value)
{
  sqlite3_bind_int64(m_stmt, index, value);
  return *this;
}

Statement&
Statement::bind(int index, std::string_view text)
{
  sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  return *this;
}

Statement&
Statement::bind_blob(int index, std::string_view bytes)
{
  // A zero-length blob must still be a blob, not NULL.
  static const char k_empty = 0;
  sqlite3_bind_blob64(m_stmt, index, bytes.empty() ? &k_empty : bytes.data(), bytes.size(), SQLITE_STATIC);
  return *this;
}

Statement&
Statement::bind_zeroblob(int index, std::uint64_t size)
{
  sqlite3_bind_zeroblob64(m_stmt, index, size);
  return *this;
}

Statement&
Statement::bind_null(int index)
{
  sqlite3_bind_null(m_stmt, index);
  return *this;
}

bool
Statement::step()
{
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  sqlite3_reset(m_stmt);
  m_connection->fail(rc, "database");
}

void
Statement::run()
{
  while (step()) {
  }
  reset();
}

void
Statement::reset()
{
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

std::int64_t
Statement::column_int(int index) const
{
  return sqlite3_column_int64(m_stmt, index);
}

bool
Statement::column_is_null(int index) const
{
  return sqlite3_column_type(m_stmt, index) == SQLITE_NULL;
}

std::string_view
Statement::column_text(int index) const
{
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, index));
  return text == nullptr ? std::string_view() : std::string_view(text, sqlite3_column_bytes(m_stmt, index));
}

std::string_view
Statement::column_blob(int index) const
{
  const auto* data = static_cast<const char*>(sqlite3_column_blob(m_stmt, index));
  return data == nullptr ? std::string_view() : std::string_view(data, sqlite3_column_bytes(m_stmt, index));
}

} // namespace omnicache::store::sqlite
