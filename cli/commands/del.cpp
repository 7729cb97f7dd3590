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
    const auto reply = client.call("del", {{"keys", *keys}});
    print_count(globals, "removed", reply.header.value("removed", std::uint64_t{0}));
  });
}

} // namespace omnicache::cli
