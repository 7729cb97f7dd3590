// stats --reset (-z, as ccache): zeroes the counters, keeps the entries.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

void
add_stats_reset_option(CLI::App& stats, bool& reset)
{
  stats.add_flag("-z,--reset", reset,
                 "Zero the counters (hits, misses, sets, removals, savings per model; requests, errors and "
                 "latencies of the daemon); entries and sizes stay");
}

void
reset_stats(Globals& globals, bool all_tenants)
{
  auto client = Client::connect(globals);
  protocol::ops::StatsRequest request;
  request.all_tenants = all_tenants;
  client.call<protocol::ops::StatsReset>(request);
  // What stays is read after the reset, so that it is what the next stats shows.
  const auto after = client.call<protocol::ops::Stats>(request);
  const auto entries = after.totals.value("entries", std::int64_t{0});
  const auto tenant = after.tenant.value_or(std::nullopt);
  const std::string whose = all_tenants ? std::string("all tenants") : fmt::format("tenant {}", tenant.value_or(""));
  if (globals.json) {
    output::print_json(
      {{"reset", true}, {"tenant", tenant ? protocol::Json(*tenant) : protocol::Json(nullptr)}, {"entries", entries}});
  } else if (!globals.quiet) {
    output::print_line(
      fmt::format("Statistics zeroed for {} and the daemon; {} {} kept.", whose, entries, entries == 1 ? "entry" : "entries"));
  }
}

} // namespace omnicache::cli
