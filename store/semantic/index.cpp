#include "store/semantic/index.hpp"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

namespace omnicache::store::semantic {

namespace {

constexpr std::size_t k_initial_capacity = 1024;

} // namespace

struct Index::Graph
{
  Graph(std::size_t dimensions, const IndexParams& params, std::size_t capacity)
    : dim(dimensions),
      space(dimensions),
      hnsw(&space, capacity, params.m, params.ef_construction)
  {
    hnsw.setEf(params.ef);
  }

  std::size_t dim;
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> hnsw;
  std::unordered_set<std::int64_t> live;
  std::size_t deleted = 0; // marked deleted, still taking room
};

Index::Index(IndexParams params)
  : m_params(params)
{
}

Index::~Index() = default;

std::string
Index::scope_key(std::string_view tenant, std::string_view scope)
{
  std::string key;
  key.reserve(tenant.size() + 1 + scope.size());
  key.append(tenant).push_back('\0');
  key.append(scope);
  return key;
}

Index::Graph*
Index::find(std::string_view tenant, std::string_view scope) const
{
  const auto it = m_graphs.find(scope_key(tenant, scope));
  return it == m_graphs.end() ? nullptr : it->second.get();
}

void
Index::add(std::string_view tenant, std::string_view scope, std::int64_t id, std::span<const float> vector)
{
  if (vector.empty()) {
    return;
  }
  std::unique_lock lock(m_mutex);
  auto& slot = m_graphs[scope_key(tenant, scope)];
  if (!slot) {
    slot = std::make_unique<Graph>(vector.size(), m_params, k_initial_capacity);
  }
  if (vector.size() != slot->dim) {
    return;
  }
  const auto label = static_cast<hnswlib::labeltype>(id);
  if (slot->live.contains(id)) {
    slot->hnsw.addPoint(vector.data(), label); // replaces the vector in place
    return;
  }
  if (slot->hnsw.cur_element_count >= slot->hnsw.max_elements_) {
    // Marked-deleted points still take room: compact instead of growing
    // when they are most of it, so memory follows the live entries.
    if (slot->deleted > slot->live.size()) {
      rebuild(slot);
    }
    if (slot->hnsw.cur_element_count >= slot->hnsw.max_elements_) {
      slot->hnsw.resizeIndex(slot->hnsw.max_elements_ * 2);
    }
  }
  slot->hnsw.addPoint(vector.data(), label);
  slot->live.insert(id);
}

void
Index::rebuild(std::unique_ptr<Graph>& slot)
{
  const std::size_t capacity = std::max(k_initial_capacity, slot->live.size() * 2);
  auto fresh = std::make_unique<Graph>(slot->dim, m_params, capacity);
  for (const auto id : slot->live) {
    const auto data = slot->hnsw.getDataByLabel<float>(static_cast<hnswlib::labeltype>(id));
    fresh->hnsw.addPoint(data.data(), static_cast<hnswlib::labeltype>(id));
    fresh->live.insert(id);
  }
  slot = std::move(fresh);
}

void
Index::remove(std::string_view tenant, std::string_view scope, std::int64_t id)
{
  std::unique_lock lock(m_mutex);
  Graph* graph = find(tenant, scope);
  if (graph == nullptr || graph->live.erase(id) == 0) {
    return;
  }
  graph->hnsw.markDelete(static_cast<hnswlib::labeltype>(id));
  ++graph->deleted;
}

std::vector<Neighbour>
Index::search(std::string_view tenant, std::string_view scope, std::span<const float> query, std::size_t k) const
{
  std::vector<Neighbour> out;
  std::shared_lock lock(m_mutex);
  const Graph* graph = find(tenant, scope);
  if (graph == nullptr || graph->live.empty() || query.size() != graph->dim) {
    return out;
  }
  auto found = graph->hnsw.searchKnn(query.data(), std::min(k, graph->live.size()));
  out.reserve(found.size());
  while (!found.empty()) {
    // hnswlib's inner-product distance is 1 - dot.
    out.push_back({static_cast<std::int64_t>(found.top().second), 1.0f - found.top().first});
    found.pop();
  }
  std::reverse(out.begin(), out.end()); // the queue gives the farthest first
  return out;
}

void
Index::set_ef(std::size_t ef)
{
  std::unique_lock lock(m_mutex);
  m_params.ef = ef;
  for (auto& [key, graph] : m_graphs) {
    graph->hnsw.setEf(ef);
  }
}

std::size_t
Index::size() const
{
  std::shared_lock lock(m_mutex);
  std::size_t n = 0;
  for (const auto& [key, graph] : m_graphs) {
    n += graph->live.size();
  }
  return n;
}

std::size_t
Index::scopes() const
{
  std::shared_lock lock(m_mutex);
  return m_graphs.size();
}

} // namespace omnicache::store::semantic
