#pragma once

#include "protocol/counters.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

// Server figures that live only as long as the process: connections,
// requests, and latency per operation (counters that must survive a restart
// are in store::Stats). Which figures there are is protocol/counters.hpp's
// server table.
namespace omnicache::daemon {

// Log-linear buckets: 8 per power of two, so a percentile is within 12.5%.
// Lock-free; any thread may record while another reads.
class LatencyHistogram
{
public:
  void record(std::chrono::nanoseconds elapsed);
  std::uint64_t count() const;
  // The upper edge of the bucket holding the q-th quantile (0 < q <= 1).
  std::chrono::nanoseconds quantile(double q) const;

  // The histogram as Prometheus exports it, from one read of the buckets so
  // that the figures agree with each other: for each of `edges` (ascending)
  // the recordings at or below it, counting a bucket only when its whole
  // range is (so within 12.5% of the edge); every recording; and their sum.
  struct Cumulative
  {
    std::vector<std::uint64_t> at_most; // one per edge, non-decreasing
    std::uint64_t count = 0;
    std::chrono::nanoseconds sum{0};
  };
  Cumulative cumulative(std::span<const std::chrono::nanoseconds> edges) const;

  // Forgets every recording (stats --reset). A recording made meanwhile may
  // be half kept: its bucket or its share of the sum.
  void reset();

private:
  static constexpr int k_sub_bits = 3;
  static constexpr std::size_t k_buckets = 64 << k_sub_bits;
  static std::size_t bucket_of(std::uint64_t ns);
  static std::uint64_t upper_edge(std::size_t bucket);
  std::array<std::atomic<std::uint64_t>, k_buckets> m_buckets{};
  std::atomic<std::uint64_t> m_sum_ns{0};
};

struct Shared;

class Metrics
{
  // A slot per figure of the server table, indexed by its id; first, so that
  // the names below can refer to it. The figures other parts keep (the
  // writer's queue, the leases, the semantic index) are read by
  // server_values() and leave their slots at 0.
  std::array<std::atomic<std::uint64_t>, protocol::k_server_figure_count> m_figures{};

public:
  using Figure = protocol::ServerFigure;

  explicit Metrics(std::size_t operations);

  std::atomic<std::uint64_t>& operator[](Figure figure) { return m_figures[static_cast<std::size_t>(figure)]; }
  std::uint64_t value(Figure figure) const
  {
    return m_figures[static_cast<std::size_t>(figure)].load(std::memory_order_relaxed);
  }

  LatencyHistogram& latency(std::size_t op) { return m_latency[op]; }
  const LatencyHistogram& latency(std::size_t op) const { return m_latency[op]; }

  // Zeroes every figure of kind counter in the server table, and the
  // latencies (stats --reset); the gauges, which describe now (open
  // connections, the semantic index), stay.
  void reset_counters();

  // The idle timeout's clock: a request or a connection marks activity.
  void mark_activity() { last_activity_ms.store(steady_ms(), std::memory_order_relaxed); }
  std::int64_t ms_since_activity() const { return steady_ms() - last_activity_ms.load(); }
  static std::int64_t steady_ms()
  {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }

  // The counted figures by name, for the code that counts them.
  std::atomic<std::uint64_t>& connections = (*this)[Figure::connections];
  std::atomic<std::uint64_t>& connections_total = (*this)[Figure::connections_total];
  std::atomic<std::uint64_t>& connections_rejected = (*this)[Figure::connections_rejected];
  std::atomic<std::uint64_t>& requests = (*this)[Figure::requests];
  std::atomic<std::uint64_t>& errors = (*this)[Figure::errors];
  std::atomic<std::uint64_t>& guard_rejections = (*this)[Figure::semantic_guard_rejections];
  std::atomic<std::uint64_t>& feedback_rejections = (*this)[Figure::semantic_feedback_rejections];
  std::atomic<std::uint64_t>& false_hits_reported = (*this)[Figure::semantic_false_hits_reported];
  std::atomic<std::uint64_t>& embed_failures = (*this)[Figure::semantic_embed_failures];

  std::atomic<std::int64_t> last_activity_ms{0};  // steady clock, for the idle timeout
  std::atomic<bool> semantic_index_loaded{false}; // at start: from its files, not rebuilt
  std::atomic<std::int64_t> semantic_index_ms{0}; // at start: time to load or rebuild it
  std::atomic<bool> semantic_index_ready{false};  // the background check or rebuild is done

private:
  std::size_t m_operations;
  std::unique_ptr<LatencyHistogram[]> m_latency;
};

// Every figure of the server table as it is now, read once for the stats
// reply and /metrics alike.
protocol::ServerValues server_values(const Shared& shared);

} // namespace omnicache::daemon
