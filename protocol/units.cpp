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

bool
starts_with_digit(std::string_view text)
{
  return !text.empty() && std::isdigit(static_cast<unsigned char>(text.front()));
}

Error
not_a_unit(std::string_view what, std::string_view text)
{
  return Error(ErrorCode::bad_request, fmt::format("'{}' is not a {}", text, what));
}

Error
past_64_bits(std::string_view what, std::string_view text)
{
  return Error(ErrorCode::bad_request, fmt::format("'{}' is a {} too large to count in 64 bits", text, what));
}

} // namespace

Expected<std::int64_t>
parse_duration_ms(std::string_view text)
{
  constexpr std::string_view k_what = "duration";
  if (text == "never") {
    return std::int64_t{0};
  }
  std::uint64_t number = 0;
  std::string_view rest = text;
  if (!read_number(rest, number)) {
    return starts_with_digit(text) ? past_64_bits(k_what, text) : not_a_unit(k_what, text);
  }
  constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (rest.empty()) { // a bare number is seconds
    if (number > k_max / k_second) {
      return past_64_bits(k_what, text);
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
    if (scale == 0) {
      return not_a_unit(k_what, text);
    }
    if (number > (k_max - total) / static_cast<std::uint64_t>(scale)) {
      return past_64_bits(k_what, text);
    }
    total += number * static_cast<std::uint64_t>(scale);
    if (rest.empty()) {
      return static_cast<std::int64_t>(total);
    }
    const bool digit = starts_with_digit(rest);
    if (!read_number(rest, number)) {
      return digit ? past_64_bits(k_what, text) : not_a_unit(k_what, text);
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

Expected<std::uint64_t>
parse_size(std::string_view text)
{
  constexpr std::string_view k_what = "size";
  std::uint64_t number = 0;
  std::string_view rest = text;
  if (!read_number(rest, number)) {
    return starts_with_digit(text) ? past_64_bits(k_what, text) : not_a_unit(k_what, text);
  }
  if (rest.empty() || rest == "B") {
    return number;
  }
  static constexpr std::string_view k_prefixes = "KMGT";
  const char prefix = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
  const auto power = k_prefixes.find(prefix);
  if (power == std::string_view::npos) {
    return not_a_unit(k_what, text);
  }
  rest.remove_prefix(1);
  std::uint64_t base = 1000;
  if (rest.starts_with("i")) {
    base = 1024;
    rest.remove_prefix(1);
  }
  if (!rest.empty() && rest != "B") {
    return not_a_unit(k_what, text);
  }
  std::uint64_t scale = 1;
  for (std::size_t i = 0; i <= power; ++i) {
    scale *= base;
  }
  if (number > std::numeric_limits<std::uint64_t>::max() / scale) {
    return past_64_bits(k_what, text);
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
