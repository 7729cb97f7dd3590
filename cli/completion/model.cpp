#include "cli/completion/model.hpp"

#include <algorithm>
#include <optional>

namespace omnicache::cli::completion {

namespace {

std::vector<std::string>
split(const std::string& text, char separator)
{
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) {
      return parts;
    }
    start = end + 1;
  }
}

// CLI11 appends each validator's description to the type name, after a
// colon; IsMember describes itself as {a,b,c}, which is how its choices can
// be read back.
Value
value_of(const CLI::Option& option)
{
  Value value;
  if (option.get_items_expected_max() == 0) {
    return value;
  }
  const auto parts = split(option.get_type_name(), ':');
  value.name = parts.front();
  value.kind = (value.name == "FILE" || value.name == "PATH") ? ValueKind::file : ValueKind::any;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto& part = parts[i];
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      value.kind = ValueKind::choice;
      value.choices = split(part.substr(1, part.size() - 2), ',');
    }
  }
  return value;
}

bool
named(const CLI::Option& option)
{
  return !option.get_snames().empty() || !option.get_lnames().empty();
}

OptionModel
option_model(const CLI::Option& option)
{
  return {option.get_snames(), option.get_lnames(), first_line(option.get_description()), value_of(option),
          option.get_items_expected_max() > 1};
}

// A command's own option takes the names it shares with a global one (-s is
// --session in `context get`); the global keeps the others (--socket).
std::optional<OptionModel>
unshadowed(OptionModel global, const std::vector<OptionModel>& own)
{
  const auto taken = [&](const std::string& word) {
    return std::ranges::any_of(own, [&](const auto& option) {
      const auto words = option_words(option);
      return std::ranges::find(words, word) != words.end();
    });
  };
  std::erase_if(global.shorts, [&](const auto& name) { return taken("-" + name); });
  std::erase_if(global.longs, [&](const auto& name) { return taken("--" + name); });
  if (global.shorts.empty() && global.longs.empty()) {
    return std::nullopt;
  }
  return global;
}

// Options are hidden by an empty group.
std::vector<const CLI::Option*>
visible_options(const CLI::App& app)
{
  return app.get_options([](const CLI::Option* option) { return !option->get_group().empty(); });
}

void
walk(const CLI::App& app, std::vector<std::string> path, const std::vector<OptionModel>& globals,
     std::vector<CommandModel>& out)
{
  CommandModel command;
  command.path = path;
  command.description = first_line(app.get_description());
  for (const auto* option : visible_options(app)) {
    if (named(*option)) {
      command.options.push_back(option_model(*option));
    } else {
      command.positionals.push_back({option->get_name(true), first_line(option->get_description()),
                                     value_of(*option), option->get_items_expected_max() > 1});
    }
  }
  if (!path.empty()) {
    const auto own = command.options;
    for (const auto& global : globals) {
      if (auto option = unshadowed(global, own)) {
        command.options.push_back(std::move(*option));
      }
    }
  }
  const auto subcommands = app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
  for (const auto* sub : subcommands) {
    command.subcommands.push_back({sub->get_name(), first_line(sub->get_description())});
  }
  out.push_back(std::move(command));
  for (const auto* sub : subcommands) {
    auto sub_path = path;
    sub_path.push_back(sub->get_name());
    walk(*sub, std::move(sub_path), globals, out);
  }
}

} // namespace

std::string
CommandModel::joined(std::string_view separator) const
{
  std::string text;
  for (const auto& word : path) {
    if (!text.empty()) {
      text += separator;
    }
    text += word;
  }
  return text;
}

std::vector<CommandModel>
describe(const CLI::App& root)
{
  // Options of the program itself that every command accepts (it falls
  // through to them); --help each command has its own, --version only the
  // program.
  std::vector<OptionModel> globals;
  for (const auto* option : visible_options(root)) {
    if (named(*option) && option != root.get_help_ptr() && option != root.get_version_ptr()) {
      globals.push_back(option_model(*option));
    }
  }
  std::vector<CommandModel> commands;
  walk(root, {}, globals, commands);
  return commands;
}

std::vector<std::string>
option_words(const OptionModel& option)
{
  std::vector<std::string> words;
  for (const auto& name : option.shorts) {
    words.push_back("-" + name);
  }
  for (const auto& name : option.longs) {
    words.push_back("--" + name);
  }
  return words;
}

std::string
first_line(const std::string& text)
{
  return text.substr(0, text.find('\n'));
}

} // namespace omnicache::cli::completion
