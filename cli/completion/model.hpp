#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

// What a completion script needs to know of the command line, read from the
// CLI11 definitions so that the scripts follow every change to them.
namespace omnicache::cli::completion {

// What a value can be completed with.
enum class ValueKind
{
  none, // a flag: no value
  any,  // a value nothing is known of
  file, // a file or directory (type name FILE or PATH)
  choice,
};

struct Value
{
  ValueKind kind = ValueKind::none;
  std::string name; // FILE, NAME=VALUE...
  std::vector<std::string> choices;
};

struct OptionModel
{
  std::vector<std::string> shorts; // without the dash
  std::vector<std::string> longs;  // without the dashes
  std::string description;
  Value value;
  bool repeatable = false;
};

struct PositionalModel
{
  std::string name;
  std::string description;
  Value value;
  bool repeatable = false; // takes every word left
};

struct SubcommandModel
{
  std::string name;
  std::string description;
};

struct CommandModel
{
  std::vector<std::string> path; // {"response", "get"}; empty for the program itself
  std::string description;
  // Its own options first, then the global ones it does not shadow.
  std::vector<OptionModel> options;
  std::vector<PositionalModel> positionals;
  std::vector<SubcommandModel> subcommands;

  std::string joined(std::string_view separator) const;
};

// Every command at every depth, each before its subcommands, in the order of
// their definition.
std::vector<CommandModel> describe(const CLI::App& root);

// Every option's names with their dashes: -s, --socket...
std::vector<std::string> option_words(const OptionModel& option);

// The first line of a help text.
std::string first_line(const std::string& text);

} // namespace omnicache::cli::completion
