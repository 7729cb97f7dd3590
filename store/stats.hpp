#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Counters (monotonic, persisted) and gauges (what is stored now) per tenant
// and layer. One table names every counter; the human table and the JSON of
// `omnicache stats` are both made from it.
namespace omnicache::store {

enum class Counter : std::size_t {
  hits,
  misses,
  sets,
  deletes,
  expirations,
  evictions,
  invalidations,
};

struct CounterInfo
{
  Counter id;
  std::string_view name;        // stable snake_case, used in JSON and the database
  std::string_view description; // for the human table
};

inline constexpr std::array<CounterInfo, 7> k_counter_info{{
  {Counter::hits, "hits", "lookups that found a live entry"},
  {Counter::misses, "misses", "lookups that found nothing"},
  {Counter::sets, "sets", "entries written"},
  {Counter::deletes, "deletes", "entries removed by del"},
  {Counter::expirations, "expirations", "entries removed when their TTL ran out"},
  {Counter::evictions, "evictions", "entries removed to stay under max_bytes / max_entries"},
  {Counter::invalidations, "invalidations", "entries removed by invalidate or flush"},
}};
inline constexpr std::size_t k_counter_count = k_counter_info.size();

using CounterValues = std::array<std::uint64_t, k_counter_count>;

// What cache hits saved, per model (from the metadata of the entries hit),
// and what the provider's own prompt cache did for the requests the proxy
// forwarded (from the usage of their answers).
enum class ModelCounter : std::size_t {
  hits,
  prompt_tokens,
  completion_tokens,
  cost_nanousd, // billionths of a US dollar, from [prices]
  provider_cached_tokens,
  provider_cache_write_tokens,
  provider_cost_nanousd,
};

struct ModelCounterInfo
{
  ModelCounter id;
  std::string_view name;
  std::string_view description;
};

// Persisted by name: a database written before a counter existed loads with
// it at 0.
inline constexpr std::array<ModelCounterInfo, 7> k_model_counter_info{{
  {ModelCounter::hits, "hits", "hits on entries of this model"},
  {ModelCounter::prompt_tokens, "prompt_tokens_saved", "input tokens not sent again"},
  {ModelCounter::completion_tokens, "completion_tokens_saved", "output tokens not generated again"},
  {ModelCounter::cost_nanousd, "cost_saved_nanousd", "what those tokens would have cost, in 1e-9 USD"},
  {ModelCounter::provider_cached_tokens, "provider_cached_tokens",
   "input tokens the provider served from its prompt cache"},
  {ModelCounter::provider_cache_write_tokens, "provider_cache_write_tokens",
   "input tokens the provider wrote to its prompt cache"},
  {ModelCounter::provider_cost_nanousd, "provider_cost_saved_nanousd",
   "what the provider's prompt cache saved, in 1e-9 USD, from [prices] cached_input"},
}};
inline constexpr std::size_t k_model_counter_count = k_model_counter_info.size();

using ModelValues = std::array<std::uint64_t, k_model_counter_count>;

struct Gauges
{
  std::int64_t entries = 0;
  std::int64_t raw_bytes = 0;    // values before compression
  std::int64_t stored_bytes = 0; // values as stored
  std::int64_t key_bytes = 0;

  // What max_bytes limits.
  std::int64_t accounted_bytes() const { return stored_bytes + key_bytes; }
  Gauges& operator+=(const Gauges& other);
};

struct ScopeStats
{
  CounterValues counters{};
  Gauges gauges;
};

// (tenant, layer)
using Scope = std::pair<std::string, std::string>;

// Changes made by writes not yet committed; applied to Stats after commit so
// that a rolled back write leaves no trace in the figures.
// An entry of a layer that can keep vectors, removed: an in-memory index of
// those vectors can forget it.
struct RemovedEntry
{
  std::string tenant;
  std::int64_t id = 0;
};

class Delta
{
public:
  void count(std::string_view tenant, std::string_view layer, Counter counter, std::uint64_t n = 1);
  void gauge(std::string_view tenant, std::string_view layer, const Gauges& change);
  void removed(std::string_view tenant, std::int64_t id) { m_removed.push_back({std::string(tenant), id}); }
  void merge(const Delta& other);
  void clear();
  bool empty() const { return m_scopes.empty() && m_removed.empty(); }
  const std::vector<RemovedEntry>& removed() const { return m_removed; }
  const Gauges& total() const { return m_total; }
  const std::map<Scope, ScopeStats, std::less<>>& scopes() const { return m_scopes; }

private:
  ScopeStats& at(std::string_view tenant, std::string_view layer);
  std::map<Scope, ScopeStats, std::less<>> m_scopes;
  Gauges m_total;
  std::vector<RemovedEntry> m_removed;
};

// Thread-safe; shared by the readers (hits, misses) and the writer.
class Stats
{
public:
  void count(std::string_view tenant, std::string_view layer, Counter counter, std::uint64_t n = 1);
  void apply(const Delta& delta);

  // Replaces all gauges, e.g. after recounting them from the database.
  void reset_gauges(const std::map<Scope, Gauges>& gauges);
  void load_counter(std::string_view tenant, std::string_view layer, std::string_view name, std::uint64_t value);
  // Zeroes the counters and model counters of one tenant, or of all; the
  // gauges stay. Nothing is left to save: the caller clears the saved ones.
  void reset_counters(std::optional<std::string_view> tenant);

  std::map<Scope, ScopeStats> snapshot() const;
  Gauges total_gauges() const;

  // Counters changed since the last call, for persisting them.
  std::vector<std::pair<Scope, CounterValues>> take_dirty_counters();

  // Per (tenant, model).
  void count_model(std::string_view tenant, std::string_view model, const ModelValues& add);
  void load_model_counter(std::string_view tenant, std::string_view model, std::string_view name, std::uint64_t value);
  std::map<Scope, ModelValues> model_snapshot() const;
  std::vector<std::pair<Scope, ModelValues>> take_dirty_models();

private:
  ScopeStats& at(std::string_view tenant, std::string_view layer);

  mutable std::mutex m_mutex;
  std::map<Scope, ScopeStats, std::less<>> m_scopes;
  std::map<Scope, bool, std::less<>> m_dirty;
  std::map<Scope, ModelValues, std::less<>> m_models;
  std::map<Scope, bool, std::less<>> m_dirty_models;
  Gauges m_total;
};

} // namespace omnicache::store
