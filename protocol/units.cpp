#include "protocol/units.hpp"

#include <fmt/core.h>

#include <array>
#include <cctype>
#include <limits>
#include <utility>

namespace omnicache::protocol {

namespace {

constexpr std::int64_t k_second = 1000;

// Longest suffix first so that "ms" is not read as "m".
constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> k_duration_units{{
  {"ms", 1},
  {"s", k_second},
  {"m", 60 * k_second},
  {"h", 3600 * k_second},
  {"d", 86400 * k_second},
  {"w", 7 * 86400 * k_second},
}};

bool
read_number(std::string_view& text, std::uint64_t& out)
{
  std::size_t i = 0;
  out = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (out > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return false;
    }
    out = out * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return false;
  }
  text.remove_prefix(i);
  return true;
}

} // namespace

std::optional<std::int64_t>
parse_duration_ms(std::string_view text)
{
  if (text == "never") {
    return 0;
  }
  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t number = 0;
  std::string_view rest = text;
  if (!read_number(rest, number)) {
    return std::nullopt;
  }
  constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (rest.empty()) { // a bare number is seconds
    if (number > k_max / k_second) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(number) * k_second;
  }
  std::uint64_t total = 0;
  for (;;) {
    std::int64_t scale = 0;
    for (const auto& [suffix, ms] : k_duration_units) {
      if (rest.starts_with(suffix)) {
        scale = ms;
        rest.remove_prefix(suffix.size());
        break;
      }
    }
    if (scale == 0 || number > (k_max - total) / static_cast<std::uint64_t>(scale)) {
      return std::nullopt;
    }
    total += number * static_cast<std::uint64_t>(scale);
    if (rest.empty()) {
      return static_cast<std::int64_t>(total);
    }
    if (!read_number(rest, number)) {
      return std::nullopt;
    }
  }
}

std::string
format_duration_ms(std::int64_t ms)
{
  if (ms <= 0) {
    return "never";
  }
  std::string out;
  for (auto it = k_duration_units.rbegin(); it != k_duration_units.rend(); ++it) {
    const auto& [suffix, scale] = *it;
    if (suffix == "w") {
      continue; // "14d" reads better than "2w"
    }
    if (ms >= scale) {
      out += fmt::format("{}{}", ms / scale, suffix);
      ms %= scale;
    }
  }
  return out;
}

std::optional<std::uint64_t>
parse_size(std::string_view text)
{
  std::uint64_t number = 0;
  std::string_view rest = text;
  if (!read_number(rest, number)) {
    return std::nullopt;
  }
  if (rest.empty() || rest == "B") {
    return number;
  }
  static constexpr std::string_view k_prefixes = "KMGT";
  const char prefix = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
  const auto power = k_prefixes.find(prefix);
  if (power == std::string_view::npos) {
    return std::nullopt;
  }
  rest.remove_prefix(1);
  std::uint64_t base = 1000;
  if (rest.starts_with("i")) {
    base = 1024;
    rest.remove_prefix(1);
  }
  if (!rest.empty() && rest != "B") {
    return std::nullopt;
  }
  std::uint64_t scale = 1;
  for (std::size_t i = 0; i <= power; ++i) {
    scale *= base;
  }
  if (number > std::numeric_limits<std::uint64_t>::max() / scale) {
    return std::nullopt;
  }
  return number * scale;
}

std::string
format_size(std::uint64_t bytes)
{
  static constexpr std::array<std::string_view, 5> k_units{"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) {
    return fmt::format("{} B", bytes);
  }
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < k_units.size()) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, k_units[unit]);
}

} // namespace omnicache::protocol
