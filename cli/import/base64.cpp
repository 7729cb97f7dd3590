#include "cli/import/base64.hpp"

#include <array>
#include <cstdint>

namespace omnicache::cli::import {

namespace {

constexpr std::uint8_t k_base64_invalid = 0xFF;

constexpr std::array<std::uint8_t, 256>
base64_table()
{
  std::array<std::uint8_t, 256> table{};
  table.fill(k_base64_invalid);
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr auto k_base64_digits = base64_table();

} // namespace

std::optional<std::string>
decode_base64(std::string_view text)
{
  while (text.ends_with('=')) {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt; // six bits cannot make a byte
  }
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const auto digit = k_base64_digits[static_cast<unsigned char>(c)];
    if (digit == k_base64_invalid) {
      return std::nullopt;
    }
    bits = (bits << 6) | digit;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

} // namespace omnicache::cli::import
