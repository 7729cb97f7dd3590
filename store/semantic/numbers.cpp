#include "store/semantic/numbers.hpp"

#include "store/semantic/lexical.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

namespace omnicache::store::semantic {

namespace {

struct Token
{
  std::string_view raw;
  std::string lower;
  std::string_view gap; // the text between the previous word and this one
};

using Tokens = std::vector<Token>;

Tokens
split_tokens(std::string_view text)
{
  Tokens words;
  std::size_t previous_end = 0;
  for_each_word(text, [&](std::string_view raw, std::size_t offset) {
    words.push_back({raw, ascii_lower(raw), text.substr(previous_end, offset - previous_end)});
    previous_end = offset + raw.size();
  });
  return words;
}

struct NumberWord
{
  std::string_view word;
  std::uint64_t value;
  enum Kind { unit, tens, hundred, scale } kind;
  bool ordinal;
};

// "second" is left out: it is also a unit of time. Leaving it out costs
// nothing in safety, since a number on one side only is a rejection anyway.
constexpr NumberWord k_number_words[] = {
  {"zero", 0, NumberWord::unit, false},          {"one", 1, NumberWord::unit, false},
  {"two", 2, NumberWord::unit, false},           {"three", 3, NumberWord::unit, false},
  {"four", 4, NumberWord::unit, false},          {"five", 5, NumberWord::unit, false},
  {"six", 6, NumberWord::unit, false},           {"seven", 7, NumberWord::unit, false},
  {"eight", 8, NumberWord::unit, false},         {"nine", 9, NumberWord::unit, false},
  {"ten", 10, NumberWord::unit, false},          {"eleven", 11, NumberWord::unit, false},
  {"twelve", 12, NumberWord::unit, false},       {"thirteen", 13, NumberWord::unit, false},
  {"fourteen", 14, NumberWord::unit, false},     {"fifteen", 15, NumberWord::unit, false},
  {"sixteen", 16, NumberWord::unit, false},      {"seventeen", 17, NumberWord::unit, false},
  {"eighteen", 18, NumberWord::unit, false},     {"nineteen", 19, NumberWord::unit, false},
  {"twenty", 20, NumberWord::tens, false},       {"thirty", 30, NumberWord::tens, false},
  {"forty", 40, NumberWord::tens, false},        {"fifty", 50, NumberWord::tens, false},
  {"sixty", 60, NumberWord::tens, false},        {"seventy", 70, NumberWord::tens, false},
  {"eighty", 80, NumberWord::tens, false},       {"ninety", 90, NumberWord::tens, false},
  {"hundred", 100, NumberWord::hundred, false},  {"thousand", 1000, NumberWord::scale, false},
  {"million", 1000000, NumberWord::scale, false}, {"billion", 1000000000, NumberWord::scale, false},
  {"trillion", 1000000000000, NumberWord::scale, false},
  {"first", 1, NumberWord::unit, true},          {"third", 3, NumberWord::unit, true},
  {"fourth", 4, NumberWord::unit, true},         {"fifth", 5, NumberWord::unit, true},
  {"sixth", 6, NumberWord::unit, true},          {"seventh", 7, NumberWord::unit, true},
  {"eighth", 8, NumberWord::unit, true},         {"ninth", 9, NumberWord::unit, true},
  {"tenth", 10, NumberWord::unit, true},         {"eleventh", 11, NumberWord::unit, true},
  {"twelfth", 12, NumberWord::unit, true},       {"thirteenth", 13, NumberWord::unit, true},
  {"fourteenth", 14, NumberWord::unit, true},    {"fifteenth", 15, NumberWord::unit, true},
  {"sixteenth", 16, NumberWord::unit, true},     {"seventeenth", 17, NumberWord::unit, true},
  {"eighteenth", 18, NumberWord::unit, true},    {"nineteenth", 19, NumberWord::unit, true},
  {"twentieth", 20, NumberWord::tens, true},     {"thirtieth", 30, NumberWord::tens, true},
  {"fortieth", 40, NumberWord::tens, true},      {"fiftieth", 50, NumberWord::tens, true},
  {"sixtieth", 60, NumberWord::tens, true},      {"seventieth", 70, NumberWord::tens, true},
  {"eightieth", 80, NumberWord::tens, true},     {"ninetieth", 90, NumberWord::tens, true},
  {"hundredth", 100, NumberWord::hundred, true}, {"thousandth", 1000, NumberWord::scale, true},
  {"millionth", 1000000, NumberWord::scale, true},
};

const NumberWord*
number_word(std::string_view lower)
{
  static const auto index = [] {
    std::unordered_map<std::string_view, const NumberWord*> out;
    for (const NumberWord& entry : k_number_words) {
      out.emplace(entry.word, &entry);
    }
    return out;
  }();
  const auto it = index.find(lower);
  return it == index.end() ? nullptr : it->second;
}

std::string
ordinal(std::string number)
{
  const std::size_t n = number.size();
  const int last = number[n - 1] - '0';
  const int tens = n >= 2 ? number[n - 2] - '0' : 0;
  if (tens == 1 || last == 0 || last > 3) {
    return number + "th";
  }
  return number + (last == 1 ? "st" : last == 2 ? "nd" : "rd");
}

std::string
strip_leading_zeros(std::string_view digits)
{
  const auto first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? "0" : std::string(digits.substr(first));
}

// "1,000" -> "1000", "02" -> "2", "3.50" -> "3.5", "2.0" -> "2"; anything
// else with separators ("2.10.0", "1,5") is kept as written.
std::string
canonical_digits(std::string digits)
{
  if (digits.find(',') != std::string::npos && digits.find('.') == std::string::npos) {
    bool thousands = true;
    for (std::size_t comma = digits.find(','); comma != std::string::npos; comma = digits.find(',', comma + 1)) {
      const auto next = digits.find(',', comma + 1);
      const std::size_t group = (next == std::string::npos ? digits.size() : next) - comma - 1;
      thousands = thousands && group == 3;
    }
    if (!thousands || digits.find(',') > 3) {
      return digits;
    }
    std::erase(digits, ',');
  }
  if (digits.find(',') != std::string::npos) {
    return digits;
  }
  const auto dot = digits.find('.');
  if (dot == std::string::npos) {
    return strip_leading_zeros(digits);
  }
  if (digits.find('.', dot + 1) != std::string::npos) {
    return digits;
  }
  std::string whole = strip_leading_zeros(std::string_view(digits).substr(0, dot));
  std::string fraction = digits.substr(dot + 1);
  while (!fraction.empty() && fraction.back() == '0') {
    fraction.pop_back();
  }
  return fraction.empty() ? whole : whole + "." + fraction;
}

// "2" with "million" -> "2000000"; "1.5" with "billion" -> "1500000000".
std::string
scaled(const std::string& number, std::uint64_t scale)
{
  const auto dot = number.find('.');
  const std::string whole = number.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : number.substr(dot + 1);
  std::string zeros = std::to_string(scale).substr(1);
  if (fraction.size() > zeros.size() || whole.size() + zeros.size() > 30) {
    return number + " x " + std::to_string(scale);
  }
  fraction.resize(zeros.size(), '0');
  return strip_leading_zeros(whole + fraction);
}

std::size_t
digit_run(std::string_view text, std::size_t from)
{
  std::size_t end = from;
  while (end < text.size() && is_ascii_digit(text[end])) {
    ++end;
  }
  return end - from;
}

bool
joins_number(std::string_view gap)
{
  return gap.find_first_not_of(" -") == std::string_view::npos;
}

// A word that begins with digits, with the words that continue it ("3.5",
// "1,000,000", "2 million", "3rd", "1970s"). Returns the next word to read.
std::size_t
read_digits(const Tokens& words, std::size_t i, std::vector<std::string>& out)
{
  std::string_view raw = words[i].raw;
  std::size_t run = digit_run(raw, 0);
  std::string digits(raw.substr(0, run));
  std::string_view suffix = raw.substr(run);
  ++i;
  while (suffix.empty() && i < words.size() && (words[i].gap == "." || words[i].gap == ",") &&
         is_ascii_digit(words[i].raw[0])) {
    raw = words[i].raw;
    run = digit_run(raw, 0);
    digits += words[i].gap;
    digits += raw.substr(0, run);
    suffix = raw.substr(run);
    ++i;
  }
  std::string number = canonical_digits(digits);
  const std::string lower_suffix = ascii_lower(suffix);
  if (lower_suffix == "st" || lower_suffix == "nd" || lower_suffix == "rd" || lower_suffix == "th") {
    out.push_back(ordinal(number));
  } else if (lower_suffix == "s") {
    out.push_back(number + "s");
  } else {
    const NumberWord* next = i < words.size() ? number_word(words[i].lower) : nullptr;
    if (suffix.empty() && next != nullptr && !next->ordinal && next->kind >= NumberWord::hundred &&
        joins_number(words[i].gap)) {
      number = scaled(number, next->value);
      ++i;
    }
    out.push_back(number);
    // Digits further on in the word: "3x4", "v2beta3".
    for (std::size_t at = 0; at < suffix.size(); ++at) {
      if (const std::size_t more = digit_run(suffix, at); more > 0) {
        out.push_back(strip_leading_zeros(suffix.substr(at, more)));
        at += more;
      }
    }
  }
  return i;
}

// Number words in a row ("twenty-five", "three hundred and two", "first").
std::size_t
read_number_words(const Tokens& words, std::size_t i, std::vector<std::string>& out)
{
  std::uint64_t total = 0;
  std::uint64_t current = 0;
  bool is_ordinal = false;
  const NumberWord* previous = nullptr;
  for (; i < words.size(); ++i) {
    const NumberWord* entry = number_word(words[i].lower);
    if (previous != nullptr) {
      if (!joins_number(words[i].gap)) {
        break;
      }
      // "one hundred and two": "and" continues a number after hundred or a scale.
      if (entry == nullptr && words[i].lower == "and" && previous->kind >= NumberWord::hundred &&
          i + 1 < words.size() && joins_number(words[i + 1].gap)) {
        const NumberWord* after = number_word(words[i + 1].lower);
        if (after != nullptr && after->kind <= NumberWord::tens) {
          continue;
        }
      }
      // Units follow tens ("twenty five"), not units ("five six" are two numbers).
      if (entry != nullptr && entry->kind <= NumberWord::tens && previous->kind <= NumberWord::tens &&
          !(previous->kind == NumberWord::tens && entry->kind == NumberWord::unit && entry->value < 10)) {
        break;
      }
    }
    if (entry == nullptr) {
      break;
    }
    switch (entry->kind) {
      case NumberWord::unit:
      case NumberWord::tens:
        current += entry->value;
        break;
      case NumberWord::hundred:
        current = std::max<std::uint64_t>(current, 1) * entry->value;
        break;
      case NumberWord::scale:
        total += std::max<std::uint64_t>(current, 1) * entry->value;
        current = 0;
        break;
    }
    previous = entry;
    if (entry->ordinal) {
      is_ordinal = true;
      ++i;
      break;
    }
  }
  const std::string number = std::to_string(total + current);
  out.push_back(is_ordinal ? ordinal(number) : number);
  return i;
}

} // namespace

bool
is_number_word(std::string_view lower_word)
{
  return number_word(lower_word) != nullptr;
}

std::vector<std::string>
numbers_in(std::string_view text)
{
  const Tokens words = split_tokens(text);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < words.size();) {
    const std::string_view raw = words[i].raw;
    if (is_ascii_digit(raw[0])) {
      i = read_digits(words, i, out);
    } else if (number_word(words[i].lower) != nullptr) {
      i = read_number_words(words, i, out);
    } else {
      // Digits inside a name: "v2", "GPT4", "float32".
      for (std::size_t at = 0; at < raw.size(); ++at) {
        if (const std::size_t run = digit_run(raw, at); run > 0) {
          out.push_back(strip_leading_zeros(raw.substr(at, run)));
          at += run;
        }
      }
      ++i;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace omnicache::store::semantic
