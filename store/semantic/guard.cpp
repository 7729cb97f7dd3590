#include "store/semantic/guard.hpp"

#include "store/semantic/lexical.hpp"
#include "store/semantic/numbers.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace omnicache::store::semantic {

namespace {

struct Word
{
  std::string_view raw;
  std::string lower;
  std::string key; // match_key(lower)
  std::string_view gap; // the text between the previous word and this one
  bool sentence_start = false;
  bool function = false; // is_function_word()
  bool negation = false; // is_negation()
  bool content = false;  // neither of the two
  bool plain = false;    // content, and not a number (numbers are the number check's)
};

using Words = std::vector<Word>;

bool
is_upper(char c)
{
  return c >= 'A' && c <= 'Z';
}

bool
is_apostrophe(std::string_view gap)
{
  return gap == "'" || gap == "\xe2\x80\x99";
}

// Words after which a full stop does not end a sentence ("Dr. Smith",
// "No. 5"); single letters ("U.S. Army", "J. Smith") are handled apart.
bool
is_abbreviation(std::string_view lower)
{
  static const std::set<std::string_view> abbreviations{
    "approx", "co", "col", "dr", "fig", "ft", "gen", "inc", "jr", "lt", "ltd", "mr", "mrs", "ms",
    "mt", "no", "nos", "prof", "rev", "sgt", "sr", "st", "vol", "vs",
  };
  return abbreviations.contains(lower);
}

bool
ends_sentence(const Word& previous, std::string_view gap)
{
  if (gap.find_first_of("!?:\n") != std::string_view::npos) {
    return true;
  }
  const auto dot = gap.find('.');
  if (dot == std::string_view::npos || previous.raw.size() == 1 || is_abbreviation(previous.lower)) {
    return false;
  }
  // "Dataset.push_to_hub" is a name, "end. Next" a new sentence.
  return gap.find_first_of(" \t\r", dot) != std::string_view::npos;
}

// The form in which a word of one text is looked for in the other: lower
// case, without a common inflection ("Transformers" finds "transformer",
// "released" finds "release"). Crude, but the same on both sides.
std::string
match_key(std::string_view lower)
{
  constexpr std::size_t min_stem = 4;
  for (const std::string_view suffix : {"ing", "ed", "es", "s"}) {
    if (lower.size() >= min_stem + suffix.size() && lower.ends_with(suffix) && !lower.ends_with("ss")) {
      lower.remove_suffix(suffix.size());
      break;
    }
  }
  if (lower.size() > min_stem && lower.back() == 'e') {
    lower.remove_suffix(1);
  }
  return std::string(lower);
}

// "push_to_hub" and "fs.ls" are one name each, not three and two words.
bool
joins_name(const Word& previous, std::string_view gap, std::string_view next)
{
  if (!gap.empty() && gap.find_first_not_of('_') == std::string_view::npos) {
    return true;
  }
  return gap == "." && !is_ascii_digit(previous.raw[0]) && next[0] >= 'a' && next[0] <= 'z';
}

Words
split_words(std::string_view text)
{
  Words words;
  std::size_t previous_end = 0;
  for_each_word(text, [&](std::string_view raw, std::size_t offset) {
    const std::string_view gap = text.substr(previous_end, offset - previous_end);
    previous_end = offset + raw.size();
    if (!words.empty() && joins_name(words.back(), gap, raw)) {
      Word& name = words.back();
      const auto start = static_cast<std::size_t>(name.raw.data() - text.data());
      name.raw = text.substr(start, previous_end - start);
      name.lower = ascii_lower(name.raw);
      name.key = match_key(name.lower);
      name.function = false;
      return;
    }
    Word word;
    word.raw = raw;
    word.lower = ascii_lower(raw);
    word.key = match_key(word.lower);
    word.gap = gap;
    word.function = is_function_word(word.lower);
    word.sentence_start = words.empty() || ends_sentence(words.back(), word.gap);
    words.push_back(std::move(word));
  });
  return words;
}

bool
has_letter(std::string_view raw)
{
  return std::any_of(raw.begin(), raw.end(), [](char c) { return !is_ascii_digit(c); });
}

// ---- negation --------------------------------------------------------------

bool
is_negation(const Words& words, std::size_t i)
{
  static const std::set<std::string_view> cues{
    "cannot", "neither", "never", "no", "nobody", "none", "not", "nothing", "nowhere", "without",
  };
  const Word& word = words[i];
  // "doesn't", "can’t", and "does n't" as tokenised text writes it.
  if (word.lower == "t" && i > 0 && is_apostrophe(word.gap) && words[i - 1].lower.ends_with('n')) {
    return true;
  }
  // "No. 5" is a number, not a negation.
  if (word.lower == "no" && i + 1 < words.size() && words[i + 1].gap.starts_with('.') &&
      is_ascii_digit(words[i + 1].raw[0])) {
    return false;
  }
  return cues.contains(word.lower);
}

std::vector<std::string>
negations_of(const Words& words)
{
  std::vector<std::string> cues;
  for (const Word& word : words) {
    if (word.negation) {
      cues.push_back(word.lower == "t" ? "n't" : word.lower);
    }
  }
  return cues;
}

// ---- texts ----------------------------------------------------------------

// A text's words, and what is looked up in it: the keys of all its words.
struct Text
{
  std::string_view source;
  Words words;
  std::vector<std::string_view> keys; // into words[i].key, sorted, unique

  bool has(std::string_view key) const { return std::binary_search(keys.begin(), keys.end(), key); }
};

Text
analyse(std::string_view text)
{
  Text out{text, split_words(text), {}};
  Words& words = out.words;
  for (std::size_t i = 0; i < words.size(); ++i) {
    Word& word = words[i];
    word.negation = is_negation(words, i);
    word.content = !word.function && !word.negation;
    word.plain = word.content && has_letter(word.raw) && !is_number_word(word.lower);
    out.keys.push_back(word.key);
  }
  std::sort(out.keys.begin(), out.keys.end());
  out.keys.erase(std::unique(out.keys.begin(), out.keys.end()), out.keys.end());
  return out; // moving a vector keeps its elements, and so the views, in place
}

// ---- entities --------------------------------------------------------------

// In an all-capitals or Title Case text capitals mark nothing. A sentence
// full of names still has lower-case words between them.
bool
capitals_mark_names(const Words& words)
{
  std::size_t content = 0;
  std::size_t capitalised = 0;
  for (const Word& word : words) {
    if (!word.function && has_letter(word.raw)) {
      ++content;
      capitalised += is_upper(word.raw[0]) ? 1 : 0;
    }
  }
  return content < 3 || capitalised < content;
}

std::vector<const Word*>
entities_of(const Words& words)
{
  std::vector<const Word*> out;
  if (!capitals_mark_names(words)) {
    return out;
  }
  for (const Word& word : words) {
    const std::string_view raw = word.raw;
    if (word.function || !std::any_of(raw.begin(), raw.end(), is_upper)) {
      continue;
    }
    // A capital that only opens a sentence says nothing; "PyTorch" or
    // "BARLA" (capitals further in) is a name wherever it stands.
    const bool inner_capital = std::any_of(raw.begin() + 1, raw.end(), is_upper);
    if (word.sentence_start && !inner_capital) {
      continue;
    }
    out.push_back(&word);
  }
  return out;
}

// The entities of `text` that `other` does not contain.
std::vector<std::string_view>
missing_entities(const Text& text, const Text& other)
{
  std::vector<std::string_view> missing;
  for (const Word* entity : entities_of(text.words)) {
    if (!other.has(entity->key)) {
      missing.push_back(entity->raw);
    }
  }
  return missing;
}

// ---- wording ---------------------------------------------------------------

// "colour" / "color", "travelled" / "traveled", "initialise" / "initialize":
// one letter apart, the same first letter, and long enough that one letter
// is not the whole word.
bool
spelling_variants(std::string_view a, std::string_view b)
{
  const std::size_t longer = std::max(a.size(), b.size());
  const std::size_t shorter = std::min(a.size(), b.size());
  if (shorter < 5 || longer - shorter > 1 || a[0] != b[0]) {
    return false;
  }
  std::size_t prefix = 0;
  while (prefix < shorter && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < shorter - prefix && a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  return longer - prefix - suffix <= 1;
}

// Content words of `text` that `other` lacks.
std::vector<std::string>
content_only_in(const Text& text, const Text& other)
{
  const Words& words = text.words;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].plain && !other.has(words[i].key)) {
      out.push_back(words[i].lower);
    }
  }
  return out;
}

// A content word of the query replaced by another in the candidate. The
// lexical vector cannot tell a synonym (homes / houses) from a contrast
// (homes / hotels, python / rust), and a wrong answer costs more than a
// miss. Words added on one side only are no substitution: "Which city is
// the capital of France?" asks what "What is the capital of France?" asks.
std::optional<std::string>
substituted_word(const Text& query, const Text& candidate)
{
  auto only_query = content_only_in(query, candidate);
  auto only_candidate = content_only_in(candidate, query);
  std::erase_if(only_query, [&](const std::string& word) {
    const auto variant = std::find_if(only_candidate.begin(), only_candidate.end(),
                                      [&](const std::string& other) { return spelling_variants(word, other); });
    if (variant == only_candidate.end()) {
      return false;
    }
    only_candidate.erase(variant);
    return true;
  });
  if (only_query.empty() || only_candidate.empty()) {
    return std::nullopt;
  }
  return "word " + only_query.front() + " vs " + only_candidate.front();
}

// An adjective or noun put before a shared word narrows what it names:
// "remote branch", "former capital", "southern Sweden".
std::optional<std::string>
added_modifier(const Text& text, const Text& other)
{
  const Words& words = text.words;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const Word& next = words[i + 1];
    const bool added = words[i].plain && !other.has(words[i].key);
    const bool before_shared = next.plain && other.has(next.key) &&
                               next.gap.find_first_not_of(" -") == std::string_view::npos;
    if (added && before_shared) {
      return "added " + words[i].lower + " before " + next.lower;
    }
  }
  return std::nullopt;
}

// ---- order and roles -----------------------------------------------------------

struct Placed
{
  std::size_t query = 0;
  std::size_t candidate = 0;
};

// Content words found in both texts, in query order; the k-th occurrence in
// one text is paired with the k-th in the other.
std::vector<Placed>
shared_content(const Words& query, const Words& candidate)
{
  std::map<std::string_view, std::vector<std::size_t>> in_query;
  std::map<std::string_view, std::vector<std::size_t>> in_candidate;
  for (std::size_t i = 0; i < query.size(); ++i) {
    if (query[i].content) {
      in_query[query[i].key].push_back(i);
    }
  }
  for (std::size_t i = 0; i < candidate.size(); ++i) {
    if (candidate[i].content) {
      in_candidate[candidate[i].key].push_back(i);
    }
  }
  std::vector<Placed> shared;
  for (const auto& [key, positions] : in_query) {
    const auto other = in_candidate.find(key);
    if (other != in_candidate.end()) {
      for (std::size_t k = 0; k < std::min(positions.size(), other->second.size()); ++k) {
        shared.push_back({positions[k], other->second[k]});
      }
    }
  }
  std::sort(shared.begin(), shared.end(), [](const Placed& a, const Placed& b) { return a.query < b.query; });
  return shared;
}

// Any two shared content words in the other order (then two neighbours in
// the query are, which is what the reason names). Strict on purpose: the
// rules tried that let a phrase moved as a block pass ("In 2007, X" / "X in
// 2007") let several times more swaps through (bench/README.md).
std::optional<std::string>
order_changed(const Words& query, const std::vector<Placed>& shared)
{
  for (std::size_t i = 0; i + 1 < shared.size(); ++i) {
    if (shared[i + 1].candidate < shared[i].candidate) {
      return "word order: " + query[shared[i].query].lower + " \xe2\x80\xa6 " + query[shared[i + 1].query].lower;
    }
  }
  return std::nullopt;
}

// Prepositions that give a phrase its role: where from and where to, who
// did it, before or after. "in", "at", "on" and "during" are left out: a
// paraphrase trades them freely.
bool
is_role_preposition(std::string_view lower)
{
  static const std::set<std::string_view> roles{
    "after", "against", "before", "by", "for", "from", "into", "than", "to", "toward", "towards", "with", "without",
  };
  return roles.contains(lower);
}

bool
is_determiner(std::string_view lower)
{
  static const std::set<std::string_view> determiners{
    "a", "an", "her", "his", "its", "my", "our", "that", "the", "their", "these", "this", "those", "your",
  };
  return determiners.contains(lower);
}

// The role preposition that opens the phrase of word i, if any: "from" for
// "New" in "from the New York office".
std::string_view
role_of(const Words& words, std::size_t i)
{
  while (i > 0 && is_determiner(words[i - 1].lower)) {
    --i;
  }
  return i > 0 && is_role_preposition(words[i - 1].lower) ? std::string_view(words[i - 1].lower) : std::string_view();
}

// "moved from New York to Chapel Hill" / "moved to New York from Chapel Hill":
// the same words in the same order, in other roles.
std::optional<std::string>
role_changed(const Words& query, const Words& candidate, const std::vector<Placed>& shared)
{
  for (const Placed& at : shared) {
    const std::string_view q = role_of(query, at.query);
    const std::string_view c = role_of(candidate, at.candidate);
    if (!q.empty() && !c.empty() && q != c) {
      const std::string& word = query[at.query].lower;
      return "role: " + std::string(q) + " " + word + " vs " + std::string(c) + " " + word;
    }
  }
  return std::nullopt;
}

// ---- verdict -------------------------------------------------------------------

std::string
first_or_none(const auto& items)
{
  return items.empty() ? std::string("none") : std::string(items.front());
}

std::string
joined_or_none(const std::vector<std::string>& items)
{
  if (items.empty()) {
    return "none";
  }
  std::string out = items.front();
  for (std::size_t i = 1; i < items.size(); ++i) {
    out += "+" + items[i];
  }
  return out;
}

std::optional<std::string>
numbers_differ(const Text& query, const Text& candidate)
{
  const auto in_query = numbers_in(query.source);
  const auto in_candidate = numbers_in(candidate.source);
  if (in_query == in_candidate) {
    return std::nullopt;
  }
  std::vector<std::string> only_query;
  std::vector<std::string> only_candidate;
  std::set_difference(in_query.begin(), in_query.end(), in_candidate.begin(), in_candidate.end(),
                      std::back_inserter(only_query));
  std::set_difference(in_candidate.begin(), in_candidate.end(), in_query.begin(), in_query.end(),
                      std::back_inserter(only_candidate));
  return "number " + first_or_none(only_query) + " vs " + first_or_none(only_candidate);
}

std::optional<std::string>
entities_differ(const Text& query, const Text& candidate)
{
  const auto only_query = missing_entities(query, candidate);
  const auto only_candidate = missing_entities(candidate, query);
  if (only_query.empty() && only_candidate.empty()) {
    return std::nullopt;
  }
  return "entity " + first_or_none(only_query) + " vs " + first_or_none(only_candidate);
}

std::optional<std::string>
negations_differ(const Words& query, const Words& candidate)
{
  const auto in_query = negations_of(query);
  const auto in_candidate = negations_of(candidate);
  if (in_query.size() == in_candidate.size()) {
    return std::nullopt;
  }
  return "negation: " + joined_or_none(in_query) + " vs " + joined_or_none(in_candidate);
}

std::optional<std::string>
modifier_added(const Text& query, const Text& candidate)
{
  if (auto added = added_modifier(query, candidate)) {
    return added;
  }
  return added_modifier(candidate, query);
}

// The two texts side by side, as each rule sees them.
struct Compared
{
  const Text& query;
  const Text& candidate;
  std::vector<Placed> shared; // content words found in both, in query order
};

struct Rule
{
  std::string_view name; // GuardVerdict::rule
  std::optional<std::string> (*check)(const Compared&);
};

// In the order they are tried (guard.hpp).
constexpr Rule k_rules[] = {
  {"number", [](const Compared& p) { return numbers_differ(p.query, p.candidate); }},
  {"entity", [](const Compared& p) { return entities_differ(p.query, p.candidate); }},
  {"negation", [](const Compared& p) { return negations_differ(p.query.words, p.candidate.words); }},
  {"word", [](const Compared& p) { return substituted_word(p.query, p.candidate); }},
  {"added", [](const Compared& p) { return modifier_added(p.query, p.candidate); }},
  {"order", [](const Compared& p) { return order_changed(p.query.words, p.shared); }},
  {"role", [](const Compared& p) { return role_changed(p.query.words, p.candidate.words, p.shared); }},
};

} // namespace

GuardVerdict
check_guard(std::string_view query, std::string_view candidate)
{
  const Text q = analyse(query);
  const Text c = analyse(candidate);
  const Compared pair{q, c, shared_content(q.words, c.words)};
  for (const Rule& rule : k_rules) {
    if (auto reason = rule.check(pair)) {
      return GuardVerdict{false, std::move(*reason), rule.name};
    }
  }
  return {};
}

} // namespace omnicache::store::semantic
