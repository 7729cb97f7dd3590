#include "daemon/proxy/prometheus.hpp"

#include "omnicache_version.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

namespace omnicache::daemon::proxy {

namespace {

constexpr std::array<std::string_view, 6> k_status_class_names{"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

std::size_t
status_class(unsigned status)
{
  return status == 0 ? 0 : std::clamp<std::size_t>(status / 100, 1, 5);
}

// The edges of k_histogram_edges in nanoseconds.
std::array<std::chrono::nanoseconds, k_histogram_edges.size()>
edges_ns()
{
  std::array<std::chrono::nanoseconds, k_histogram_edges.size()> out{};
  for (std::size_t i = 0; i < k_histogram_edges.size(); ++i) {
    double seconds = 0;
    const auto text = k_histogram_edges[i];
    std::from_chars(text.data(), text.data() + text.size(), seconds);
    out[i] = std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9 + 0.5));
  }
  return out;
}

// HELP text escapes backslash and newline only.
std::string
escape_help(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::uint64_t
load(const std::atomic<std::uint64_t>& value)
{
  return value.load(std::memory_order_relaxed);
}

// A family of one sample: a counter as a whole number, a gauge as a number
// in its Prometheus unit.
void
one_sample(Exposition& out, protocol::FigureKind kind, protocol::FigureUnit unit, std::string_view name,
           std::string_view help, std::uint64_t value)
{
  if (kind == protocol::FigureKind::counter) {
    out.family(name, "counter", help);
    out.sample(name, {}, value);
  } else {
    out.family(name, "gauge", help);
    out.sample(name, {}, protocol::prometheus_value(unit, value));
  }
}

void
write_daemon(Exposition& out, const Shared& shared)
{
  const auto& m = shared.metrics;
  const auto& info = shared.info;
  out.family("omnicache_build_info", "gauge", "Always 1; the daemon's version is its label.");
  out.sample("omnicache_build_info", {{"version", k_version}}, std::uint64_t{1});
  out.family("omnicache_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.");
  out.sample("omnicache_start_time_seconds", {}, static_cast<double>(info.started_ms) / 1e3);
  out.family("omnicache_uptime_seconds", "gauge", "Seconds since the daemon started.");
  out.sample("omnicache_uptime_seconds", {},
             std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count());
  const auto values = server_values(shared);
  for (const auto& figure : protocol::k_server_figures) {
    one_sample(out, figure.kind, figure.unit, figure.prometheus, figure.help,
               values[static_cast<std::size_t>(figure.id)]);
  }

  constexpr std::string_view name = "omnicache_operation_duration_seconds";
  out.family(name, "histogram", "Time the daemon took to answer a request, per operation.");
  for (const auto& op : op_table()) {
    const auto& histogram = m.latency(op_index(op));
    if (histogram.count() != 0) {
      out.histogram(name, {{"operation", op.name}}, histogram);
    }
  }
}

} // namespace

Endpoint
endpoint_of(Api api)
{
  switch (api) {
  case Api::chat:
    return Endpoint::chat;
  case Api::completions:
    return Endpoint::completions;
  case Api::embeddings:
    return Endpoint::embeddings;
  case Api::messages:
    return Endpoint::messages;
  }
  return Endpoint::other;
}

void
ProxyMetrics::count_request(Endpoint endpoint, Outcome outcome, std::chrono::nanoseconds elapsed)
{
  const auto pair = static_cast<std::size_t>(endpoint) * k_outcome_names.size() + static_cast<std::size_t>(outcome);
  m_requests[pair].fetch_add(1, std::memory_order_relaxed);
  m_durations[pair].record(elapsed);
}

void
ProxyMetrics::count_upstream(Endpoint endpoint, unsigned status, std::chrono::nanoseconds to_head)
{
  const auto e = static_cast<std::size_t>(endpoint);
  m_upstream[e * k_status_classes + status_class(status)].fetch_add(1, std::memory_order_relaxed);
  if (status != 0) { // without an answer there is no time to its head
    m_upstream_durations[e].record(to_head);
  }
}

std::uint64_t
ProxyMetrics::requests(Endpoint endpoint, Outcome outcome) const
{
  return load(m_requests[static_cast<std::size_t>(endpoint) * k_outcome_names.size()
                         + static_cast<std::size_t>(outcome)]);
}

std::string
escape_label(std::string_view value)
{
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void
Exposition::family(std::string_view name, std::string_view type, std::string_view help)
{
  m_text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

void
Exposition::name_and_labels(std::string_view name, Labels labels, std::string_view le)
{
  m_text += name;
  if (labels.size() == 0 && le.empty()) {
    return;
  }
  m_text += '{';
  bool first = true;
  for (const auto& [label, value] : labels) {
    m_text += first ? "" : ",";
    first = false;
    m_text += fmt::format("{}=\"{}\"", label, escape_label(value));
  }
  if (!le.empty()) {
    m_text += fmt::format("{}le=\"{}\"", first ? "" : ",", le);
  }
  m_text += '}';
}

void
Exposition::sample(std::string_view name, Labels labels, std::uint64_t value)
{
  name_and_labels(name, labels);
  m_text += fmt::format(" {}\n", value);
}

void
Exposition::sample(std::string_view name, Labels labels, double value)
{
  name_and_labels(name, labels);
  m_text += fmt::format(" {}\n", value);
}

void
Exposition::histogram(std::string_view name, Labels labels, const LatencyHistogram& histogram)
{
  static const auto k_edges = edges_ns();
  const auto figures = histogram.cumulative(k_edges);
  const std::string bucket = fmt::format("{}_bucket", name);
  for (std::size_t i = 0; i < k_edges.size(); ++i) {
    name_and_labels(bucket, labels, k_histogram_edges[i]);
    m_text += fmt::format(" {}\n", figures.at_most[i]);
  }
  name_and_labels(bucket, labels, "+Inf");
  m_text += fmt::format(" {}\n", figures.count);
  name_and_labels(fmt::format("{}_sum", name), labels);
  m_text += fmt::format(" {}\n", std::chrono::duration<double>(figures.sum).count());
  name_and_labels(fmt::format("{}_count", name), labels);
  m_text += fmt::format(" {}\n", figures.count);
}

void
write_store(Exposition& out, const std::map<store::Scope, store::ScopeStats>& scopes)
{
  for (const auto& info : store::k_counter_info) {
    const auto name = fmt::format("omnicache_{}_total", info.name);
    out.family(name, "counter", fmt::format("Store {}: {}, per tenant and layer.", info.name, info.description));
    for (const auto& [scope, stats] : scopes) {
      out.sample(name, {{"tenant", scope.first}, {"layer", scope.second}},
                 stats.counters[static_cast<std::size_t>(info.id)]);
    }
  }
  const std::pair<std::string_view, std::string_view> gauges[] = {
    {"omnicache_entries", "Live entries stored, per tenant and layer."},
    {"omnicache_raw_bytes", "Bytes of the stored values before compression, per tenant and layer."},
    {"omnicache_stored_bytes", "Bytes of the stored values as stored (after compression), per tenant and layer."},
    {"omnicache_key_bytes", "Bytes of the stored keys, per tenant and layer."},
  };
  for (std::size_t g = 0; g < std::size(gauges); ++g) {
    out.family(gauges[g].first, "gauge", gauges[g].second);
    for (const auto& [scope, stats] : scopes) {
      const std::int64_t values[] = {stats.gauges.entries, stats.gauges.raw_bytes, stats.gauges.stored_bytes,
                                     stats.gauges.key_bytes};
      out.sample(gauges[g].first, {{"tenant", scope.first}, {"layer", scope.second}},
                 static_cast<double>(values[g]));
    }
  }
}

void
write_models(Exposition& out, const std::map<store::Scope, store::ModelValues>& models)
{
  for (const auto& info : store::k_model_counter_info) {
    const auto name = fmt::format("omnicache_model_{}_total", info.name);
    out.family(name, "counter", fmt::format("Per tenant and model: {}.", info.description));
    for (const auto& [scope, values] : models) {
      out.sample(name, {{"tenant", scope.first}, {"model", scope.second}}, values[static_cast<std::size_t>(info.id)]);
    }
  }
}

void
write_proxy(Exposition& out, const ProxyMetrics& proxy)
{
  constexpr std::string_view requests = "omnicache_proxy_requests_total";
  out.family(requests, "counter",
             "HTTP requests the proxy answered, per endpoint and outcome (hit, semantic, miss, bypass as "
             "X-Omnicache says; error: refused or failed; unauthorized: no valid token).");
  for (std::size_t e = 0; e < k_endpoint_names.size(); ++e) {
    for (std::size_t o = 0; o < k_outcome_names.size(); ++o) {
      out.sample(requests, {{"endpoint", k_endpoint_names[e]}, {"outcome", k_outcome_names[o]}},
                 load(proxy.m_requests[e * k_outcome_names.size() + o]));
    }
  }
  constexpr std::string_view durations = "omnicache_proxy_request_duration_seconds";
  out.family(durations, "histogram",
             "Time from a request's arrival to the last byte of its answer, per endpoint and outcome.");
  for (std::size_t e = 0; e < k_endpoint_names.size(); ++e) {
    for (std::size_t o = 0; o < k_outcome_names.size(); ++o) {
      const auto& histogram = proxy.m_durations[e * k_outcome_names.size() + o];
      if (histogram.count() != 0) {
        out.histogram(durations, {{"endpoint", k_endpoint_names[e]}, {"outcome", k_outcome_names[o]}}, histogram);
      }
    }
  }
  constexpr std::string_view upstream = "omnicache_proxy_upstream_responses_total";
  out.family(upstream, "counter",
             "Requests the proxy sent upstream, per endpoint and class of the answer's status (none: "
             "unreachable or timed out).");
  for (std::size_t e = 0; e < k_endpoint_names.size(); ++e) {
    for (std::size_t c = 0; c < k_status_class_names.size(); ++c) {
      out.sample(upstream, {{"endpoint", k_endpoint_names[e]}, {"status", k_status_class_names[c]}},
                 load(proxy.m_upstream[e * k_status_class_names.size() + c]));
    }
  }
  constexpr std::string_view upstream_durations = "omnicache_proxy_upstream_duration_seconds";
  out.family(upstream_durations, "histogram",
             "Time from sending a request upstream to the head of its answer, per endpoint.");
  for (std::size_t e = 0; e < k_endpoint_names.size(); ++e) {
    if (proxy.m_upstream_durations[e].count() != 0) {
      out.histogram(upstream_durations, {{"endpoint", k_endpoint_names[e]}}, proxy.m_upstream_durations[e]);
    }
  }
  for (const auto& counter : k_proxy_counters) {
    one_sample(out, counter.kind, protocol::FigureUnit::count, counter.prometheus, counter.help,
               proxy.value(counter.id));
  }
}

std::string
render_metrics(const Shared& shared, const ProxyMetrics* proxy)
{
  Exposition out;
  write_daemon(out, shared);
  write_store(out, shared.store.stats().snapshot());
  write_models(out, shared.store.stats().model_snapshot());
  if (proxy != nullptr) {
    write_proxy(out, *proxy);
  }
  return out.take();
}

void
count_provider_usage(Shared& shared, const protocol::Settings& settings, std::string_view tenant,
                     std::string_view model, std::uint64_t cached_tokens, std::uint64_t cache_write_tokens)
{
  if (cached_tokens == 0 && cache_write_tokens == 0) {
    return;
  }
  store::ModelValues add{};
  add[static_cast<std::size_t>(store::ModelCounter::provider_cached_tokens)] = cached_tokens;
  add[static_cast<std::size_t>(store::ModelCounter::provider_cache_write_tokens)] = cache_write_tokens;
  if (const auto price = settings.prices.find(model); price != settings.prices.end() && price->second.cached_input) {
    // USD per million tokens is 1000 nano-USD per token. A cached price above
    // the full one saved nothing.
    const double per_token = std::max(0.0, price->second.input - *price->second.cached_input);
    const double nanousd = 1000.0 * static_cast<double>(cached_tokens) * per_token;
    add[static_cast<std::size_t>(store::ModelCounter::provider_cost_nanousd)] =
      static_cast<std::uint64_t>(nanousd + 0.5);
  }
  shared.store.stats().count_model(tenant, model, add);
}

} // namespace omnicache::daemon::proxy
