#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

namespace {

using protocol::Json;

std::string
number(const Json& figures, const char* name)
{
  return std::to_string(figures.value(name, std::uint64_t{0}));
}

std::vector<std::string>
figure_row(const std::string& label, const Json& f)
{
  const auto hits = f.value("hits", std::uint64_t{0});
  const auto misses = f.value("misses", std::uint64_t{0});
  return {label,
          number(f, "entries"),
          protocol::format_size(f.value("raw_bytes", std::uint64_t{0})),
          protocol::format_size(f.value("stored_bytes", std::uint64_t{0})),
          std::to_string(hits),
          std::to_string(misses),
          hits + misses == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * f.value("hit_rate", 0.0)),
          number(f, "sets"),
          number(f, "deletes"),
          number(f, "expirations"),
          number(f, "evictions"),
          number(f, "invalidations")};
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

output::Table
figure_table(const std::string& first)
{
  return output::Table({first, "entries", "raw", "stored", "hits", "misses", "hit rate", "sets", "deletes", "expired",
                        "evicted", "invalidated"});
}

std::string
render(const Json& stats)
{
  const auto& server = stats["server"];
  std::string out = fmt::format(
    "omnicached {}, pid {}, up {}, {} connections ({} accepted), {} requests\n",
    server.value("version", "?"), server.value("pid", 0),
    protocol::format_duration_ms(std::max<std::int64_t>(1, server.value("uptime_s", std::int64_t{0})) * 1000),
    server.value("connections", 0), server.value("connections_total", 0), server.value("requests", 0));
  out += fmt::format("database {}\n", server.value("database", ""));
  const bool all = stats["tenant"].is_null();
  out += all ? std::string("all tenants\n\n") : fmt::format("tenant {}\n\n", stats["tenant"].get<std::string>());

  auto layers = figure_table("layer");
  for (const auto& [name, figures] : stats["layers"].items()) {
    if (!all_zero(figures)) {
      layers.add(figure_row(name, figures));
    }
  }
  layers.add(figure_row("total", stats["totals"]));
  out += layers.render();

  if (all && stats.contains("tenants")) {
    auto tenants = figure_table("tenant");
    for (const auto& [name, figures] : stats["tenants"].items()) {
      tenants.add(figure_row(name, figures));
    }
    out += "\n" + tenants.render();
  }

  if (stats.contains("models") && !stats["models"].empty()) {
    // The provider's own prompt caching, seen by the proxy: columns only when
    // there is some.
    bool provider = false;
    for (const auto& [name, figures] : stats["models"].items()) {
      provider = provider || figures.value("provider_cached_tokens", std::uint64_t{0}) != 0
                 || figures.value("provider_cache_write_tokens", std::uint64_t{0}) != 0;
    }
    std::vector<std::string> columns{"model", "hits", "prompt tokens", "completion tokens", "cost saved"};
    if (provider) {
      columns.insert(columns.end(), {"provider cached", "provider written", "provider saved"});
    }
    output::Table models(columns);
    for (const auto& [name, figures] : stats["models"].items()) {
      std::vector<std::string> row{name, number(figures, "hits"), number(figures, "prompt_tokens_saved"),
                                   number(figures, "completion_tokens_saved"),
                                   fmt::format("${:.4f}", figures.value("cost_saved_usd", 0.0))};
      if (provider) {
        row.insert(row.end(),
                   {number(figures, "provider_cached_tokens"), number(figures, "provider_cache_write_tokens"),
                    fmt::format("${:.4f}", figures.value("provider_cost_saved_usd", 0.0))});
      }
      models.add(row);
    }
    out += "\n" + models.render();
  }

  if (const auto tier = stats.value("tier", Json::object()); tier.value("enabled", false)) {
    out += fmt::format("\nshared tier {} ({})\n", tier.value("url", ""),
                       tier.value("connected", false) ? "connected" : "disconnected: serving from the local tier");
    output::Table figures({"local hits", "shared hits", "shared misses", "errors", "mirrored", "queued", "dropped",
                           "outages", "invalidations sent", "applied", "resyncs"});
    figures.add({number(tier, "l1_hits"), number(tier, "l2_hits"), number(tier, "l2_misses"), number(tier, "l2_errors"),
                 number(tier, "mirrored"), number(tier, "queued"), number(tier, "dropped"), number(tier, "outages"),
                 number(tier, "invalidations_sent"), number(tier, "invalidations_applied"), number(tier, "resyncs")});
    out += figures.render();
  }

  if (!stats["operations"].empty()) {
    output::Table operations({"operation", "count", "p50", "p99"});
    for (const auto& [name, figures] : stats["operations"].items()) {
      operations.add({name, std::to_string(figures.value("count", std::uint64_t{0})),
                      fmt::format("{:.0f} us", figures.value("p50_us", 0.0)),
                      fmt::format("{:.0f} us", figures.value("p99_us", 0.0))});
    }
    out += "\n" + operations.render();
  }
  return out;
}

} // namespace

void
add_stats(CLI::App& app, Globals& globals)
{
  auto all = std::make_shared<bool>(false);
  auto* command = app.add_subcommand("stats", "Live counters: entries, bytes, hits, misses and latency per layer; tokens and cost saved per model");
  command->add_flag("--all-tenants", *all, "Figures of every tenant, with a row per tenant");
  command->callback([&globals, all] {
    auto client = Client::connect(globals);
    auto reply = client.call("stats", {{"all_tenants", *all}});
    reply.header.erase("id");
    reply.header.erase("ok");
    if (globals.json) {
      output::print_json(reply.header);
    } else {
      fmt::print("{}", render(reply.header));
    }
  });
}

} // namespace omnicache::cli
