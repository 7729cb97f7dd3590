#include "cli/client.hpp"
#include "cli/commands/command.hpp"

namespace omnicache::cli {

void
add_del(CLI::App& app, Globals& globals)
{
  auto keys = std::make_shared<std::vector<std::string>>();
  auto* command = app.add_subcommand("del", "Remove keys; print how many were removed");
  command->add_option("keys", *keys, "Keys")->required();
  command->callback([&globals, keys] {
    auto client = Client::connect(globals);
    protocol::ops::DelRequest request;
    request.keys = *keys;
    print_count(globals, "removed", client.call<protocol::ops::Del>(request).removed);
  });
}

} // namespace omnicache::cli
