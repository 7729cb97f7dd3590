#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// The default embedder: works offline, needs no model weights, and gives the
// same vector for the same text on every platform and in every release that
// reports the same version(). It sees words, not meaning: two texts with
// the same words in another order get (nearly) the same vector, so semantic
// matching pairs it with check_guard() (guard.hpp) and a high threshold.
namespace omnicache::store::semantic {

// FNV-1a, 64 bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3):
// tiny, fast on short strings, and defined byte for byte, which is what
// stored vectors need.
class Fnv1a64
{
public:
  void add(unsigned char byte)
  {
    m_state = (m_state ^ byte) * 0x100000001b3ULL;
  }
  void add(std::string_view bytes)
  {
    for (const char c : bytes) {
      add(static_cast<unsigned char>(c));
    }
  }
  std::uint64_t value() const { return m_state; }

private:
  std::uint64_t m_state = 0xcbf29ce484222325ULL;
};

struct LexicalConfig
{
  std::size_t dim = 512; // 16 .. k_lexical_max_dim
};

inline constexpr std::size_t k_lexical_min_dim = 16;
inline constexpr std::size_t k_lexical_max_dim = 4096;

// The cosine a candidate needs to be a hit, with check_guard() on: the
// lowest threshold at which false hits stay under 1% both of the queries
// that have no right answer and of the hits returned, as measured by
// bench/semantic_quality.cpp (bench/README.md). It finds near-repeats, not
// rewordings. Another embedder has another scale and needs its own.
inline constexpr float k_lexical_default_threshold = 0.95f;

class LexicalEmbedder
{
public:
  // Throws protocol::Error (config) when dim is out of range.
  explicit LexicalEmbedder(LexicalConfig config = {});

  std::size_t dim() const { return m_dim; }

  // Names the scheme and its parameters, e.g. "lexical-1/fnv1a64+splitmix64/d512".
  // Vectors stored under another version are stale: embed the text again.
  const std::string& version() const { return m_version; }

  // An L2-normalised vector of dim() floats; all zeros for a text without
  // a word (nothing to compare, so cosine() is 0 against anything).
  std::vector<float> embed(std::string_view text) const;
  // The same into `out`, which must hold exactly dim() floats.
  void embed(std::string_view text, std::span<float> out) const;

private:
  std::size_t m_dim;
  std::string m_version;
};

// Cosine similarity; for the normalised vectors of LexicalEmbedder this is
// their dot product. 0 when either vector is all zeros or the sizes differ.
float cosine(std::span<const float> a, std::span<const float> b);

// ASCII letters lower-cased; other bytes (UTF-8 included) as they are.
inline std::string
ascii_lower(std::string_view text)
{
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

inline bool
is_ascii_digit(char c)
{
  return c >= '0' && c <= '9';
}

// Words as both the embedder and the guard see them: maximal runs of ASCII
// letters and digits and of bytes >= 0x80 (so UTF-8 letters stay inside a
// word), except that the common UTF-8 punctuation (curly quotes and
// apostrophes, dashes, the ellipsis, no-break space) separates words like
// its ASCII counterpart. `visit(std::string_view word, std::size_t offset)`
// is called in order; the views point into `text`.
template<typename Visit>
void
for_each_word(std::string_view text, Visit&& visit)
{
  // 0 for a byte of a word, else how many bytes of separator start at i.
  const auto separator = [text](std::size_t i) -> std::size_t {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return 0;
    }
    if (c < 0x80) {
      return 1;
    }
    const auto next = [text](std::size_t j) { return j < text.size() ? static_cast<unsigned char>(text[j]) : 0; };
    if (c == 0xc2 && next(i + 1) == 0xa0) {
      return 2; // U+00A0 no-break space
    }
    if (c == 0xe2 && next(i + 1) == 0x80) {
      const unsigned char last = next(i + 2);
      // U+2013 U+2014 dashes, U+2018 U+2019 U+201C U+201D quotes, U+2026 ellipsis
      if (last == 0x93 || last == 0x94 || last == 0x98 || last == 0x99 || last == 0x9c || last == 0x9d ||
          last == 0xa6) {
        return 3;
      }
    }
    return 0;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    if (const std::size_t skip = separator(i); skip > 0) {
      i += skip;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && separator(i) == 0) {
      ++i;
    }
    visit(text.substr(start, i - start), start);
  }
}

// English function words (articles, pronouns, auxiliaries, prepositions,
// conjunctions, question words), lower case. They carry little of what a
// question is about, so the embedder gives them less weight and the guard
// does not take them for names when capitalised.
bool is_function_word(std::string_view lower_word);

} // namespace omnicache::store::semantic
