#pragma once

#include "protocol/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Everything the command prints goes through here, so that human output and
// --json stay consistent across commands.
namespace omnicache::cli::output {

using protocol::Json;

// Whether standard output is a terminal, which takes escape sequences and
// reads best indented.
bool stdout_is_terminal();

// The size of the terminal on standard output. 80x24 when it does not say:
// not a terminal, or a new pseudo-terminal whose size nobody has set.
struct TerminalSize
{
  int columns = 80;
  int rows = 24;
};
TerminalSize terminal_size();

// Indented when stdout is a terminal, one line otherwise.
void print_json(const Json& json);
// The bytes exactly as stored.
void print_bytes(std::string_view bytes);
void print_line(std::string_view text);

// {"value": "..."} when the bytes are UTF-8 text, {"value_base64": "..."} otherwise.
void put_value(Json& json, std::string_view bytes);
std::string base64(std::string_view bytes);

// A key as a listing shows it: as it is when it is printable text, otherwise
// quoted with C escapes, as redis-cli does ("a\nb", "\x00"). A quoted key
// always starts with '"' and a bare one never does, so no two keys look alike.
std::string printable_key(std::string_view key);

// A word as a shell needs it typed: as it is when it is plain, otherwise in
// single quotes.
std::string shell_word(std::string_view word);
// A command line from its words (a JSON array of strings, as run entries
// record it), each as a shell needs it.
std::string command_line(const Json& argv);

// "1 row", "2 rows": a count with its noun, plural as English wants it.
// `plural` defaults to the noun with an s.
std::string counted(std::uint64_t n, std::string_view noun, std::string_view plural = {});

// A duration in microseconds as people read it: "850 us", "3.27 ms", "1.01 s".
std::string format_micros(double us);

// The wall clock in milliseconds since the Unix epoch, as the daemon counts.
std::int64_t now_ms();

// "2026-11-22 20:42:14 UTC"
std::string format_time(std::int64_t ms);
// "3s ago", "in 9m57s", "now"
std::string format_relative(std::int64_t at_ms, std::int64_t now_ms);

// A plain text table: first column left-aligned, the rest right-aligned.
class Table
{
public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  std::string render() const;

private:
  std::vector<std::vector<std::string>> m_rows;
};

} // namespace omnicache::cli::output
