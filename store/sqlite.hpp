#pragma once

#include "protocol/error.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

// Thin RAII wrappers over the SQLite C API. Failures throw protocol::Error:
// disk_full for SQLITE_FULL, UnusableDatabase for a file SQLite cannot read
// as a database, internal otherwise, with SQLite's message.
namespace omnicache::store::sqlite {

// A database file that cannot be used as it is. No retry can help: the file
// needs a person (omnicache doctor), so the daemon refuses to start on it
// rather than fail request after request. To a client it is UNSUPPORTED for a
// newer schema, INTERNAL otherwise.
class UnusableDatabase : public protocol::Error
{
public:
  enum class Reason {
    not_a_database, // SQLITE_NOTADB: not SQLite, or its first page is gone
    damaged,        // SQLITE_CORRUPT: SQLite found a page it cannot read
    foreign,        // an SQLite database of another program
    newer_schema,   // written by a newer omnicache
  };
  UnusableDatabase(Reason reason, const std::string& path, const std::string& message)
    : protocol::Error(reason == Reason::newer_schema ? protocol::ErrorCode::unsupported : protocol::ErrorCode::internal,
                      message),
      m_reason(reason),
      m_path(path)
  {
  }
  Reason reason() const { return m_reason; }
  const std::string& path() const { return m_path; }

private:
  Reason m_reason;
  std::string m_path;
};

class Statement;

class Connection
{
public:
  enum class Mode { read_write_create, read_only };
  Connection(const std::string& path, Mode mode);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const char* sql);
  Statement prepare(std::string_view sql);
  std::int64_t changes() const;
  // Incremental blob I/O: a large value goes to or comes from its pages in
  // pieces, without SQLite assembling a whole record in memory.
  void write_blob(const char* table, const char* column, std::int64_t rowid, std::string_view bytes);
  void read_blob(const char* table, const char* column, std::int64_t rowid, std::string& out);
  sqlite3* handle() const { return m_db; }
  const std::string& path() const { return m_path; }
  [[noreturn]] void fail(int rc, std::string_view what) const;

private:
  std::string m_path;
  sqlite3* m_db = nullptr;
};

class Statement
{
public:
  Statement() = default;
  Statement(Connection& connection, sqlite3_stmt* stmt);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1. Text and blobs are copied only when
  // `transient` is set; otherwise they must outlive the statement's step.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);
  Statement& bind_zeroblob(int index, std::uint64_t size);

  // True while there is a row; false when done.
  bool step();
  // Runs to completion; for statements without rows.
  void run();
  void reset();

  std::int64_t column_int(int index) const;
  bool column_is_null(int index) const;
  std::string_view column_text(int index) const;
  std::string_view column_blob(int index) const;

private:
  Connection* m_connection = nullptr;
  sqlite3_stmt* m_stmt = nullptr;
};

// Resets a statement when it leaves scope, so that it holds no read snapshot.
class ResetOnExit
{
public:
  explicit ResetOnExit(Statement& statement)
    : m_statement(statement)
  {
  }
  ~ResetOnExit() { m_statement.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

private:
  Statement& m_statement;
};

} // namespace omnicache::store::sqlite
