#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

namespace {

struct GetOptions
{
  std::string key;
  std::string layer;
  bool status = false;
};

int
run_get(Globals& globals, const GetOptions& options)
{
  protocol::ops::GetRequest request;
  request.key = options.key;
  if (!options.layer.empty()) {
    request.layer = options.layer;
  }
  auto client = Client::connect(globals);
  // Printed as it arrives, a large value is never held whole; --json needs
  // all of it to encode.
  const auto reply = globals.json ? client.call<protocol::ops::Get>(request)
                                  : client.call_head<protocol::ops::Get>(request);
  const bool found = reply.found;
  if (status_wanted(options.status)) {
    fmt::print(stderr, "{} {}\n", found ? hit_word(reply.tier) : "MISS", options.key);
  }
  if (globals.json) {
    protocol::Json out{{"key", options.key}, {"found", found}};
    if (found) {
      out["layer"] = reply.layer.value_or("");
      out["expires_ms"] = time_or_null(reply.expires_ms);
      output::put_value(out, reply.value);
    }
    output::print_json(out);
  } else if (found) {
    client.stream_value(output::print_bytes);
  }
  return found ? k_exit_ok : k_exit_miss;
}

} // namespace

void
add_get(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<GetOptions>();
  auto* command = app.add_subcommand("get", "Print a key's value exactly as stored; exit 1 on a miss");
  command->add_option("key", options->key, "Key")->required();
  add_layer_option(*command, options->layer, "Only an entry of this layer counts as a hit");
  command->add_flag("--status", options->status,
                    "Print HIT (HIT_L1 or HIT_L2 with a shared tier) or MISS and the key on stderr (also "
                    "OMNICACHE_STATUS=1)");
  command->callback([&globals, options] { globals.exit_code = run_get(globals, *options); });
}

} // namespace omnicache::cli
