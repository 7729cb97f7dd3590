#include "cli/commands/help.hpp"

#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

namespace omnicache::cli {

namespace {

// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`: the
// optimal string alignment distance, which counts "invalidtae" as one slip.
std::size_t
help_edit_distance(std::string_view a, std::string_view b)
{
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::vector<std::string>
help_subcommand_names(const CLI::App& parent)
{
  std::vector<std::string> names;
  for (const auto* command : parent.get_subcommands({})) {
    names.push_back(command->get_name());
  }
  return names;
}

const CLI::App*
help_find_subcommand(const CLI::App& parent, std::string_view word)
{
  for (const auto* command : parent.get_subcommands({})) {
    if (command->check_name(std::string(word))) {
      return command;
    }
  }
  return nullptr;
}

// "omnicache response": the command's words from the top.
std::string
help_path(const CLI::App& command)
{
  std::string path = command.get_name();
  for (const auto* parent = command.get_parent(); parent != nullptr; parent = parent->get_parent()) {
    path = parent->get_name() + " " + path;
  }
  return path;
}

// Whether a word after `command` names one of its subcommands rather than
// being an argument: it has subcommands and takes no positional arguments.
bool
help_takes_subcommand(const CLI::App& command)
{
  return !command.get_subcommands({}).empty()
         && command.get_options([](const CLI::Option* option) { return option->get_positional(); }).empty();
}

// The option named by `word` ("--socket", "-s", "--socket=x") on `command` or
// on a command above it, whose options it takes too.
const CLI::Option*
help_find_option(const CLI::App& command, std::string_view word)
{
  const std::string name(word.substr(0, word.find('=')));
  for (const auto* app = &command; app != nullptr; app = app->get_parent()) {
    if (const auto* option = app->get_option_no_throw(name)) {
      return option;
    }
  }
  return nullptr;
}

std::string
help_with_or(const std::vector<std::string>& names)
{
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

void
run_help(const CLI::App& app, const std::vector<std::string>& words)
{
  const CLI::App* command = &app;
  for (const auto& word : words) {
    const CLI::App* next = help_find_subcommand(*command, word);
    if (next == nullptr) {
      throw CliError(k_exit_usage, unknown_command_message(*command, word));
    }
    command = next;
  }
  // Exactly what COMMAND --help prints: the formatter of the command itself,
  // named from the top, since the app's help() would describe `help`.
  const auto* parent = command->get_parent();
  const std::string above = parent == nullptr ? std::string() : help_path(*parent);
  const std::string text =
    command->get_formatter()->make_help(command, above.empty() ? command->get_name() : above + " " + command->get_name(),
                                        CLI::AppFormatMode::Normal);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

} // namespace

std::vector<std::string>
nearest_names(std::string_view word, std::span<const std::string> names)
{
  const std::size_t most = word.size() <= 3 ? 1 : 2;
  std::size_t best = most + 1;
  std::vector<std::string> out;
  for (const auto& name : names) {
    const std::size_t distance = help_edit_distance(word, name);
    if (distance < best) {
      best = distance;
      out.clear();
    }
    if (distance == best) {
      out.push_back(name);
    }
  }
  if (out.empty() && word.size() >= 2) {
    for (const auto& name : names) {
      if (name.starts_with(word)) {
        out.push_back(name);
      }
    }
  }
  return out;
}

std::string
unknown_command_message(const CLI::App& parent, std::string_view word)
{
  const auto names = help_subcommand_names(parent);
  const auto near = nearest_names(word, names);
  const std::string path = help_path(parent);
  std::string out = parent.get_parent() == nullptr ? fmt::format("unknown command '{}'", word)
                                                   : fmt::format("unknown command '{}' of '{}'", word, path);
  if (!near.empty()) {
    return out + fmt::format("\ndid you mean {}?", help_with_or(near));
  }
  return out + fmt::format("\nRun '{} --help' for the list of commands.", path);
}

std::optional<std::string>
mistyped_command(const CLI::App& app, int argc, char** argv)
{
  const CLI::App* command = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word == "--") {
      return std::nullopt;
    }
    if (word.starts_with("-")) {
      const auto* option = help_find_option(*command, word);
      if (option != nullptr && option->get_items_expected_max() != 0 && word.find('=') == std::string_view::npos) {
        ++i; // its value
      }
      continue;
    }
    if (!help_takes_subcommand(*command)) {
      return std::nullopt;
    }
    const CLI::App* next = help_find_subcommand(*command, word);
    if (next == nullptr) {
      return unknown_command_message(*command, word);
    }
    command = next;
  }
  return std::nullopt;
}

void
add_help(CLI::App& app, Globals& globals)
{
  auto words = std::make_shared<std::vector<std::string>>();
  auto* command = app.add_subcommand("help", "Show the help of omnicache, or of a command: help run, help response get");
  command->add_option("command", *words, "The command, and its subcommand if it has them");
  command->footer("The same text as COMMAND --help. An unknown name says which commands are near it.\n"
                  "Examples:\n"
                  "  omnicache help\n"
                  "  omnicache help run\n"
                  "  omnicache help response get");
  command->callback([&app, &globals, words] {
    run_help(app, *words);
    globals.exit_code = k_exit_ok;
  });
}

} // namespace omnicache::cli
