#include "cli/output.hpp"

#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sys/ioctl.h>
#include <unistd.h>

namespace omnicache::cli::output {

bool
stdout_is_terminal()
{
  return isatty(STDOUT_FILENO) != 0;
}

TerminalSize
terminal_size()
{
  TerminalSize size;
  winsize window{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &window) == 0) {
    size.columns = window.ws_col > 0 ? window.ws_col : size.columns;
    size.rows = window.ws_row > 0 ? window.ws_row : size.rows;
  }
  return size;
}

void
print_json(const Json& json)
{
  const int indent = stdout_is_terminal() ? 2 : -1;
  print_line(json.dump(indent, ' ', false, Json::error_handler_t::replace));
}

void
print_bytes(std::string_view bytes)
{
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

void
print_line(std::string_view text)
{
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

std::string
base64(std::string_view bytes)
{
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16)
                   | (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8)
                   | std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += k_alphabet[n & 63];
  }
  if (i < bytes.size()) {
    auto n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (i + 1 < bytes.size()) {
      n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    }
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? k_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void
put_value(Json& json, std::string_view bytes)
{
  Json text = std::string(bytes);
  try {
    (void)text.dump(); // throws on invalid UTF-8
    json["value"] = std::move(text);
  } catch (const Json::type_error&) {
    json["value_base64"] = base64(bytes);
  }
}

namespace {

// Whether `text` is valid UTF-8 whose every character is printable (no
// control bytes, DEL or C1 controls).
bool
printable_text(std::string_view text)
{
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (length == 0 || c > 0xf4 || i + length > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) {
        return false;
      }
    }
    if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      return false; // U+0080..U+009F, the C1 controls
    }
    i += length;
  }
  return true;
}

} // namespace

std::string
printable_key(std::string_view key)
{
  if (!key.starts_with('"') && printable_text(key)) {
    return std::string(key);
  }
  std::string out = "\"";
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\a': out += "\\a"; break;
    case '\b': out += "\\b"; break;
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    default:
      // Bytes of valid UTF-8 stay as they are only when the whole key is;
      // here every byte outside printable ASCII is spelled out.
      out += c < 0x20 || c >= 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, ch);
    }
  }
  return out + "\"";
}

std::string
shell_word(std::string_view word)
{
  const bool plain = !word.empty() && std::ranges::all_of(word, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
  });
  if (plain) {
    return std::string(word);
  }
  std::string out = "'";
  for (const char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string
command_line(const Json& argv)
{
  std::string line;
  for (const auto& word : argv) {
    line += line.empty() ? "" : " ";
    line += shell_word(word.is_string() ? word.get<std::string>() : word.dump());
  }
  return line;
}

std::string
counted(std::uint64_t n, std::string_view noun, std::string_view plural)
{
  if (n == 1) {
    return fmt::format("1 {}", noun);
  }
  return plural.empty() ? fmt::format("{} {}s", n, noun) : fmt::format("{} {}", n, plural);
}

std::string
format_micros(double us)
{
  if (us < 1000) {
    return fmt::format("{:.0f} us", us);
  }
  // Three significant figures, as the unit grows.
  const auto three = [](double v, std::string_view unit) {
    return v < 10 ? fmt::format("{:.2f} {}", v, unit)
                  : v < 100 ? fmt::format("{:.1f} {}", v, unit) : fmt::format("{:.0f} {}", v, unit);
  };
  return us < 1e6 ? three(us / 1e3, "ms") : three(us / 1e6, "s");
}

std::int64_t
now_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string
format_time(std::int64_t ms)
{
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

std::string
format_relative(std::int64_t at_ms, std::int64_t now_ms)
{
  const std::int64_t delta = at_ms - now_ms;
  const std::int64_t magnitude = delta < 0 ? -delta : delta;
  if (magnitude < 1000) {
    return "now";
  }
  const std::string span = protocol::format_duration_ms(magnitude / 1000 * 1000);
  return delta < 0 ? span + " ago" : "in " + span;
}

Table::Table(std::vector<std::string> header)
{
  m_rows.push_back(std::move(header));
}

void
Table::add(std::vector<std::string> row)
{
  m_rows.push_back(std::move(row));
}

std::string
Table::render() const
{
  std::vector<std::size_t> widths;
  for (const auto& row : m_rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : m_rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i == 0) {
        line += fmt::format("{:<{}}", row[i], widths[i]);
      } else {
        line += fmt::format("  {:>{}}", row[i], widths[i]);
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

} // namespace omnicache::cli::output
