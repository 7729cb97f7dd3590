#include "store/semantic/lexical.hpp"

#include "protocol/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>

// The scheme, version 1 (change k_scheme when any of this changes, so that
// stored vectors are known to be stale):
//   words      for_each_word(), ASCII letters lower-cased
//   word block each word (weight 1, function words 0.1) and each pair of
//              adjacent words (0.36)
//   char block the 3-, 4- and 5-grams of code points of "<word>" for every
//              word that is not a function word (weight 1 each); they let
//              "dataset" meet "datasets" and "colour" meet "color"
//   hashing    FNV-1a 64 of a kind byte ('w', 'b', 'c') and the feature's
//              bytes (a pair is joined by 0x1f), then the splitmix64
//              finaliser h; bucket = ((h >> 32) * dim) >> 32, sign = the
//              lowest bit of h (signed hashing: collisions cancel out on
//              average instead of piling up)
//   tf         per bucket sign(x) * sqrt(|x|): a repeated word counts, but
//              sub-linearly (weights below are before this square root).
//              sqrt, unlike log, is correctly rounded by IEEE 754, so the
//              vector does not depend on the platform's maths library
//   result     each block L2-normalised, then 0.6 and 0.4 of their squared
//              weight (sqrt(0.6) * words + sqrt(0.4) * chars), normalised again
namespace omnicache::store::semantic {

namespace {

constexpr std::string_view k_scheme = "lexical-1/fnv1a64+splitmix64";

constexpr unsigned char k_kind_word = 'w';
constexpr unsigned char k_kind_pair = 'b';
constexpr unsigned char k_kind_char = 'c';
constexpr unsigned char k_pair_separator = 0x1f;

constexpr float k_weight_word = 1.0f;
constexpr float k_weight_function_word = 0.1f;
constexpr float k_weight_pair = 0.36f;
constexpr float k_weight_char = 1.0f;
constexpr float k_share_words = 0.6f; // of the squared norm; chars get the rest

// Character n-grams look at the first 64 bytes of a word: longer "words" are
// identifiers or base64, where the prefix says enough.
constexpr std::size_t k_char_word_bytes = 64;
constexpr std::size_t k_min_gram = 3;
constexpr std::size_t k_max_gram = 5;

// Sorted (checked at compile time), for binary search.
constexpr std::string_view k_function_words[] = {
  "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at",
  "be", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does",
  "doing", "down", "during", "each", "either", "for", "from", "had", "has", "have", "having", "he", "her", "here",
  "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "may", "me", "might",
  "more", "most", "must", "my", "of", "off", "on", "once", "only", "onto", "or", "other", "our", "ours", "out",
  "over", "own", "please", "s", "same", "shall", "she", "should", "so", "some", "such", "t", "than", "that", "the",
  "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "toward",
  "towards", "under", "until", "up", "upon", "us", "very", "via", "was", "were", "what", "when", "where", "whether",
  "which", "while", "who", "whom", "whose", "why", "will", "with", "within", "would", "yes", "you", "your", "yours",
};
static_assert(std::is_sorted(std::begin(k_function_words), std::end(k_function_words)));
constexpr std::size_t k_longest_function_word = 7;
static_assert(std::all_of(std::begin(k_function_words), std::end(k_function_words),
                          [](std::string_view word) { return word.size() <= k_longest_function_word; }));

char
lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

void
add_lower(Fnv1a64& hash, std::string_view word)
{
  for (const char c : word) {
    hash.add(static_cast<unsigned char>(lower(c)));
  }
}

// splitmix64's finaliser: FNV-1a mixes short inputs poorly (the last byte
// barely reaches the high bits); this spreads every bit over all 64.
std::uint64_t
mix(std::uint64_t x)
{
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Bucket from the high 32 bits by multiply-shift (Lemire's "fastrange":
// uniform like a modulo, without the division), sign from the lowest bit.
void
add_feature(std::span<float> block, std::uint64_t hash, float weight)
{
  const std::uint64_t h = mix(hash);
  const std::uint64_t bucket = ((h >> 32) * block.size()) >> 32;
  block[bucket] += (h & 1) != 0 ? -weight : weight;
}

bool
is_continuation_byte(char c)
{
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

void
add_char_grams(std::span<float> block, std::string_view word)
{
  if (word.size() > k_char_word_bytes) {
    std::size_t cut = k_char_word_bytes;
    while (cut > 0 && is_continuation_byte(word[cut])) {
      --cut;
    }
    word = word.substr(0, cut);
  }
  // "<word>", lower-cased, and where each code point starts.
  std::array<char, k_char_word_bytes + 2> padded{};
  std::array<std::uint8_t, k_char_word_bytes + 3> starts{};
  std::size_t size = 0;
  std::size_t points = 0;
  padded[size] = '<';
  starts[points++] = static_cast<std::uint8_t>(size++);
  for (const char c : word) {
    if (!is_continuation_byte(c)) {
      starts[points++] = static_cast<std::uint8_t>(size);
    }
    padded[size++] = lower(c);
  }
  starts[points++] = static_cast<std::uint8_t>(size);
  padded[size++] = '>';
  starts[points] = static_cast<std::uint8_t>(size); // end sentinel

  for (std::size_t first = 0; first + k_min_gram <= points; ++first) {
    Fnv1a64 hash;
    hash.add(k_kind_char);
    std::size_t byte = starts[first];
    for (std::size_t n = 1; n <= k_max_gram && first + n <= points; ++n) {
      for (; byte < starts[first + n]; ++byte) {
        hash.add(static_cast<unsigned char>(padded[byte]));
      }
      if (n >= k_min_gram) {
        add_feature(block, hash.value(), k_weight_char);
      }
    }
  }
}

bool
is_function_word_any_case(std::string_view word)
{
  if (word.size() > k_longest_function_word) {
    return false;
  }
  std::array<char, k_longest_function_word> buffer{};
  std::transform(word.begin(), word.end(), buffer.begin(), lower);
  return is_function_word(std::string_view(buffer.data(), word.size()));
}

// sign(x) * sqrt(|x|), then scaled to length 1 (left alone when all zero).
void
damp_and_normalise(std::span<float> block)
{
  double norm2 = 0;
  for (float& x : block) {
    x = std::copysign(std::sqrt(std::fabs(x)), x);
    norm2 += static_cast<double>(x) * x;
  }
  if (norm2 > 0) {
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm2));
    for (float& x : block) {
      x *= scale;
    }
  }
}

void
normalise(std::span<float> v)
{
  double norm2 = 0;
  for (const float x : v) {
    norm2 += static_cast<double>(x) * x;
  }
  if (norm2 > 0) {
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm2));
    for (float& x : v) {
      x *= scale;
    }
  }
}

} // namespace

bool
is_function_word(std::string_view lower_word)
{
  return std::binary_search(std::begin(k_function_words), std::end(k_function_words), lower_word);
}

LexicalEmbedder::LexicalEmbedder(LexicalConfig config)
  : m_dim(config.dim)
{
  if (m_dim < k_lexical_min_dim || m_dim > k_lexical_max_dim) {
    throw protocol::Error(protocol::ErrorCode::config,
                          "lexical embedder: dim must be between " + std::to_string(k_lexical_min_dim) + " and " +
                            std::to_string(k_lexical_max_dim));
  }
  m_version = std::string(k_scheme) + "/d" + std::to_string(m_dim);
}

std::vector<float>
LexicalEmbedder::embed(std::string_view text) const
{
  std::vector<float> out(m_dim);
  embed(text, out);
  return out;
}

void
LexicalEmbedder::embed(std::string_view text, std::span<float> out) const
{
  if (out.size() != m_dim) {
    throw protocol::Error(protocol::ErrorCode::internal, "lexical embedder: output size differs from dim");
  }
  std::array<float, k_lexical_max_dim> char_storage; // only the first dim() are used, zeroed below
  const std::span<float> words = out;
  const std::span<float> chars(char_storage.data(), m_dim);
  std::fill(words.begin(), words.end(), 0.0f);
  std::fill(chars.begin(), chars.end(), 0.0f);

  std::string_view previous;
  for_each_word(text, [&](std::string_view word, std::size_t) {
    const bool function = is_function_word_any_case(word);
    Fnv1a64 unigram;
    unigram.add(k_kind_word);
    add_lower(unigram, word);
    add_feature(words, unigram.value(), function ? k_weight_function_word : k_weight_word);
    if (!previous.empty()) {
      Fnv1a64 pair;
      pair.add(k_kind_pair);
      add_lower(pair, previous);
      pair.add(k_pair_separator);
      add_lower(pair, word);
      add_feature(words, pair.value(), k_weight_pair);
    }
    if (!function) {
      add_char_grams(chars, word);
    }
    previous = word;
  });

  damp_and_normalise(words);
  damp_and_normalise(chars);
  const float word_scale = std::sqrt(k_share_words);
  const float char_scale = std::sqrt(1.0f - k_share_words);
  for (std::size_t i = 0; i < m_dim; ++i) {
    words[i] = word_scale * words[i] + char_scale * chars[i];
  }
  normalise(words);
}

float
cosine(std::span<const float> a, std::span<const float> b)
{
  if (a.size() != b.size()) {
    return 0.0f;
  }
  double dot = 0;
  double norm_a = 0;
  double norm_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  if (norm_a == 0 || norm_b == 0) {
    return 0.0f;
  }
  return static_cast<float>(dot / std::sqrt(norm_a * norm_b));
}

} // namespace omnicache::store::semantic
