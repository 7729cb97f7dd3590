#include "daemon/handlers/typed.hpp"

#include "omnicache_version.hpp"
#include "protocol/layers.hpp"

#include <unistd.h>

namespace omnicache::daemon {

using protocol::Json;

namespace {

void
add(store::ScopeStats& sum, const store::ScopeStats& part)
{
  for (std::size_t i = 0; i < store::k_counter_count; ++i) {
    sum.counters[i] += part.counters[i];
  }
  sum.gauges += part.gauges;
}

Json
figures(const store::ScopeStats& stats)
{
  Json out = {
    {"entries", stats.gauges.entries},
    {"raw_bytes", stats.gauges.raw_bytes},
    {"stored_bytes", stats.gauges.stored_bytes},
    {"key_bytes", stats.gauges.key_bytes},
  };
  for (const auto& info : store::k_counter_info) {
    out[std::string(info.name)] = stats.counters[static_cast<std::size_t>(info.id)];
  }
  const auto hits = stats.counters[static_cast<std::size_t>(store::Counter::hits)];
  const auto misses = stats.counters[static_cast<std::size_t>(store::Counter::misses)];
  out["hit_rate"] = hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
  return out;
}

// The server table's figures, then what describes the daemon.
Json
server_figures(const Context& context)
{
  const auto& m = context.shared.metrics;
  const auto& info = context.shared.info;
  const auto uptime = std::chrono::steady_clock::now() - info.started;
  Json out = {
    {"version", k_version},
    {"pid", getpid()},
    {"started_ms", info.started_ms},
    {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(uptime).count()},
    {"socket", info.socket},
    {"database", info.database},
    {"semantic_index", m.semantic_index_loaded.load() ? "loaded" : "rebuilt"},
    {"semantic_embedder", context.shared.embedder.version()},
  };
  const auto values = server_values(context.shared);
  for (const auto& figure : protocol::k_server_figures) {
    const auto value = values[static_cast<std::size_t>(figure.id)];
    out[std::string(figure.name)] = figure.unit == protocol::FigureUnit::flag ? Json(value != 0) : Json(value);
  }
  return out;
}

// What hits, and the providers' own prompt caches, saved per model, for one
// tenant or all.
Json
model_figures(const Context& context, const std::string& tenant, bool all)
{
  std::map<std::string, store::ModelValues> models;
  for (const auto& [scope, values] : context.shared.store.stats().model_snapshot()) {
    if (!all && scope.first != tenant) {
      continue;
    }
    auto& sum = models[scope.second];
    for (std::size_t i = 0; i < store::k_model_counter_count; ++i) {
      sum[i] += values[i];
    }
  }
  Json out = Json::object();
  for (const auto& [model, values] : models) {
    Json figures = Json::object();
    for (const auto& info : store::k_model_counter_info) {
      figures[std::string(info.name)] = values[static_cast<std::size_t>(info.id)];
    }
    const auto value = [&values](store::ModelCounter counter) { return values[static_cast<std::size_t>(counter)]; };
    figures["tokens_saved"] = value(store::ModelCounter::prompt_tokens) + value(store::ModelCounter::completion_tokens);
    figures["cost_saved_usd"] = static_cast<double>(value(store::ModelCounter::cost_nanousd)) / 1e9;
    figures["provider_cost_saved_usd"] = static_cast<double>(value(store::ModelCounter::provider_cost_nanousd)) / 1e9;
    out[model] = std::move(figures);
  }
  return out;
}

Json
operation_figures(const Context& context)
{
  Json out = Json::object();
  for (const auto& op : op_table()) {
    const auto& histogram = context.shared.metrics.latency(op_index(op));
    const auto count = histogram.count();
    if (count == 0) {
      continue;
    }
    auto micros = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
    out[std::string(op.name)] = {
      {"count", count},
      {"p50_us", micros(histogram.quantile(0.50))},
      {"p99_us", micros(histogram.quantile(0.99))},
    };
  }
  return out;
}

// The shared tier's figures are the daemon's, whatever the tenant asked.
Json
tier_figures(const Context& context)
{
  const auto* replication = context.shared.replication;
  return replication == nullptr ? Json{{"enabled", false}} : replication->figures();
}

} // namespace

protocol::ops::StatsReply
handle_stats(Context& context, const protocol::ops::StatsRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const bool all = request.all_tenants;

  store::ScopeStats total;
  std::map<std::string, store::ScopeStats> layers;
  std::map<std::string, store::ScopeStats> tenants;
  for (auto name : protocol::k_layer_names) {
    layers[std::string(name)];
  }
  for (const auto& [scope, stats] : context.shared.store.stats().snapshot()) {
    if (!all && scope.first != tenant) {
      continue;
    }
    add(total, stats);
    add(layers[scope.second], stats);
    add(tenants[scope.first], stats);
  }

  protocol::ops::StatsReply reply;
  reply.tenant = all ? std::nullopt : std::optional<std::string>(tenant);
  reply.server = server_figures(context);
  reply.totals = figures(total);
  reply.models = model_figures(context, tenant, all);
  reply.operations = operation_figures(context);
  reply.tier = tier_figures(context);
  for (const auto& [name, stats] : layers) {
    reply.layers[name] = figures(stats);
  }
  if (all) {
    reply.tenants = Json::object();
    for (const auto& [name, stats] : tenants) {
      (*reply.tenants)[name] = figures(stats);
    }
  }
  return reply;
}

} // namespace omnicache::daemon
