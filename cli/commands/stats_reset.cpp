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
  client.call("stats_reset", {{"all_tenants", all_tenants}});
  // What stays is read after the reset, so that it is what the next stats shows.
  const auto after = client.call("stats", {{"all_tenants", all_tenants}});
  const auto entries = after.header["totals"].value("entries", std::int64_t{0});
  const std::string whose =
    all_tenants ? std::string("all tenants") : fmt::format("tenant {}", after.header.value("tenant", ""));
  if (globals.json) {
    output::print_json({{"reset", true}, {"tenant", after.header["tenant"]}, {"entries", entries}});
  } else if (!globals.quiet) {
    output::print_line(
      fmt::format("Statistics zeroed for {} and the daemon; {} {} kept.", whose, entries, entries == 1 ? "entry" : "entries"));
  }
}

} // namespace omnicache::cli
