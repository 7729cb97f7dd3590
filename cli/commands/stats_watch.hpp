#pragma once

#include "cli/globals.hpp"
#include "protocol/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// `omnicache stats --watch`: the daemon's stats sampled every interval, shown
// as rates over the last interval beside the totals.
namespace omnicache::cli {

struct WatchOptions
{
  bool all_tenants = false;
  std::int64_t interval_ms = 1000;
  std::optional<std::uint64_t> count; // samples to take; none: until SIGINT or SIGTERM
};

// On a terminal, redraws a screen each interval; otherwise prints a header and
// a line per sample, or with --json a JSON object per line. Returns on SIGINT,
// SIGTERM or after `count` samples; throws CliError(k_exit_unreachable) when
// the daemon goes away and does not come back within a moment.
void watch_stats(Globals& globals, const WatchOptions& options);

// Two `stats` replies, `seconds` apart, with the requests the watch itself
// sent in between. `before` is null for the first sample and after the daemon
// restarted: no rates then.
struct Readings
{
  const protocol::Json& now;
  const protocol::Json* before;
  double seconds;
  std::uint64_t own;
};

// A member of a figures object, 0 when absent.
std::uint64_t counter(const protocol::Json& figures, std::string_view name);
// A counter's rate over the interval, less `own` (what the watch itself
// added); null when there is no interval or the counter went back.
protocol::Json per_second(std::uint64_t now, std::uint64_t before, double seconds, std::uint64_t own = 0);
// hits / (hits + misses) over the interval; null without a lookup in it.
protocol::Json interval_hit_rate(const protocol::Json& now, const protocol::Json& before);

// The text forms of a sample (in stats.cpp, beside the command's other
// output): a header, then one line per sample, each field one word; or the
// lines of a screen, the layers among them when they fit the terminal.
std::string watch_header();
std::string watch_line(const protocol::Json& sample);
std::vector<std::string> watch_screen(const protocol::Json& sample, const Readings& readings,
                                      std::int64_t interval_ms);

} // namespace omnicache::cli
