#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace omnicache::cli {

namespace {

int
run_exists(Globals& globals, const std::string& key)
{
  auto client = Client::connect(globals);
  protocol::ops::ExistsRequest request;
  request.key = key;
  const bool found = client.call<protocol::ops::Exists>(request).found;
  if (globals.json) {
    output::print_json({{"key", key}, {"exists", found}});
  }
  return found ? k_exit_ok : k_exit_miss;
}

} // namespace

void
add_exists(CLI::App& app, Globals& globals)
{
  auto key = std::make_shared<std::string>();
  auto* command = app.add_subcommand("exists", "Exit 0 when the key holds a live entry, 1 when not");
  command->add_option("key", *key, "Key")->required();
  command->callback([&globals, key] { globals.exit_code = run_exists(globals, *key); });
}

} // namespace omnicache::cli
