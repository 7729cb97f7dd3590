#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

namespace {

using protocol::Json;

// What made the entry, as its writer recorded it: the command line of a run,
// the model and prompt of a response (the question it was stored under).
std::vector<std::pair<std::string, std::string>>
describe_origin(const Json& entry)
{
  std::vector<std::pair<std::string, std::string>> out;
  const Json& meta = entry["meta"];
  const auto member = [&meta](const char* name) -> std::string {
    const auto it = meta.is_object() ? meta.find(name) : meta.end();
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string layer = entry.value("layer", "");
  if (layer == "run") {
    if (const auto argv = meta.is_object() ? meta.find("argv") : meta.end(); argv != meta.end() && argv->is_array()) {
      out.emplace_back("command:", output::command_line(*argv));
    } else if (const auto command = member("command"); !command.empty()) {
      out.emplace_back("command:", output::shell_word(command));
    }
  }
  if (const auto model = member("model"); !model.empty()) {
    out.emplace_back("model:", model);
  }
  if (const auto prompt = member("prompt"); !prompt.empty()) {
    out.emplace_back("prompt:", prompt);
  } else if (const auto question = entry.value("question", ""); !question.empty()) {
    out.emplace_back(layer == "response" ? "prompt:" : "question:", question);
  }
  return out;
}

std::string
describe(const Json& entry, std::int64_t now)
{
  const auto raw = entry.value("raw_size", std::uint64_t{0});
  const auto stored = entry.value("stored_size", std::uint64_t{0});
  const auto created = entry.value("created_ms", std::int64_t{0});
  const auto access = entry.value("access_ms", std::int64_t{0});
  const auto& expires = entry["expires_ms"];
  std::string tags;
  for (const auto& tag : entry.value("tags", Json::array())) {
    tags += tags.empty() ? "" : ", ";
    tags += tag.get<std::string>();
  }
  std::string out;
  auto line = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<12} {}\n", label, value);
  };
  line("key:", output::printable_key(entry.value("key", "")));
  line("tenant:", entry.value("tenant", ""));
  line("layer:", entry.value("layer", ""));
  line("size:", fmt::format("{} raw, {} stored{}", protocol::format_size(raw), protocol::format_size(stored),
                            entry.value("compressed", false) ? " (zstd)" : ""));
  line("created:", fmt::format("{} ({})", output::format_time(created), output::format_relative(created, now)));
  if (expires.is_number()) {
    const auto at = expires.get<std::int64_t>();
    line("expires:", fmt::format("{} ({})", output::format_time(at), output::format_relative(at, now)));
  } else {
    line("expires:", "never");
  }
  line("hits:", std::to_string(entry.value("hits", std::uint64_t{0})));
  line("last access:", fmt::format("{} ({})", output::format_time(access), output::format_relative(access, now)));
  line("tags:", tags.empty() ? "(none)" : tags);
  std::string deps;
  for (const auto& dep : entry.value("deps", Json::array())) {
    deps += deps.empty() ? "" : ", ";
    deps += dep.value("name", "");
    if (const auto version = dep.value("version", ""); !version.empty()) {
      deps += "@" + version;
    }
  }
  if (!deps.empty()) {
    line("depends on:", deps);
  }
  for (const auto& [label, value] : describe_origin(entry)) {
    line(label, value);
  }
  if (const auto& meta = entry["meta"]; meta.is_object()) {
    line("meta:", meta.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return out;
}

int
run_inspect(Globals& globals, const std::string& key)
{
  auto client = Client::connect(globals);
  protocol::ops::InspectRequest request;
  request.key = key;
  const auto reply = client.call<protocol::ops::Inspect>(request);
  const bool found = reply.found;
  const Json entry = reply.entry.value_or(Json(nullptr));
  if (globals.json) {
    output::print_json(found ? Json{{"key", key}, {"found", true}, {"entry", entry}}
                             : Json{{"key", key}, {"found", false}});
  } else if (found) {
    fmt::print("{}", describe(entry, output::now_ms()));
  } else {
    // Unlike get, whose silent miss scripts test by exit code, inspect is
    // read by a person, who should not be left with no output at all.
    std::fflush(stdout);
    fmt::print(stderr, "not found: {}\n", output::printable_key(key));
  }
  return found ? k_exit_ok : k_exit_miss;
}

} // namespace

void
add_inspect(CLI::App& app, Globals& globals)
{
  auto key = std::make_shared<std::string>();
  auto* command = app.add_subcommand("inspect", "Show an entry's layer, sizes, times, hits, tags, dependencies and what made it; exit 1 if absent");
  command->add_option("key", *key, "Key")->required();
  command->footer("A missing key prints \"not found: KEY\" on stderr and exits 1 (with --json, {\"found\": false}).\n"
                  "Examples:\n"
                  "  omnicache inspect greeting\n"
                  "  omnicache inspect greeting --json | jq .entry.ttl_ms");
  command->callback([&globals, key] { globals.exit_code = run_inspect(globals, *key); });
}

} // namespace omnicache::cli
