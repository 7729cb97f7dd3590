#include "store/stats.hpp"

#include <tuple>

namespace omnicache::store {

namespace {

// Heterogeneous lookup so that counting a hit does not allocate two strings.
struct ScopeView
{
  std::string_view tenant;
  std::string_view layer;
};

bool
operator<(const Scope& a, const ScopeView& b)
{
  return std::tie(a.first, a.second) < std::tie(b.tenant, b.layer);
}

bool
operator<(const ScopeView& a, const Scope& b)
{
  return std::tie(a.tenant, a.layer) < std::tie(b.first, b.second);
}

template<typename Map>
auto&
find_or_add(Map& map, std::string_view tenant, std::string_view layer)
{
  const ScopeView view{tenant, layer};
  auto it = map.find(view);
  if (it == map.end()) {
    it = map.emplace(Scope(tenant, layer), typename Map::mapped_type{}).first;
  }
  return it->second;
}

} // namespace

Gauges&
Gauges::operator+=(const Gauges& other)
{
  entries += other.entries;
  raw_bytes += other.raw_bytes;
  stored_bytes += other.stored_bytes;
  key_bytes += other.key_bytes;
  return *this;
}

ScopeStats&
Delta::at(std::string_view tenant, std::string_view layer)
{
  return find_or_add(m_scopes, tenant, layer);
}

void
Delta::count(std::string_view tenant, std::string_view layer, Counter counter, std::uint64_t n)
{
  at(tenant, layer).counters[static_cast<std::size_t>(counter)] += n;
}

void
Delta::gauge(std::string_view tenant, std::string_view layer, const Gauges& change)
{
  at(tenant, layer).gauges += change;
  m_total += change;
}

void
Delta::merge(const Delta& other)
{
  for (const auto& [scope, stats] : other.m_scopes) {
    auto& mine = at(scope.first, scope.second);
    for (std::size_t i = 0; i < k_counter_count; ++i) {
      mine.counters[i] += stats.counters[i];
    }
    mine.gauges += stats.gauges;
  }
  m_total += other.m_total;
  m_removed.insert(m_removed.end(), other.m_removed.begin(), other.m_removed.end());
}

void
Delta::clear()
{
  m_scopes.clear();
  m_total = {};
  m_removed.clear();
}

ScopeStats&
Stats::at(std::string_view tenant, std::string_view layer)
{
  return find_or_add(m_scopes, tenant, layer);
}

void
Stats::count(std::string_view tenant, std::string_view layer, Counter counter, std::uint64_t n)
{
  std::lock_guard lock(m_mutex);
  at(tenant, layer).counters[static_cast<std::size_t>(counter)] += n;
  find_or_add(m_dirty, tenant, layer) = true;
}

void
Stats::apply(const Delta& delta)
{
  std::lock_guard lock(m_mutex);
  for (const auto& [scope, change] : delta.scopes()) {
    auto& mine = at(scope.first, scope.second);
    bool counted = false;
    for (std::size_t i = 0; i < k_counter_count; ++i) {
      mine.counters[i] += change.counters[i];
      counted = counted || change.counters[i] != 0;
    }
    mine.gauges += change.gauges;
    if (counted) {
      find_or_add(m_dirty, scope.first, scope.second) = true;
    }
  }
  m_total += delta.total();
}

void
Stats::reset_gauges(const std::map<Scope, Gauges>& gauges)
{
  std::lock_guard lock(m_mutex);
  for (auto& [scope, stats] : m_scopes) {
    stats.gauges = {};
  }
  m_total = {};
  for (const auto& [scope, g] : gauges) {
    at(scope.first, scope.second).gauges = g;
    m_total += g;
  }
}

void
Stats::load_counter(std::string_view tenant, std::string_view layer, std::string_view name, std::uint64_t value)
{
  std::lock_guard lock(m_mutex);
  for (const auto& info : k_counter_info) {
    if (info.name == name) {
      at(tenant, layer).counters[static_cast<std::size_t>(info.id)] = value;
      return;
    }
  }
}

void
Stats::reset_counters(std::optional<std::string_view> tenant)
{
  std::lock_guard lock(m_mutex);
  const auto chosen = [&tenant](const Scope& scope) { return !tenant || scope.first == *tenant; };
  for (auto& [scope, stats] : m_scopes) {
    if (chosen(scope)) {
      stats.counters = {};
    }
  }
  for (auto& [scope, values] : m_models) {
    if (chosen(scope)) {
      values = {};
    }
  }
  std::erase_if(m_dirty, [&chosen](const auto& item) { return chosen(item.first); });
  std::erase_if(m_dirty_models, [&chosen](const auto& item) { return chosen(item.first); });
}

std::map<Scope, ScopeStats>
Stats::snapshot() const
{
  std::lock_guard lock(m_mutex);
  return {m_scopes.begin(), m_scopes.end()};
}

Gauges
Stats::total_gauges() const
{
  std::lock_guard lock(m_mutex);
  return m_total;
}

std::vector<std::pair<Scope, CounterValues>>
Stats::take_dirty_counters()
{
  std::lock_guard lock(m_mutex);
  std::vector<std::pair<Scope, CounterValues>> out;
  out.reserve(m_dirty.size());
  for (const auto& [scope, dirty] : m_dirty) {
    out.emplace_back(scope, m_scopes.find(scope)->second.counters);
  }
  m_dirty.clear();
  return out;
}

void
Stats::count_model(std::string_view tenant, std::string_view model, const ModelValues& add)
{
  std::lock_guard lock(m_mutex);
  auto& values = find_or_add(m_models, tenant, model);
  for (std::size_t i = 0; i < k_model_counter_count; ++i) {
    values[i] += add[i];
  }
  find_or_add(m_dirty_models, tenant, model) = true;
}

void
Stats::load_model_counter(std::string_view tenant, std::string_view model, std::string_view name, std::uint64_t value)
{
  std::lock_guard lock(m_mutex);
  for (const auto& info : k_model_counter_info) {
    if (info.name == name) {
      find_or_add(m_models, tenant, model)[static_cast<std::size_t>(info.id)] = value;
      return;
    }
  }
}

std::map<Scope, ModelValues>
Stats::model_snapshot() const
{
  std::lock_guard lock(m_mutex);
  return {m_models.begin(), m_models.end()};
}

std::vector<std::pair<Scope, ModelValues>>
Stats::take_dirty_models()
{
  std::lock_guard lock(m_mutex);
  std::vector<std::pair<Scope, ModelValues>> out;
  for (const auto& [scope, dirty] : m_dirty_models) {
    out.emplace_back(scope, m_models.find(scope)->second);
  }
  m_dirty_models.clear();
  return out;
}

} // namespace omnicache::store
