#include "cli/import/table_reader.hpp"

#include "cli/import/json_line.hpp"
#include "cli/import/utf8.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace omnicache::cli::import {

namespace {

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr auto k_npos = std::string_view::npos;

std::size_t
count_lines(std::string_view text)
{
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The end of an unquoted field starting at `at`: its first ',', LF or '"', or
// the end of the data.
std::size_t
unquoted_end(std::string_view data, std::size_t at)
{
  for (; at < data.size(); ++at) {
    const char c = data[at];
    if (c == ',' || c == '\n' || c == '"') {
      break;
    }
  }
  return at;
}

// The closing quote of a quoted field whose content starts at `at`, or npos
// when more data is needed. A quote that ends the data may be the first of a
// '""', so it closes the field only at the end of the file.
std::size_t
closing_quote(std::string_view data, std::size_t at, bool at_eof, bool& escaped)
{
  for (;;) {
    const auto quote = data.find('"', at);
    if (quote == k_npos || (quote + 1 == data.size() && !at_eof)) {
      return k_npos;
    }
    if (quote + 1 == data.size() || data[quote + 1] != '"') {
      return quote;
    }
    escaped = true;
    at = quote + 2;
  }
}

// Just past the first LF at or after `from`; the end of the data when the
// file ends first; npos when more data is needed.
std::size_t
after_line_break(std::string_view data, std::size_t from, bool at_eof)
{
  const auto lf = data.find('\n', from);
  if (lf != k_npos) {
    return lf + 1;
  }
  return at_eof ? data.size() : k_npos;
}

std::string
unescape(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (auto quote = text.find('"'); quote != k_npos; quote = text.find('"', at)) {
    out.append(text.substr(at, quote + 1 - at));
    at = quote + 2; // past the second quote of '""'
  }
  out.append(text.substr(at));
  return out;
}

std::string
plural(std::size_t n, std::string_view word)
{
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}


bool
is_blank(std::string_view line)
{
  return line.find_first_not_of(" \t") == k_npos;
}

// An empty line, which CSV reads as one empty unquoted field.
bool
is_blank_record(const auto& fields)
{
  return fields.size() == 1 && !fields[0].quoted && fields[0].text.empty();
}

} // namespace

std::optional<Format>
format_from_name(std::string_view name)
{
  if (name == "csv") {
    return Format::csv;
  }
  if (name == "jsonl") {
    return Format::jsonl;
  }
  return std::nullopt;
}

std::string_view
format_name(Format format)
{
  return format == Format::csv ? "csv" : "jsonl";
}

Format
guess_format(std::string_view path)
{
  const auto dot = path.rfind('.');
  if (dot == k_npos || path.find('/', dot) != k_npos) {
    return Format::csv;
  }
  std::string extension(path.substr(dot + 1));
  for (char& c : extension) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return extension == "jsonl" || extension == "ndjson" ? Format::jsonl : Format::csv;
}

// What scan_record found at the start of the unread bytes.
struct TableReader::CsvScan
{
  enum class Kind { record, bad, need_more, too_long };

  static CsvScan record(std::size_t end) { return {Kind::record, end, {}, 0}; }
  static CsvScan bad(std::size_t end, std::string_view problem, std::size_t at) { return {Kind::bad, end, problem, at}; }
  static CsvScan need_more() { return {Kind::need_more, 0, {}, 0}; }
  static CsvScan too_long() { return {Kind::too_long, 0, {}, 0}; }

  Kind kind;
  std::size_t end;          // where the next record starts (record, bad)
  std::string_view problem; // what is wrong (bad)
  std::size_t problem_at;   // where, to name its line (bad)
};

TableReader::TableReader(std::string path, Format format, ReaderLimits limits)
  : m_path(std::move(path)),
    m_format(format),
    m_limits(limits)
{
  try {
    open_input();
    skip_bom();
    if (m_format == Format::csv) {
      read_header();
    }
  } catch (...) {
    close_input();
    throw;
  }
}

TableReader::~TableReader()
{
  close_input();
}

TableReader::TableReader(TableReader&& other) noexcept
  : m_path(std::move(other.m_path)),
    m_format(other.m_format),
    m_limits(other.m_limits),
    m_fd(std::exchange(other.m_fd, -1)),
    m_eof(other.m_eof),
    m_buffer(std::move(other.m_buffer)),
    m_begin(other.m_begin),
    m_end(other.m_end),
    m_line(other.m_line),
    m_bytes_read(other.m_bytes_read),
    m_total_bytes(other.m_total_bytes),
    m_columns(std::move(other.m_columns))
{
}

std::optional<Record>
TableReader::next()
{
  return m_format == Format::csv ? next_csv() : next_jsonl();
}

void
TableReader::open_input()
{
  m_fd = m_path == "-" ? STDIN_FILENO : ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m_fd < 0) {
    throw ImportError(fmt::format("cannot open {}: {}", m_path, std::strerror(errno)), protocol::ErrorCode::io);
  }
  struct stat info{};
  if (fstat(m_fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    throw ImportError(fmt::format("cannot read {}: it is a directory", display_name()), protocol::ErrorCode::io);
  }
  if (S_ISREG(info.st_mode)) {
    // Standard input may be a file that was partly read already.
    const off_t offset = std::max<off_t>(lseek(m_fd, 0, SEEK_CUR), 0);
    m_total_bytes = static_cast<std::uint64_t>(std::max<off_t>(info.st_size - offset, 0));
  }
}

void
TableReader::close_input()
{
  if (m_fd >= 0 && m_path != "-") {
    close(m_fd);
  }
  m_fd = -1;
}

std::string
TableReader::display_name() const
{
  return m_path == "-" ? "standard input" : m_path;
}

void
TableReader::advance(std::size_t bytes)
{
  m_line += count_lines(pending().substr(0, bytes));
  m_begin += bytes;
  m_bytes_read += bytes;
}

// Reads more of the file after the unread bytes; false at the end of the file.
bool
TableReader::fill()
{
  if (m_eof) {
    return false;
  }
  const std::size_t kept = m_end - m_begin;
  std::memmove(m_buffer.data(), m_buffer.data() + m_begin, kept);
  m_begin = 0;
  m_end = kept;
  // Reading at least as much again as is kept means a long record is
  // rescanned a logarithmic number of times, not once per chunk.
  const std::size_t headroom = kept < m_limits.max_record_bytes ? m_limits.max_record_bytes - kept : 0;
  const std::size_t room = std::max(m_limits.chunk_bytes, std::min(kept, headroom));
  if (m_buffer.size() < kept + room) {
    m_buffer.resize(kept + room);
  }
  while (m_end < m_buffer.size()) {
    const ssize_t n = ::read(m_fd, m_buffer.data() + m_end, m_buffer.size() - m_end);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw ImportError(fmt::format("cannot read {}: {}", display_name(), std::strerror(errno)),
                        protocol::ErrorCode::io);
    }
    if (n == 0) {
      m_eof = true;
      break;
    }
    m_end += static_cast<std::size_t>(n);
  }
  return m_end > kept;
}

// Skips to just past the next LF, however far: the way past a record too
// long to keep in memory.
void
TableReader::skip_line()
{
  for (;;) {
    const auto lf = pending().find('\n');
    if (lf != k_npos) {
      advance(lf + 1);
      return;
    }
    advance(m_end - m_begin);
    if (!fill()) {
      return;
    }
  }
}

void
TableReader::skip_bom()
{
  while (pending().size() < k_bom.size() && fill()) {
  }
  if (pending().starts_with(k_bom)) {
    m_begin += k_bom.size();
    m_bytes_read += k_bom.size();
  }
}

// Scans the record at the start of `data` into `fields`. Fields are views of
// `data`, valid until the buffer is next filled.
TableReader::CsvScan
TableReader::scan_record(std::string_view data, bool at_eof, std::vector<RawField>& fields)
{
  const auto need_more = CsvScan::need_more();
  const auto bad = [&](std::string_view problem, std::size_t at, std::size_t resume_from) {
    const auto end = after_line_break(data, resume_from, at_eof);
    return end == k_npos ? need_more : CsvScan::bad(end, problem, at);
  };
  fields.clear();
  std::size_t at = 0;
  for (;;) {
    std::size_t end = 0; // just past the field
    if (at < data.size() && data[at] == '"') {
      bool escaped = false;
      const auto close = closing_quote(data, at + 1, at_eof, escaped);
      if (close == k_npos) {
        return at_eof ? bad("unterminated quoted field", at, at) : need_more;
      }
      fields.push_back({data.substr(at + 1, close - at - 1), true, escaped});
      end = close + 1;
      if (end + 1 < data.size() && data[end] == '\r' && data[end + 1] == '\n') {
        ++end;
      } else if (end + 1 == data.size() && data[end] == '\r' && !at_eof) {
        return need_more;
      }
      if (end < data.size() && data[end] != ',' && data[end] != '\n') {
        // Most often the opening quote was the stray one: resuming after its
        // line keeps the records it swallowed.
        return bad("unexpected character after a closing quote", end, at);
      }
    } else {
      end = unquoted_end(data, at);
      if (end == data.size() && !at_eof) {
        return need_more;
      }
      if (end < data.size() && data[end] == '"') {
        return bad("quote inside an unquoted field", end, end);
      }
      const bool crlf = end < data.size() && data[end] == '\n' && end > at && data[end - 1] == '\r';
      fields.push_back({data.substr(at, end - at - (crlf ? 1 : 0))});
    }
    if (end == data.size()) {
      return CsvScan::record(end);
    }
    if (data[end] == '\n') {
      return CsvScan::record(end + 1);
    }
    at = end + 1;
  }
}

// The next record, reading more of the file as needed; nullopt at the end.
std::optional<TableReader::CsvScan>
TableReader::scan_csv()
{
  if (m_begin == m_end && !fill()) {
    return std::nullopt;
  }
  for (;;) {
    const auto scan = scan_record(pending(), m_eof, m_fields);
    if (scan.kind != CsvScan::Kind::need_more) {
      return scan;
    }
    if (m_end - m_begin >= m_limits.max_record_bytes) {
      return CsvScan::too_long();
    }
    fill();
  }
}

void
TableReader::read_header()
{
  for (;;) {
    const auto scan = scan_csv();
    if (!scan) {
      throw ImportError(fmt::format("{}: no header row: the file is {}", display_name(),
                                    m_bytes_read == 0 ? "empty" : "blank"));
    }
    const auto where = fmt::format("{}:{}", display_name(), m_line);
    if (scan->kind == CsvScan::Kind::too_long) {
      throw ImportError(fmt::format("{}: the header is longer than {} bytes", where, m_limits.max_record_bytes));
    }
    if (scan->kind == CsvScan::Kind::bad) {
      throw ImportError(fmt::format("{}: bad header: {}", where, scan->problem));
    }
    if (is_blank_record(m_fields)) {
      advance(scan->end);
      continue;
    }
    std::unordered_map<std::string_view, std::size_t> seen;
    for (const auto& field : m_fields) {
      const std::size_t column = m_columns.size() + 1;
      if (!is_utf8(field.text)) {
        throw ImportError(fmt::format("{}: column {} of the header is not valid UTF-8", where, column));
      }
      if (field.text.empty()) {
        throw ImportError(fmt::format("{}: column {} of the header has no name", where, column));
      }
      m_columns.push_back(field.escaped ? unescape(field.text) : std::string(field.text));
      if (const auto [it, fresh] = seen.emplace(field.text, column); !fresh) {
        throw ImportError(fmt::format("{}: columns {} and {} are both named \"{}\"", where, it->second, column,
                                      m_columns.back()));
      }
    }
    advance(scan->end);
    return;
  }
}

std::optional<Record>
TableReader::next_csv()
{
  for (;;) {
    const auto scan = scan_csv();
    if (!scan) {
      return std::nullopt;
    }
    const std::size_t line = m_line;
    if (scan->kind == CsvScan::Kind::too_long) {
      skip_line();
      return RowError{line, fmt::format("record longer than {} bytes (is a quote missing its pair?)",
                                        m_limits.max_record_bytes)};
    }
    if (scan->kind == CsvScan::Kind::bad) {
      const std::size_t problem_line = line + count_lines(pending().substr(0, scan->problem_at));
      RowError error{line, std::string(scan->problem)};
      if (problem_line != line) {
        error.message += fmt::format(" on line {}", problem_line);
      }
      advance(scan->end);
      return error;
    }
    if (is_blank_record(m_fields)) {
      advance(scan->end);
      continue;
    }
    Record record = make_row(line);
    advance(scan->end);
    return record;
  }
}

Record
TableReader::make_row(std::size_t line) const
{
  if (m_fields.size() != m_columns.size()) {
    return RowError{line, fmt::format("{}, header has {}", plural(m_fields.size(), "field"), m_columns.size())};
  }
  for (std::size_t i = 0; i < m_fields.size(); ++i) {
    if (!is_utf8(m_fields[i].text)) {
      return RowError{line, fmt::format("not valid UTF-8 in column {}", m_columns[i])};
    }
  }
  Row row{line, {}};
  row.fields.reserve(m_fields.size());
  for (std::size_t i = 0; i < m_fields.size(); ++i) {
    const auto& field = m_fields[i];
    row.fields.emplace_back(m_columns[i], field.escaped ? unescape(field.text) : std::string(field.text));
  }
  return row;
}

std::optional<Record>
TableReader::next_jsonl()
{
  if (m_begin == m_end && !fill()) {
    return std::nullopt;
  }
  for (;;) {
    const auto lf = pending().find('\n');
    if (lf == k_npos && !m_eof) {
      if (m_end - m_begin >= m_limits.max_record_bytes) {
        const std::size_t line = m_line;
        skip_line();
        return RowError{line, fmt::format("line longer than {} bytes", m_limits.max_record_bytes)};
      }
      fill();
      continue;
    }
    const auto data = pending();
    if (data.empty()) {
      return std::nullopt;
    }
    auto text = data.substr(0, lf);
    if (text.ends_with('\r')) {
      text.remove_suffix(1);
    }
    const std::size_t line = m_line;
    std::optional<Record> record;
    if (!is_blank(text)) {
      record = parse_json_line(line, text);
    }
    advance(lf == k_npos ? data.size() : lf + 1);
    if (record) {
      return record;
    }
  }
}

} // namespace omnicache::cli::import
