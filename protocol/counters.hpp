#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

// The daemon's own figures and the shared tier's, each an enum with fixed ids
// and one table. The `stats` reply, GET /metrics, `stats --reset`, and the
// command's tables and --watch all read these tables, so that a figure added
// here shows up everywhere with one name. (The store's counters have their
// own table, in store/stats.hpp.)
namespace omnicache::protocol {

// A counter only grows, until `stats --reset` or a restart zeroes it; a
// gauge says how things are now, and a reset leaves it alone.
enum class FigureKind { counter, gauge };

// How a value is kept (always a whole number) and shown.
enum class FigureUnit {
  count,
  milliseconds, // Prometheus gets seconds
  flag,         // 0 or 1: a boolean in the stats reply, 0 or 1 for Prometheus
};

// The daemon's figures in the `server` object of the stats reply, in the
// order /metrics lists them. Its version, pid, clock, paths and embedder are
// descriptions rather than figures and stay out.
enum class ServerFigure : std::size_t {
  connections,
  connections_total,
  connections_rejected,
  requests,
  errors,
  write_queue,
  leases,
  semantic_vectors,
  semantic_index_ready,
  semantic_index_ms,
  semantic_guard_rejections,
  semantic_feedback_rejections,
  semantic_false_hits_reported,
  semantic_embed_failures,
};

struct ServerFigureInfo
{
  ServerFigure id;
  std::string_view name; // member of the stats reply's `server` object
  FigureKind kind;
  FigureUnit unit;
  std::string_view prometheus; // metric family of GET /metrics
  std::string_view help;       // its # HELP
};

inline constexpr std::array<ServerFigureInfo, 14> k_server_figures{{
  {ServerFigure::connections, "connections", FigureKind::gauge, FigureUnit::count, "omnicache_connections",
   "Client connections on the Unix socket open now."},
  {ServerFigure::connections_total, "connections_total", FigureKind::counter, FigureUnit::count,
   "omnicache_connections_total", "Client connections accepted on the Unix socket."},
  {ServerFigure::connections_rejected, "connections_rejected", FigureKind::counter, FigureUnit::count,
   "omnicache_connections_rejected_total",
   "Client connections refused: over limits.max_connections, or from another user."},
  {ServerFigure::requests, "requests", FigureKind::counter, FigureUnit::count, "omnicache_requests_total",
   "Requests received on the Unix socket."},
  {ServerFigure::errors, "errors", FigureKind::counter, FigureUnit::count, "omnicache_errors_total",
   "Requests answered with an error."},
  {ServerFigure::write_queue, "write_queue", FigureKind::gauge, FigureUnit::count, "omnicache_write_queue",
   "Writes waiting for the writer."},
  {ServerFigure::leases, "leases", FigureKind::gauge, FigureUnit::count, "omnicache_leases",
   "Leases held by clients computing a value others wait for."},
  {ServerFigure::semantic_vectors, "semantic_vectors", FigureKind::gauge, FigureUnit::count,
   "omnicache_semantic_vectors", "Vectors in the semantic index, over every tenant."},
  {ServerFigure::semantic_index_ready, "semantic_index_ready", FigureKind::gauge, FigureUnit::flag,
   "omnicache_semantic_index_ready",
   "1 once the semantic index has been checked against the database (or rebuilt) after start."},
  {ServerFigure::semantic_index_ms, "semantic_index_ms", FigureKind::gauge, FigureUnit::milliseconds,
   "omnicache_semantic_index_load_seconds", "Time taken at start to load or rebuild the semantic index."},
  {ServerFigure::semantic_guard_rejections, "semantic_guard_rejections", FigureKind::counter, FigureUnit::count,
   "omnicache_semantic_guard_rejections_total",
   "Semantic candidates the guard refused (a number, name, negation or word differs)."},
  {ServerFigure::semantic_feedback_rejections, "semantic_feedback_rejections", FigureKind::counter,
   FigureUnit::count, "omnicache_semantic_feedback_rejections_total",
   "Semantic candidates refused because they were reported as false hits."},
  {ServerFigure::semantic_false_hits_reported, "semantic_false_hits_reported", FigureKind::counter,
   FigureUnit::count, "omnicache_semantic_false_hits_reported_total", "False semantic hits reported by clients."},
  {ServerFigure::semantic_embed_failures, "semantic_embed_failures", FigureKind::counter, FigureUnit::count,
   "omnicache_semantic_embed_failures_total",
   "Texts the embedder failed on; their lookups fell back to exact match."},
}};
inline constexpr std::size_t k_server_figure_count = k_server_figures.size();

using ServerValues = std::array<std::uint64_t, k_server_figure_count>;

// The shared tier's counters, in the `tier` object of the stats reply. They
// are not zeroed by `stats --reset` (PROTOCOL.md 5.25) and not exported to
// /metrics. Whether the tier is enabled and connected, and its URL, are
// states rather than figures and stay out.
enum class TierCounter : std::size_t {
  l1_hits,
  l2_hits,
  l2_misses,
  l2_errors,
  outages,
  resyncs,
  mirrored,
  queued,
  dropped,
  invalidations_sent,
  invalidations_applied,
  retries,
};

// Which of the command's two tier tables shows a counter: what lookups met,
// and what went to Redis.
enum class TierTable { none, lookups, copies };

struct TierCounterInfo
{
  TierCounter id;
  std::string_view name; // member of the stats reply's `tier` object
  FigureKind kind;
  TierTable table;
  std::string_view column; // its column there
};

inline constexpr std::array<TierCounterInfo, 12> k_tier_counters{{
  {TierCounter::l1_hits, "l1_hits", FigureKind::counter, TierTable::lookups, "local hits"},
  {TierCounter::l2_hits, "l2_hits", FigureKind::counter, TierTable::lookups, "shared hits"},
  {TierCounter::l2_misses, "l2_misses", FigureKind::counter, TierTable::lookups, "shared misses"},
  {TierCounter::l2_errors, "l2_errors", FigureKind::counter, TierTable::lookups, "errors"},
  {TierCounter::outages, "outages", FigureKind::counter, TierTable::lookups, "outages"},
  {TierCounter::resyncs, "resyncs", FigureKind::counter, TierTable::lookups, "resyncs"},
  {TierCounter::mirrored, "mirrored", FigureKind::counter, TierTable::copies, "mirrored"},
  {TierCounter::queued, "queued", FigureKind::gauge, TierTable::copies, "queued"},
  {TierCounter::dropped, "dropped", FigureKind::counter, TierTable::copies, "dropped"},
  {TierCounter::invalidations_sent, "invalidations_sent", FigureKind::counter, TierTable::copies,
   "invalidations sent"},
  {TierCounter::invalidations_applied, "invalidations_applied", FigureKind::counter, TierTable::copies, "applied"},
  {TierCounter::retries, "retries", FigureKind::counter, TierTable::none, ""},
}};
inline constexpr std::size_t k_tier_counter_count = k_tier_counters.size();

// Each table is indexed by its enum: a row out of place fails to compile.
template<typename Table>
constexpr bool
in_id_order(const Table& table)
{
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (static_cast<std::size_t>(table[i].id) != i) {
      return false;
    }
  }
  return true;
}
static_assert(in_id_order(k_server_figures));
static_assert(in_id_order(k_tier_counters));

constexpr const ServerFigureInfo&
info_of(ServerFigure id)
{
  return k_server_figures[static_cast<std::size_t>(id)];
}

constexpr const TierCounterInfo&
info_of(TierCounter id)
{
  return k_tier_counters[static_cast<std::size_t>(id)];
}

// A value as /metrics shows it: seconds for milliseconds.
constexpr double
prometheus_value(FigureUnit unit, std::uint64_t value)
{
  return unit == FigureUnit::milliseconds ? static_cast<double>(value) / 1e3 : static_cast<double>(value);
}

} // namespace omnicache::protocol
