#pragma once

#include <string>
#include <string_view>
#include <vector>

// Numbers as the false-hit guard compares them: two texts that mention
// different numbers ask different questions, however alike their words.
namespace omnicache::store::semantic {

// The numbers `text` mentions, each in one canonical form, sorted, without
// duplicates. Digits: "1,000" and "01000" -> "1000", "3.50" -> "3.5",
// "2 million" -> "2000000", "3rd" -> "3rd", "1970s" -> "1970s", "2.10.0"
// as written, digits inside a name ("v2", "GPT4") -> "2", "4". Number words:
// "twenty-five" -> "25", "three hundred and two" -> "302", "first" -> "1st".
std::vector<std::string> numbers_in(std::string_view text);

// "three", "twenty", "hundred", "million", "first"...: lower case only.
bool is_number_word(std::string_view lower_word);

} // namespace omnicache::store::semantic
