#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// `omnicache help [COMMAND...]` and the "did you mean" of a mistyped command.
namespace omnicache::cli {

// The names among `names` nearest to `word`, the nearest first: those within
// a small edit distance (one edit for short words, two otherwise), or failing
// that those that `word` begins. Empty when none is close: a guess far off
// helps nobody.
std::vector<std::string> nearest_names(std::string_view word, std::span<const std::string> names);

// "unknown command 'invalidat'" (or "unknown command 'gte' of 'omnicache
// response'" under a command), then "did you mean invalidate?" when a name
// is near, or where to find the list.
std::string unknown_command_message(const CLI::App& parent, std::string_view word);

// The first word of `argv` that should name a subcommand and names none, as
// the message above: CLI11 would only say that an argument was not expected.
std::optional<std::string> mistyped_command(const CLI::App& app, int argc, char** argv);

} // namespace omnicache::cli
