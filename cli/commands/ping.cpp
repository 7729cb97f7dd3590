#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

#include <chrono>

namespace omnicache::cli {

void
add_ping(CLI::App& app, Globals& globals)
{
  auto* command = app.add_subcommand("ping", "Check the daemon answers; print the round trip and its version");
  command->callback([&globals] {
    auto client = Client::connect(globals);
    client.call<protocol::ops::Ping>({}); // connects and greets
    const auto start = std::chrono::steady_clock::now();
    client.call<protocol::ops::Ping>({});
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto& server = client.server();
    const std::string version = server.value("server_version", "?");
    const int protocol_version = server.value("version", 0);
    if (globals.json) {
      output::print_json({{"server_version", version}, {"protocol", protocol_version}, {"round_trip_ms", ms},
                          {"pid", server.value("pid", 0)}});
    } else if (!globals.quiet) {
      output::print_line(fmt::format("PONG from omnicached {} (protocol {}) in {:.3f} ms", version, protocol_version, ms));
    }
  });
}

} // namespace omnicache::cli
