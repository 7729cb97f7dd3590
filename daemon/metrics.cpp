#include "daemon/metrics.hpp"

#include "daemon/handlers/handler.hpp"

#include <algorithm>
#include <bit>

namespace omnicache::daemon {

std::size_t
LatencyHistogram::bucket_of(std::uint64_t ns)
{
  if (ns < (1u << k_sub_bits)) {
    return static_cast<std::size_t>(ns);
  }
  const int exponent = std::bit_width(ns) - 1 - k_sub_bits;
  const std::uint64_t mantissa = (ns >> exponent) & ((1u << k_sub_bits) - 1);
  const std::size_t bucket = (static_cast<std::size_t>(exponent + 1) << k_sub_bits) + mantissa;
  return bucket < k_buckets ? bucket : k_buckets - 1;
}

std::uint64_t
LatencyHistogram::upper_edge(std::size_t bucket)
{
  if (bucket < (1u << k_sub_bits)) {
    return bucket + 1;
  }
  const std::size_t exponent = (bucket >> k_sub_bits) - 1;
  const std::uint64_t mantissa = (bucket & ((1u << k_sub_bits) - 1)) | (1u << k_sub_bits);
  return (mantissa + 1) << exponent;
}

void
LatencyHistogram::record(std::chrono::nanoseconds elapsed)
{
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count()));
  m_buckets[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  m_sum_ns.fetch_add(ns, std::memory_order_relaxed);
}

std::uint64_t
LatencyHistogram::count() const
{
  std::uint64_t total = 0;
  for (const auto& bucket : m_buckets) {
    total += bucket.load(std::memory_order_relaxed);
  }
  return total;
}

std::chrono::nanoseconds
LatencyHistogram::quantile(double q) const
{
  const std::uint64_t total = count();
  if (total == 0) {
    return std::chrono::nanoseconds(0);
  }
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    seen += m_buckets[i].load(std::memory_order_relaxed);
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      return std::chrono::nanoseconds(upper_edge(i));
    }
  }
  return std::chrono::nanoseconds(upper_edge(k_buckets - 1));
}

LatencyHistogram::Cumulative
LatencyHistogram::cumulative(std::span<const std::chrono::nanoseconds> edges) const
{
  Cumulative out;
  out.sum = std::chrono::nanoseconds(static_cast<std::int64_t>(m_sum_ns.load(std::memory_order_relaxed)));
  out.at_most.assign(edges.size(), 0);
  std::size_t edge = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    const auto n = m_buckets[i].load(std::memory_order_relaxed);
    // Bucket i holds [lower, upper_edge(i)): all of it is at or below an edge
    // E when upper_edge(i) - 1 <= E.
    while (edge < edges.size() && upper_edge(i) - 1 > static_cast<std::uint64_t>(edges[edge].count())) {
      out.at_most[edge] = out.count;
      ++edge;
    }
    out.count += n;
  }
  for (; edge < edges.size(); ++edge) {
    out.at_most[edge] = out.count;
  }
  return out;
}

void
LatencyHistogram::reset()
{
  for (auto& bucket : m_buckets) {
    bucket.store(0, std::memory_order_relaxed);
  }
  m_sum_ns.store(0, std::memory_order_relaxed);
}

Metrics::Metrics(std::size_t operations)
  : m_operations(operations),
    m_latency(std::make_unique<LatencyHistogram[]>(operations))
{
}

void
Metrics::reset_counters()
{
  for (std::size_t op = 0; op < m_operations; ++op) {
    m_latency[op].reset();
  }
  for (const auto& info : protocol::k_server_figures) {
    if (info.kind == protocol::FigureKind::counter) {
      (*this)[info.id].store(0);
    }
  }
}

protocol::ServerValues
server_values(const Shared& shared)
{
  using protocol::ServerFigure;
  const auto& m = shared.metrics;
  protocol::ServerValues out{};
  for (const auto& info : protocol::k_server_figures) {
    out[static_cast<std::size_t>(info.id)] = m.value(info.id);
  }
  const auto set = [&out](ServerFigure figure, std::uint64_t value) { out[static_cast<std::size_t>(figure)] = value; };
  set(ServerFigure::write_queue, shared.store.queued());
  set(ServerFigure::leases, shared.leases.held());
  set(ServerFigure::semantic_vectors, shared.index.size());
  set(ServerFigure::semantic_index_ready, m.semantic_index_ready.load() ? 1 : 0);
  set(ServerFigure::semantic_index_ms,
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, m.semantic_index_ms.load())));
  return out;
}

} // namespace omnicache::daemon
