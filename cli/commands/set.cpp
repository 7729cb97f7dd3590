#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
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
  bool only_missing = false; // --nx
  bool only_present = false; // --xx
};

// Why a conditional set wrote nothing, on stderr.
void
print_not_stored(const Globals& globals, const SetOptions& options)
{
  if (!globals.quiet) {
    fmt::print(stderr, "not stored: {} {}\n", output::printable_key(options.key),
               options.only_missing ? "already exists (--nx)" : "does not exist (--xx)");
  }
}

int
run_set(Globals& globals, const SetOptions& options)
{
  const bool from_stdin = !options.value || *options.value == "-";
  if (from_stdin && isatty(STDIN_FILENO) && !globals.quiet) {
    fmt::print(stderr, "omnicache: reading the value of {} from standard input (end it with Ctrl-D)\n", options.key);
  }
  const std::string value = from_stdin ? read_stdin() : *options.value;
  protocol::ops::SetRequest request;
  request.key = options.key;
  request.tags = options.tags;
  request.ttl_ms = ttl_ms(options.ttl);
  if (!options.layer.empty()) {
    request.layer = options.layer;
  }
  if (!options.deps.empty()) {
    request.deps = options.deps;
  }
  request.only_missing = options.only_missing;
  request.only_present = options.only_present;
  request.value.bytes = value;
  auto client = Client::connect(globals);
  const auto reply = client.call<protocol::ops::Set>(request);
  // Only a conditional set can write nothing; a daemon that predates
  // only_missing / only_present does not send stored at all.
  const bool stored = reply.stored || !(options.only_missing || options.only_present);
  if (!stored) {
    if (globals.json) {
      output::print_json({{"key", options.key}, {"stored", false}, {"replaced", false}});
    } else {
      print_not_stored(globals, options);
    }
    return k_exit_miss;
  }
  if (globals.json) {
    output::print_json({{"key", options.key},
                        {"stored", true},
                        {"replaced", reply.replaced},
                        {"bytes", value.size()},
                        {"ttl_ms", time_or_null(reply.ttl_ms)}});
  } else if (globals.verbose) {
    const auto ttl = time_or_null(reply.ttl_ms);
    fmt::print(stderr, "stored {} ({} bytes, ttl {})\n", options.key, value.size(),
               ttl.is_number() ? protocol::format_duration_ms(ttl.get<std::int64_t>()) : "never");
  }
  return k_exit_ok;
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
  auto* nx = command->add_flag("--nx", options->only_missing,
                               "Store only if the key holds no live entry; exit 1 (\"not stored\") if it does");
  command->add_flag("--xx", options->only_present,
                    "Store only if the key holds a live entry; exit 1 (\"not stored\") if it does not")
    ->excludes(nx);
  command->footer("--nx and --xx are checked by the daemon as it writes: of several clients racing to set a\n"
                  "missing key with --nx, exactly one stores it.\n"
                  "Examples:\n"
                  "  omnicache set greeting hello --ttl 10m\n"
                  "  omnicache set lock:build \"$$\" --nx --ttl 5m || echo 'someone else holds it'");
  command->callback([&globals, options] { globals.exit_code = run_set(globals, *options); });
}

} // namespace omnicache::cli
