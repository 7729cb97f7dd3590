#pragma once

#include <string>
#include <string_view>

// The false-hit guard of semantic matching. A lexical embedding cannot tell
// "flights from New York to Florida" from "flights from Florida to New York"
// (cosine ~1.0), and scores "capital of France" against "capital of Spain"
// higher than many true paraphrases. No threshold fixes that, and a wrong
// answer costs far more than a miss, so a candidate above the threshold is
// also checked here, by rules a person can follow. In the order they are
// tried, a candidate is rejected when the two texts differ in
//   number    the set of numbers: digits ("3", "1,000", "2.5", "1970s",
//             "3rd") and number words ("three", "twenty-five", "first",
//             "2 million"), each reduced to one canonical form;
//   entity    a capitalised word (a name: "France", "PyTorch") of one text
//             that the other does not contain in any case; words that only
//             open a sentence, function words ("The", "What") and the words
//             of an all-capitals or Title Case text are not taken for names;
//   negation  the number of negations (not, no, never, n't, cannot,
//             without, none, neither, nobody, nothing, nowhere);
//   word      a content word replaced by another ("homes" / "hotels",
//             "python" / "rust"): a synonym and a contrast look the same to
//             these rules. Inflections ("dataset" / "datasets") and
//             spellings one letter apart ("colour" / "color") are the same
//             word; a word added on one side only is no replacement
//             ("Which city is ..." / "What is ...");
//   added     ... unless it is put right before a shared word, which it then
//             narrows ("remote branch" / "branch", "southern Sweden");
//   order     the order of the content words found in both: any two in the
//             other order ("New York ... Florida" / "Florida ... New York");
//   role      the role preposition before a shared word ("from New York" /
//             "to New York"; from, to, by, for, with, into, before, after...).
// The checks are symmetric: swapping query and candidate gives the same verdict.
namespace omnicache::store::semantic {

struct GuardVerdict
{
  bool accept = true;
  // Empty when accepted, else what differed, e.g. "number 3 vs 4",
  // "entity France vs Spain", "negation: none vs not", "word homes vs hotels",
  // "added remote before branch", "word order: york … florida",
  // "role: from new vs to new".
  std::string reason;
  // Empty when accepted, else which rule rejected, a stable name for
  // counting: number, entity, negation, word, added, order, role.
  std::string_view rule;
};

GuardVerdict check_guard(std::string_view query, std::string_view candidate);

} // namespace omnicache::store::semantic
