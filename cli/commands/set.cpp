#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <unistd.h>

namespace omnicache::cli {

namespace {

struct SetOptions
{
  std::string key;
  std::optional<std::string> value;
  std::string ttl;
  std::vector<std::string> tags;
  std::vector<std::string> deps;
  std::string layer;
};

int
run_set(Globals& globals, const SetOptions& options)
{
  const bool from_stdin = !options.value || *options.value == "-";
  if (from_stdin && isatty(STDIN_FILENO) && !globals.quiet) {
    fmt::print(stderr, "omnicache: reading the value of {} from standard input (end it with Ctrl-D)\n", options.key);
  }
  const std::string value = from_stdin ? read_stdin() : *options.value;
  protocol::Json fields{{"key", options.key}, {"tags", options.tags}};
  if (const auto ttl = ttl_ms(options.ttl)) {
    fields["ttl_ms"] = *ttl;
  }
  if (!options.layer.empty()) {
    fields["layer"] = options.layer;
  }
  if (!options.deps.empty()) {
    fields["deps"] = options.deps;
  }
  auto client = Client::connect(globals);
  const auto reply = client.call("set", std::move(fields), value);
  if (globals.json) {
    output::print_json({{"key", options.key},
                        {"stored", true},
                        {"replaced", reply.header.value("replaced", false)},
                        {"bytes", value.size()},
                        {"ttl_ms", reply.header.value("ttl_ms", protocol::Json(nullptr))}});
  } else if (globals.verbose) {
    const auto ttl = reply.header.value("ttl_ms", protocol::Json(nullptr));
    fmt::print(stderr, "stored {} ({} bytes, ttl {})\n", options.key, value.size(),
               ttl.is_number() ? protocol::format_duration_ms(ttl.get<std::int64_t>()) : "never");
  }
  return 0;
}

} // namespace

void
add_set(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<SetOptions>();
  auto* command = app.add_subcommand("set", "Store a value under a key (the value from stdin when omitted or -)");
  command->add_option("key", options->key, "Key")->required();
  command->add_option("value", options->value, "Value; - or nothing reads standard input");
  add_ttl_option(*command, options->ttl);
  add_tag_option(*command, options->tags, "Tag the entry (repeat for several); invalidate removes by tag");
  add_layer_option(*command, options->layer, "Layer of the entry (default kv)");
  add_dep_option(*command, options->deps);
  command->callback([&globals, options] { globals.exit_code = run_set(globals, *options); });
}

} // namespace omnicache::cli
