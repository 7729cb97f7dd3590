#include "cli/client.hpp"
#include "cli/commands/command.hpp"

namespace omnicache::cli {

void
add_flush(CLI::App& app, Globals& globals)
{
  auto all = std::make_shared<bool>(false);
  auto* command = app.add_subcommand("flush", "Remove every entry of this tenant; print how many");
  command->add_flag("--all-tenants", *all, "Remove the entries of every tenant");
  command->callback([&globals, all] {
    auto client = Client::connect(globals);
    protocol::ops::FlushRequest request;
    request.all_tenants = *all;
    print_count(globals, "removed", client.call<protocol::ops::Flush>(request).removed);
  });
}

} // namespace omnicache::cli
