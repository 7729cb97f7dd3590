// event: applies a [rules.NAME] section of the config, so that "the model
// was updated" or "this document changed" is one command in a script.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

#include <map>

namespace omnicache::cli {

namespace {

using protocol::Json;

struct EventOptions
{
  std::string name;
  std::vector<std::string> arguments; // name=value
};

std::map<std::string, std::string>
values_of(const std::vector<std::string>& arguments)
{
  std::map<std::string, std::string> values;
  for (const auto& argument : arguments) {
    const auto eq = argument.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(k_exit_usage, fmt::format("event argument '{}' must be NAME=VALUE", argument));
    }
    values[argument.substr(0, eq)] = argument.substr(eq + 1);
  }
  return values;
}

// Replaces each {name} in `target` with the event's value for it.
std::string
filled(const std::string& target, const std::map<std::string, std::string>& values, const std::string& where)
{
  std::string out;
  std::size_t at = 0;
  while (at < target.size()) {
    const auto open = target.find('{', at);
    if (open == std::string::npos) {
      break;
    }
    const auto close = target.find('}', open);
    if (close == std::string::npos) {
      throw CliError(k_exit_usage, fmt::format("{}: '{}' has a '{{' without its '}}'", where, target));
    }
    const std::string name = target.substr(open + 1, close - open - 1);
    const auto value = values.find(name);
    if (value == values.end()) {
      throw CliError(k_exit_usage,
                     fmt::format("{}: '{}' needs a value for {{{}}}: give {}=VALUE", where, target, name,
                                 name.empty() ? "NAME" : name));
    }
    out.append(target, at, open - at);
    out += value->second;
    at = close + 1;
  }
  out.append(target, at, std::string::npos);
  return out;
}

struct Target
{
  std::string kind; // tag, pattern, layer, dep
  std::string text;
  protocol::ops::InvalidateRequest request;
};

protocol::ops::InvalidateRequest
tags_target(const std::string& tag)
{
  protocol::ops::InvalidateRequest request;
  request.tags = std::vector<std::string>{tag};
  return request;
}

protocol::ops::InvalidateRequest
pattern_target(const std::string& pattern)
{
  protocol::ops::InvalidateRequest request;
  request.pattern = pattern;
  return request;
}

protocol::ops::InvalidateRequest
layer_target(const std::string& layer)
{
  protocol::ops::InvalidateRequest request;
  request.layer = layer;
  return request;
}

protocol::ops::InvalidateRequest
dep_target(const std::string& dep)
{
  protocol::ops::InvalidateRequest request;
  request.deps = Json::array({dep});
  return request;
}

int
run_event(Globals& globals, const EventOptions& options)
{
  const auto& config = globals.config();
  const auto& rules = config.settings().rules;
  const auto rule = rules.find(options.name);
  if (rule == rules.end()) {
    std::string known;
    for (const auto& [name, ignored] : rules) {
      known += known.empty() ? name : ", " + name;
    }
    throw CliError(k_exit_usage,
                   fmt::format("no rule for event '{}' in {} ({})", options.name, config.file(),
                               known.empty() ? "it has no [rules] at all" : "it has: " + known));
  }
  const auto values = values_of(options.arguments);
  const std::string where = fmt::format("rules.{}", options.name);

  // Every placeholder is filled before anything is removed, so that a
  // missing value removes nothing.
  std::vector<Target> targets;
  for (const auto& tag : rule->second.tags) {
    const auto text = filled(tag, values, where + ".tags");
    targets.push_back({"tag", text, tags_target(text)});
  }
  for (const auto& pattern : rule->second.patterns) {
    const auto text = filled(pattern, values, where + ".patterns");
    targets.push_back({"pattern", text, pattern_target(text)});
  }
  for (const auto& layer : rule->second.layers) {
    targets.push_back({"layer", layer, layer_target(layer)});
  }
  for (const auto& dep : rule->second.deps) {
    const auto text = filled(dep, values, where + ".deps");
    targets.push_back({"dep", text, dep_target(text)});
  }

  auto client = Client::connect(globals);
  std::uint64_t total = 0;
  Json report = Json::array();
  output::Table table({"target", "removed"});
  for (const auto& target : targets) {
    const auto removed = client.call<protocol::ops::Invalidate>(target.request).removed;
    total += removed;
    report.push_back({{"kind", target.kind}, {"target", target.text}, {"removed", removed}});
    table.add({fmt::format("{} {}", target.kind, target.text), std::to_string(removed)});
  }
  if (globals.json) {
    output::print_json({{"event", options.name}, {"removed", total}, {"targets", std::move(report)}});
  } else if (!globals.quiet) {
    table.add({"total", std::to_string(total)});
    fmt::print("{}", table.render());
  }
  return k_exit_ok;
}

} // namespace

void
add_event(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<EventOptions>();
  auto* command = app.add_subcommand("event", "Apply the config's [rules.NAME]: remove what the event makes stale");
  command->add_option("name", options->name, "Event name, as in [rules.NAME]")->required();
  command->add_option("values", options->arguments, "NAME=VALUE for each {NAME} placeholder of the rule")
    ->type_name("NAME=VALUE");
  command->footer("A rule lists tags, key patterns, layers and dependencies; "
                  "each may hold {NAME}\n"
                  "placeholders. Every target is removed; each line shows how "
                  "many entries it took.\n"
                  "Example, with [rules.model_updated] tags = "
                  "[\"model:{model}\"] in the config:\n"
                  "  omnicache event model_updated model=gpt-4o");
  command->callback([&globals, options] { globals.exit_code = run_event(globals, *options); });
}

} // namespace omnicache::cli
