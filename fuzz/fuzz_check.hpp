#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// What every fuzz target shares: an invariant that fails is a finding like a
// crash, so it aborts and libFuzzer keeps the input; a reader of the input's
// first bytes for the choices a target makes (limits, chunk sizes); an
// independent UTF-8 check to hold the code's own against.
#define FUZZ_CHECK(condition)                                                                                   \
  do {                                                                                                          \
    if (!(condition)) {                                                                                         \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition);                   \
      std::abort();                                                                                             \
    }                                                                                                           \
  } while (false)

namespace omnicache::fuzz {

class Input
{
public:
  Input(const std::uint8_t* data, std::size_t size)
    : m_rest(reinterpret_cast<const char*>(data), size)
  {
  }

  // The next byte, 0 once the input is used up.
  std::uint8_t byte()
  {
    if (m_rest.empty()) {
      return 0;
    }
    const auto value = static_cast<std::uint8_t>(m_rest.front());
    m_rest.remove_prefix(1);
    return value;
  }

  std::string_view rest() const { return m_rest; }

private:
  std::string_view m_rest;
};

// RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
inline bool
is_utf8(std::string_view text)
{
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3F);
    }
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < least[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

} // namespace omnicache::fuzz
