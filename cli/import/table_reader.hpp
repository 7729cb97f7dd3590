#pragma once

#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// Reads the file that `omnicache warm` imports, one record at a time, each
// with the line it starts on, so that a bad record is reported precisely and
// skipped without losing the good records around it.
//
// CSV (RFC 4180, plus what real files contain):
// - The first non-blank record is the header: column names, none empty, none
//   repeated, not trimmed. A file without one, or with a broken one, cannot
//   be read at all (ImportError).
// - Fields are separated by ',' and records end with LF or CRLF; a file may
//   mix them. A CR not followed by LF is data. A UTF-8 byte order mark at the
//   very start is skipped. Values are kept byte for byte, never trimmed.
// - A field that starts with '"' is quoted: it may hold ',', CR and LF, and
//   '""' inside it stands for one '"'. Lines are still counted right.
// - A '"' inside an unquoted field (`5" screen`) is an error for that record,
//   not a literal quote: accepting it would hide the unbalanced quotes that
//   silently merge records, and the fix (quote the field) is easy to say.
// - Blank records (empty lines, a final newline) are skipped silently.
// - A record is a RowError, and reading goes on, when its field count differs
//   from the header's, when a field is not valid UTF-8, when its quoting is
//   broken, or when it is longer than ReaderLimits::max_record_bytes.
//   After a quoting error or an over-long record, reading resumes at the line
//   after the one where the broken quoted field (or the record) starts: an
//   unbalanced opening quote then costs only its own record, though lines it
//   swallowed may come out as a second error.
//
// JSON Lines: one JSON object per line; blank lines are skipped, CRLF and a
// byte order mark are accepted. A line that is not JSON, or not an object, is
// a RowError. Member values become field text:
//   string                -> the string itself
//   number, true, false   -> their JSON text: 3600, 1.5, true (numbers as
//                            nlohmann prints them, so 1e3 reads as 1000.0)
//   array of strings      -> the items joined with ';', like CSV's "a;b"
//   other array, object   -> compact JSON text
//   null                  -> no field at all
// Fields keep the order of the members in the line.
namespace omnicache::cli::import {

// A record that reads well. `line` is the 1-based line it starts on.
struct Row
{
  std::size_t line = 0;
  std::vector<std::pair<std::string, std::string>> fields; // name -> value, in column order
};

// A record that does not. `line` is where the record starts, like Row::line;
// when the problem lies on a later line of a multi-line record, the message
// names that line too. Messages never contain the file's bytes.
struct RowError
{
  std::size_t line = 0;
  std::string message; // "3 fields, header has 4"
};

using Record = std::variant<Row, RowError>;

enum class Format { csv, jsonl };

// "csv" or "jsonl"; nullopt for anything else.
std::optional<Format> format_from_name(std::string_view name);
std::string_view format_name(Format format);
// By extension, ignoring case: .jsonl and .ndjson are JSON Lines, the rest CSV.
Format guess_format(std::string_view path);

// The file cannot be opened or read (code io), or its CSV header is broken
// (bad_file). The message names the file (and the line, for the header). A
// type of its own because `warm` stops on exactly this, where the Errors a
// row's key raises cost only that row.
class ImportError : public protocol::Error
{
public:
  explicit ImportError(const std::string& message, protocol::ErrorCode code = protocol::ErrorCode::bad_file)
    : protocol::Error(code, message)
  {
  }
};

struct ReaderLimits
{
  // Bytes asked of read(2) at a time.
  std::size_t chunk_bytes = std::size_t{1} << 20;
  // A longer record is a RowError: it bounds the memory that an unbalanced
  // quote in a big file can take. The default is limits.max_frame_bytes's.
  std::size_t max_record_bytes = std::size_t{256} << 20;
};

class TableReader
{
public:
  // Opens `path` ("-" is standard input) and, for CSV, reads the header.
  // Throws ImportError.
  TableReader(std::string path, Format format, ReaderLimits limits = {});
  ~TableReader();
  TableReader(TableReader&& other) noexcept;
  TableReader& operator=(TableReader&&) = delete;
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // CSV: the header's column names. JSON Lines: empty.
  const std::vector<std::string>& columns() const { return m_columns; }

  // The next record, or nullopt at the end of the file. Throws ImportError
  // only when reading the file itself fails.
  std::optional<Record> next();

  // For a progress bar: bytes of the file read through so far, and its size
  // (0 when unknown, e.g. for a pipe).
  std::uint64_t bytes_read() const { return m_bytes_read; }
  std::uint64_t total_bytes() const { return m_total_bytes; }

private:
  // A field's bytes inside the buffer, as written: `escaped` means its '""'
  // still have to become '"'.
  struct RawField
  {
    std::string_view text;
    bool quoted = false;
    bool escaped = false;
  };
  struct CsvScan;

  void open_input();
  void close_input();
  std::string display_name() const;
  std::string_view pending() const { return {m_buffer.data() + m_begin, m_end - m_begin}; }
  void advance(std::size_t bytes);
  bool fill();
  void skip_line();
  void skip_bom();

  static CsvScan scan_record(std::string_view data, bool at_eof, std::vector<RawField>& fields);
  std::optional<CsvScan> scan_csv();
  void read_header();
  std::optional<Record> next_csv();
  Record make_row(std::size_t line) const;
  std::optional<Record> next_jsonl();

  std::string m_path;
  Format m_format;
  ReaderLimits m_limits;
  int m_fd = -1;
  bool m_eof = false;
  std::string m_buffer;
  std::size_t m_begin = 0;    // first unread byte in m_buffer
  std::size_t m_end = 0;      // end of the bytes read into m_buffer
  std::size_t m_line = 1;     // the line m_begin is on
  std::uint64_t m_bytes_read = 0;
  std::uint64_t m_total_bytes = 0;
  std::vector<std::string> m_columns;
  std::vector<RawField> m_fields; // the record being read, reused
};

} // namespace omnicache::cli::import
