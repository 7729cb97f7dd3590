#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/commands/stats_watch.hpp"
#include "cli/output.hpp"
#include "protocol/counters.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>

namespace omnicache::cli {

namespace {

using protocol::Json;
using protocol::ServerFigure;

std::string
number(const Json& figures, const char* name)
{
  return std::to_string(figures.value(name, std::uint64_t{0}));
}

// The lookups of a layer, tenant or total: one of two tables, so that each
// fits 80 columns.
std::vector<std::string>
lookup_row(const std::string& label, const Json& f)
{
  const auto hits = f.value("hits", std::uint64_t{0});
  const auto misses = f.value("misses", std::uint64_t{0});
  return {label,
          number(f, "entries"),
          protocol::format_size(f.value("raw_bytes", std::uint64_t{0})),
          protocol::format_size(f.value("stored_bytes", std::uint64_t{0})),
          std::to_string(hits),
          std::to_string(misses),
          hits + misses == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * f.value("hit_rate", 0.0))};
}

// What came and went: writes and every way an entry leaves.
std::vector<std::string>
change_row(const std::string& label, const Json& f)
{
  return {label,           number(f, "sets"),      number(f, "deletes"),
          number(f, "expirations"), number(f, "evictions"), number(f, "invalidations")};
}

bool
all_zero(const Json& f)
{
  for (const auto& [name, value] : f.items()) {
    if (value.is_number() && value.get<double>() != 0) {
      return false;
    }
  }
  return true;
}

// Two tables of the same rows (layers, or tenants, then the total).
std::string
figure_tables(const std::string& first, const std::vector<std::pair<std::string, const Json*>>& rows)
{
  output::Table lookups({first, "entries", "raw", "stored", "hits", "misses", "hit rate"});
  output::Table changes({first, "sets", "deletes", "expired", "evicted", "invalidated"});
  for (const auto& [label, figures] : rows) {
    lookups.add(lookup_row(label, *figures));
    changes.add(change_row(label, *figures));
  }
  return lookups.render() + "\n" + changes.render();
}

// Operations the client library sends for itself, not the user: shown with -v.
bool
internal_op(std::string_view name)
{
  return name == "hello";
}

std::string
server_line(const Json& server)
{
  // Two lines: with a long uptime and large counts one would pass 80 columns.
  return fmt::format(
    "omnicached {}, pid {}, up {}\n{} ({} accepted), {}\n", server.value("version", "?"), server.value("pid", 0),
    protocol::format_duration_ms(std::max<std::int64_t>(1, server.value("uptime_s", std::int64_t{0})) * 1000),
    output::counted(counter(server, protocol::info_of(ServerFigure::connections).name), "connection"),
    counter(server, protocol::info_of(ServerFigure::connections_total).name),
    output::counted(counter(server, protocol::info_of(ServerFigure::requests).name), "request"));
}

std::string
models_text(const Json& models)
{
  // The provider's own prompt caching, seen by the proxy: a table only when
  // there is some.
  bool provider = false;
  output::Table saved({"model", "hits", "prompt tokens", "completion tokens", "cost saved"});
  output::Table cached({"model", "provider cached", "provider written", "provider saved"});
  for (const auto& [name, figures] : models.items()) {
    provider = provider || figures.value("provider_cached_tokens", std::uint64_t{0}) != 0
               || figures.value("provider_cache_write_tokens", std::uint64_t{0}) != 0;
    saved.add({name, number(figures, "hits"), number(figures, "prompt_tokens_saved"),
               number(figures, "completion_tokens_saved"),
               fmt::format("${:.4f}", figures.value("cost_saved_usd", 0.0))});
    cached.add({name, number(figures, "provider_cached_tokens"), number(figures, "provider_cache_write_tokens"),
                fmt::format("${:.4f}", figures.value("provider_cost_saved_usd", 0.0))});
  }
  return "\n" + saved.render() + (provider ? "\n" + cached.render() : std::string());
}

// The tier table's counters, in the two tables its rows name.
std::string
tier_text(const Json& tier)
{
  std::string out = fmt::format("\nshared tier {} ({})\n", tier.value("url", ""),
                                tier.value("connected", false) ? "connected" : "disconnected: serving from the local tier");
  for (const auto shown : {protocol::TierTable::lookups, protocol::TierTable::copies}) {
    std::vector<std::string> columns;
    std::vector<std::string> row;
    for (const auto& info : protocol::k_tier_counters) {
      if (info.table == shown) {
        columns.emplace_back(info.column);
        row.push_back(std::to_string(counter(tier, info.name)));
      }
    }
    output::Table table(std::move(columns));
    table.add(std::move(row));
    out += table.render();
  }
  return out;
}

std::string
operations_text(const Json& operations, bool verbose)
{
  output::Table table({"operation", "count", "p50", "p99"});
  bool any = false;
  for (const auto& [name, figures] : operations.items()) {
    if (internal_op(name) && !verbose) {
      continue;
    }
    table.add({name, std::to_string(figures.value("count", std::uint64_t{0})),
               output::format_micros(figures.value("p50_us", 0.0)),
               output::format_micros(figures.value("p99_us", 0.0))});
    any = true;
  }
  return any ? "\n" + table.render() : std::string();
}

std::string
render(const Json& stats, bool verbose)
{
  std::string out = server_line(stats["server"]);
  out += fmt::format("database {}\n", stats["server"].value("database", ""));
  const bool all = stats["tenant"].is_null();
  out += all ? std::string("all tenants\n\n") : fmt::format("tenant {}\n\n", stats["tenant"].get<std::string>());

  std::vector<std::pair<std::string, const Json*>> layers;
  for (const auto& [name, figures] : stats["layers"].items()) {
    if (!all_zero(figures)) {
      layers.emplace_back(name, &figures);
    }
  }
  layers.emplace_back("total", &stats["totals"]);
  out += figure_tables("layer", layers);

  if (all && stats.contains("tenants")) {
    std::vector<std::pair<std::string, const Json*>> tenants;
    for (const auto& [name, figures] : stats["tenants"].items()) {
      tenants.emplace_back(name, &figures);
    }
    out += "\n" + figure_tables("tenant", tenants);
  }
  if (stats.contains("models") && !stats["models"].empty()) {
    out += models_text(stats["models"]);
  }
  if (const auto tier = stats.value("tier", Json::object()); tier.value("enabled", false)) {
    out += tier_text(tier);
  }
  if (!stats["operations"].empty()) {
    out += operations_text(stats["operations"], verbose);
  }
  return out;
}

std::string
rate_text(const Json& rate)
{
  return rate.is_number() ? fmt::format("{:.1f}", rate.get<double>()) : "-";
}

std::string
percent_text(const Json& rate)
{
  return rate.is_number() ? fmt::format("{:.1f}%", 100.0 * rate.get<double>()) : "-";
}

// "1.5KiB": one word, so that the columns of a plain line split on blanks.
std::string
size_text(std::uint64_t bytes)
{
  auto text = protocol::format_size(bytes);
  std::erase(text, ' ');
  return text;
}

std::string
clock_text(std::int64_t wall_ms)
{
  const std::time_t seconds = static_cast<std::time_t>(wall_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

constexpr const char* k_line_format = "{:>8} {:>9} {:>9} {:>9} {:>9} {:>6} {:>7} {:>9} {:>9} {:>9} {:>10} {:>5}";

// The layers that hold or did anything. Rates are null for the first sample
// (no interval, seconds 0).
std::string
layer_table(const Readings& r)
{
  output::Table table({"layer", "entries", "raw", "stored", "hits/s", "misses/s", "hit rate"});
  bool any = false;
  for (const auto& [name, figures] : r.now["layers"].items()) {
    if (all_zero(figures)) {
      continue;
    }
    const Json was = r.before != nullptr ? (*r.before)["layers"].value(name, Json::object()) : Json::object();
    table.add({name, std::to_string(counter(figures, "entries")), size_text(counter(figures, "raw_bytes")),
               size_text(counter(figures, "stored_bytes")),
               rate_text(per_second(counter(figures, "hits"), counter(was, "hits"), r.seconds)),
               rate_text(per_second(counter(figures, "misses"), counter(was, "misses"), r.seconds)),
               percent_text(r.before != nullptr ? interval_hit_rate(figures, was) : Json())});
    any = true;
  }
  return any ? table.render() : std::string();
}

// A screen line: two labelled figures side by side.
std::string
two_figures(std::string_view label, const std::string& value, std::string_view label2, const std::string& value2)
{
  return fmt::format("{:<12}{:>12}    {:<12}{:>14}", label, value, label2, value2);
}

constexpr const char* k_stats_footer = R"(Examples:
  omnicache stats --json | jq .totals.hit_rate
  omnicache stats --watch                   # a live view, until Ctrl-C
  omnicache stats --watch -i 5s -n 12 > stats.log
  omnicache stats --watch --json | jq -c '{ops_per_s, hit_rate}'

With --watch, rates are over the last interval (the watch's own requests left
out); on a terminal the screen is redrawn in place and the last one stays when
the watch ends (Ctrl-C), otherwise a line (or with --json a JSON object) is
printed per sample.
Durations are shown in us, ms or s, sizes in B, KiB, MiB; the client's own
handshake (hello) is listed among the operations with -v.)";

// The flags as given, checked by CLI11 before the command runs.
struct WatchFlags
{
  bool watch = false;
  std::string interval = "1s";
  std::string count;
};

std::string
check_interval(std::string& text)
{
  const auto ms = protocol::parse_duration_ms(text);
  return ms && *ms > 0 ? std::string()
                       : fmt::format("invalid interval '{}' (use e.g. 500ms, 2s, 1m; more than 0)", text);
}

std::optional<std::uint64_t>
parse_count(const std::string& text)
{
  std::uint64_t n = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (error != std::errc() || end != text.data() + text.size() || n == 0) {
    return std::nullopt;
  }
  return n;
}

std::string
check_count(std::string& text)
{
  return parse_count(text) ? std::string()
                           : fmt::format("invalid count '{}' (a whole number of samples, 1 or more)", text);
}

void
add_watch_options(CLI::App& command, WatchFlags& flags)
{
  auto* watch = command.add_flag("-w,--watch", flags.watch,
                                 "Sample the figures every interval and show rates, until Ctrl-C");
  command.add_option("-i,--interval", flags.interval, "Time between samples with --watch: 500ms, 2s, 1m (default 1s)")
    ->type_name("DURATION")
    ->needs(watch)
    ->check(CLI::Validator(check_interval, ""));
  command.add_option("-n,--count", flags.count, "Stop after N samples with --watch (default: until Ctrl-C)")
    ->type_name("N")
    ->needs(watch)
    ->check(CLI::Validator(check_count, ""));
}

WatchOptions
watch_options(const WatchFlags& flags, bool all_tenants)
{
  WatchOptions options;
  options.all_tenants = all_tenants;
  options.interval_ms = *protocol::parse_duration_ms(flags.interval);
  if (!flags.count.empty()) {
    options.count = parse_count(flags.count);
  }
  return options;
}

} // namespace

std::string
watch_header()
{
  return fmt::format(k_line_format, "time", "ops/s", "hits/s", "misses/s", "sets/s", "hit%", "overall", "entries", "raw",
                     "stored", "saved", "conns");
}

std::string
watch_line(const Json& s)
{
  return fmt::format(k_line_format, clock_text(s["time_ms"].get<std::int64_t>()), rate_text(s["ops_per_s"]),
                     rate_text(s["hits_per_s"]), rate_text(s["misses_per_s"]), rate_text(s["sets_per_s"]),
                     percent_text(s["hit_rate"]),
                     percent_text(s["hit_rate_overall"]), s["entries"].get<std::uint64_t>(),
                     size_text(s["raw_bytes"].get<std::uint64_t>()),
                     size_text(s["stored_bytes"].get<std::uint64_t>()),
                     fmt::format("${:.4f}", s["cost_saved_usd"].get<double>()), s["connections"].get<std::uint64_t>());
}

std::vector<std::string>
watch_screen(const Json& s, const Readings& r, std::int64_t interval_ms)
{
  const auto tenant = s["tenant"].is_null() ? std::string("all tenants") : "tenant " + s["tenant"].get<std::string>();
  const auto uptime =
    protocol::format_duration_ms(std::max<std::int64_t>(1, s["uptime_s"].get<std::int64_t>()) * 1000);
  std::vector<std::string> lines{
    fmt::format("omnicached {}  pid {}  up {}  {}", s["version"].get<std::string>(), s["pid"].get<int>(), uptime,
                tenant),
    fmt::format("every {}  {}  (Ctrl-C to quit)", protocol::format_duration_ms(interval_ms),
                output::format_time(s["time_ms"].get<std::int64_t>())),
    "",
    two_figures("ops/s", rate_text(s["ops_per_s"]), "requests", std::to_string(counter(s, "requests"))),
    two_figures("hits/s", rate_text(s["hits_per_s"]), "hits", std::to_string(counter(s, "hits"))),
    two_figures("misses/s", rate_text(s["misses_per_s"]), "misses", std::to_string(counter(s, "misses"))),
    two_figures("sets/s", rate_text(s["sets_per_s"]), "sets", std::to_string(counter(s, "sets"))),
    two_figures("hit rate", percent_text(s["hit_rate"]), "overall", percent_text(s["hit_rate_overall"])),
    two_figures("entries", std::to_string(counter(s, "entries")), "connections",
                std::to_string(counter(s, "connections"))),
    two_figures("raw", size_text(counter(s, "raw_bytes")), "stored", size_text(counter(s, "stored_bytes"))),
    fmt::format("{:<12}{:>12}", "cost saved", fmt::format("${:.4f}", s["cost_saved_usd"].get<double>())),
  };
  // The layers when they fit whole; the last row stays free, since a line
  // ending on it would scroll the screen.
  const auto table = layer_table(r);
  const auto rows = static_cast<std::size_t>(output::terminal_size().rows);
  if (!table.empty() && lines.size() + 1 + std::ranges::count(table, '\n') < rows) {
    lines.emplace_back();
    for (std::size_t start = 0; start < table.size();) {
      const auto end = table.find('\n', start);
      lines.push_back(table.substr(start, end - start));
      start = end + 1;
    }
  }
  return lines;
}

void
add_stats(CLI::App& app, Globals& globals)
{
  auto all = std::make_shared<bool>(false);
  auto* command = app.add_subcommand("stats", "Live counters: entries, bytes, hits, misses and latency per layer; tokens and cost saved per model");
  auto watch = std::make_shared<WatchFlags>();
  auto reset = std::make_shared<bool>(false);
  command->add_flag("--all-tenants", *all, "Figures of every tenant, with a row per tenant");
  add_stats_reset_option(*command, *reset);
  add_watch_options(*command, *watch);
  command->footer(k_stats_footer);
  command->callback([&globals, all, watch, reset] {
    if (*reset) {
      reset_stats(globals, *all);
      return;
    }
    if (watch->watch) {
      watch_stats(globals, watch_options(*watch, *all));
      return;
    }
    auto client = Client::connect(globals);
    protocol::ops::StatsRequest request;
    request.all_tenants = *all;
    // The reply as the daemon sent it, less the envelope.
    const auto stats = protocol::ops::to_reply_header(client.call<protocol::ops::Stats>(request));
    if (globals.json) {
      output::print_json(stats);
    } else {
      fmt::print("{}", render(stats, globals.verbose));
    }
  });
}

} // namespace omnicache::cli
