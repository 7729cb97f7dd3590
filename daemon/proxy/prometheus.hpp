#pragma once

#include "daemon/handlers/handler.hpp"
#include "daemon/metrics.hpp"
#include "daemon/proxy/provider.hpp"
#include "protocol/counters.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

// GET /metrics: every figure of the daemon in Prometheus' text exposition
// format (version 0.0.4), and the proxy's own request counters.
namespace omnicache::daemon::proxy {

// What the proxy did with a request, as X-Omnicache says, plus the requests
// it refused or could not answer.
enum class Outcome : std::size_t { hit, semantic, miss, bypass, error, unauthorized };
inline constexpr std::array<std::string_view, 6> k_outcome_names{"hit",    "semantic", "miss",
                                                                 "bypass", "error",    "unauthorized"};

// The cached endpoints, then everything forwarded untouched.
enum class Endpoint : std::size_t { chat, completions, embeddings, messages, other };
inline constexpr std::array<std::string_view, 5> k_endpoint_names{"chat_completions", "completions", "embeddings",
                                                                  "messages", "other"};
Endpoint endpoint_of(Api api);

// The proxy's own figures beside its per-(endpoint, outcome) families, in
// the order /metrics lists them. Not in the stats reply.
enum class ProxyCounter : std::size_t {
  connections,
  connections_total,
  streams_recorded,
  streams_broken,
  request_bytes,
  response_bytes,
};

struct ProxyCounterInfo
{
  ProxyCounter id;
  protocol::FigureKind kind;
  std::string_view prometheus; // metric family of GET /metrics
  std::string_view help;       // its # HELP
};

inline constexpr std::array<ProxyCounterInfo, 6> k_proxy_counters{{
  {ProxyCounter::connections, protocol::FigureKind::gauge, "omnicache_proxy_connections",
   "HTTP connections to the proxy open now."},
  {ProxyCounter::connections_total, protocol::FigureKind::counter, "omnicache_proxy_connections_total",
   "HTTP connections the proxy accepted."},
  {ProxyCounter::streams_recorded, protocol::FigureKind::counter, "omnicache_proxy_streams_recorded_total",
   "Streamed upstream answers recorded and stored."},
  {ProxyCounter::streams_broken, protocol::FigureKind::counter, "omnicache_proxy_streams_broken_total",
   "Streamed upstream answers cut before their end (passed on as far as they went, not stored)."},
  {ProxyCounter::request_bytes, protocol::FigureKind::counter, "omnicache_proxy_request_bytes_total",
   "Bytes of request bodies the proxy received."},
  {ProxyCounter::response_bytes, protocol::FigureKind::counter, "omnicache_proxy_response_bytes_total",
   "Bytes of response bodies the proxy sent."},
}};
inline constexpr std::size_t k_proxy_counter_count = k_proxy_counters.size();
static_assert(protocol::in_id_order(k_proxy_counters));

class Exposition;

// Lock-free; recorded by every serving thread, read by /metrics.
class ProxyMetrics
{
  // A slot per row of k_proxy_counters, indexed by its id; first, so that
  // the names below can refer to it.
  std::array<std::atomic<std::uint64_t>, k_proxy_counter_count> m_counters{};

public:
  // One answered request: counted by (endpoint, outcome), its duration
  // (arrival to last byte sent) in that pair's histogram.
  void count_request(Endpoint endpoint, Outcome outcome, std::chrono::nanoseconds elapsed);
  // One upstream exchange: status 0 when no answer came (unreachable, timed
  // out); `to_head` from sending to the answer's head.
  void count_upstream(Endpoint endpoint, unsigned status, std::chrono::nanoseconds to_head);

  std::uint64_t requests(Endpoint endpoint, Outcome outcome) const;

  std::atomic<std::uint64_t>& operator[](ProxyCounter counter)
  {
    return m_counters[static_cast<std::size_t>(counter)];
  }
  std::uint64_t value(ProxyCounter counter) const
  {
    return m_counters[static_cast<std::size_t>(counter)].load(std::memory_order_relaxed);
  }

  // The counters by name, for the code that counts them.
  std::atomic<std::uint64_t>& connections = (*this)[ProxyCounter::connections];
  std::atomic<std::uint64_t>& connections_total = (*this)[ProxyCounter::connections_total];
  std::atomic<std::uint64_t>& streams_recorded = (*this)[ProxyCounter::streams_recorded];
  std::atomic<std::uint64_t>& streams_broken = (*this)[ProxyCounter::streams_broken];
  std::atomic<std::uint64_t>& bytes_in = (*this)[ProxyCounter::request_bytes];
  std::atomic<std::uint64_t>& bytes_out = (*this)[ProxyCounter::response_bytes];

private:
  static constexpr std::size_t k_pairs = k_endpoint_names.size() * k_outcome_names.size();
  // Upstream status classes: 0 (none), 1xx..5xx.
  static constexpr std::size_t k_status_classes = 6;
  std::array<std::atomic<std::uint64_t>, k_pairs> m_requests{};
  std::array<LatencyHistogram, k_pairs> m_durations;
  std::array<std::atomic<std::uint64_t>, k_endpoint_names.size() * k_status_classes> m_upstream{};
  std::array<LatencyHistogram, k_endpoint_names.size()> m_upstream_durations;

  friend std::string render_metrics(const Shared& shared, const ProxyMetrics* proxy);
  friend void write_proxy(Exposition& out, const ProxyMetrics& proxy);
};

// The exposition text: the daemon's connections, requests and errors; the
// latency of every operation; hits, misses, sets... and entries and bytes per
// (tenant, layer); savings per (tenant, model) including the provider's own
// prompt caching; the semantic index; and, when `proxy` is given, the proxy's
// requests per (endpoint, outcome) with duration histograms and its upstream
// exchanges per status class.
std::string render_metrics(const Shared& shared, const ProxyMetrics* proxy);

// Adds what the provider's own prompt cache did for one upstream answer
// (its usage: cached input tokens read, and written) to the counters of
// (tenant, model), with the cost it saved when [prices.MODEL] has both input
// and cached_input.
void count_provider_usage(Shared& shared, const protocol::Settings& settings, std::string_view tenant,
                          std::string_view model, std::uint64_t cached_tokens, std::uint64_t cache_write_tokens);

// The parts render_metrics is made of.
using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Label values escape backslash, double quote and newline.
std::string escape_label(std::string_view value);

// The text, one metric family at a time: family() writes its # HELP and
// # TYPE lines, then its samples follow.
class Exposition
{
public:
  // `type`: counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, std::uint64_t value);
  void sample(std::string_view name, Labels labels, double value);
  // NAME_bucket{...,le="..."} for every edge of k_histogram_edges and +Inf,
  // NAME_sum in seconds, NAME_count.
  void histogram(std::string_view name, Labels labels, const LatencyHistogram& histogram);

  const std::string& text() const { return m_text; }
  std::string take() { return std::move(m_text); }

private:
  void name_and_labels(std::string_view name, Labels labels, std::string_view le = {});
  std::string m_text;
};

// Bucket edges in seconds, from the daemon's fast operations (microseconds) to
// the proxy's slowest answers (minutes).
inline constexpr std::array<std::string_view, 23> k_histogram_edges{
  "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
  "0.005",   "0.01",     "0.025",   "0.05",   "0.1",     "0.25",   "0.5",   "1",
  "2.5",     "5",        "10",      "30",     "60",      "120",    "300"};

// Every store counter per (tenant, layer) and the gauges of what is stored.
void write_store(Exposition& out, const std::map<store::Scope, store::ScopeStats>& scopes);
// Every model counter per (tenant, model).
void write_models(Exposition& out, const std::map<store::Scope, store::ModelValues>& models);
// The proxy's requests, durations, upstream exchanges and connections.
void write_proxy(Exposition& out, const ProxyMetrics& proxy);

} // namespace omnicache::daemon::proxy
