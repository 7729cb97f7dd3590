#include "cli/import/utf8.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace omnicache::cli::import {

namespace {

struct Utf8Lead
{
  unsigned mask;
  unsigned value;
  std::size_t length;
  std::uint32_t min; // smaller code points in this length are overlong
};
constexpr std::array<Utf8Lead, 3> k_utf8_leads{{
  {0xE0, 0xC0, 2, 0x80},
  {0xF0, 0xE0, 3, 0x800},
  {0xF8, 0xF0, 4, 0x10000},
}};

// The length of the valid multi-byte sequence at `p`, or 0.
std::size_t
utf8_sequence(const unsigned char* p, std::size_t available)
{
  const auto lead = std::find_if(k_utf8_leads.begin(), k_utf8_leads.end(),
                                 [p](const Utf8Lead& l) { return (p[0] & l.mask) == l.value; });
  if (lead == k_utf8_leads.end() || lead->length > available) {
    return 0;
  }
  std::uint32_t code = p[0] & ~lead->mask & 0xFF;
  for (std::size_t i = 1; i < lead->length; ++i) {
    if ((p[i] & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (p[i] & 0x3F);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return code < lead->min || code > 0x10FFFF || surrogate ? 0 : lead->length;
}

} // namespace

bool
is_utf8(std::string_view text)
{
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p != end) {
    if (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, sizeof word);
      if ((word & 0x8080808080808080) == 0) {
        p += 8; // the common case: eight ASCII bytes at once
        continue;
      }
    }
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const std::size_t length = utf8_sequence(p, static_cast<std::size_t>(end - p));
    if (length == 0) {
      return false;
    }
    p += length;
  }
  return true;
}

} // namespace omnicache::cli::import
