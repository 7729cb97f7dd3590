#include "store/semantic/index.hpp"

#include "protocol/error.hpp"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

namespace omnicache::store::semantic {

struct Index::Graph
{
  Graph(std::size_t dimensions, const IndexParams& params, std::size_t capacity)
    : dim(dimensions),
      space(dimensions),
      hnsw(&space, capacity, params.m, params.ef_construction)
  {
    hnsw.setEf(params.ef);
  }

  // From a file written by write_graph() (the caller has checked its layout).
  Graph(std::size_t dimensions, const std::filesystem::path& path, std::size_t capacity)
    : dim(dimensions),
      space(dimensions),
      hnsw(&space, path.string(), false, capacity)
  {
  }

  std::size_t dim;
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> hnsw;
  std::unordered_set<std::int64_t> live;
  std::size_t deleted = 0; // marked deleted, still taking room
};

void
Index::GraphDeleter::operator()(Graph* graph) const
{
  delete graph;
}

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
    slot = GraphPtr(new Graph(vector.size(), m_params, k_initial_capacity));
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
Index::rebuild(GraphPtr& slot)
{
  const std::size_t capacity = std::max(k_initial_capacity, slot->live.size() * 2);
  auto fresh = GraphPtr(new Graph(slot->dim, m_params, capacity));
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

bool
Index::contains(std::string_view tenant, std::string_view scope, std::int64_t id) const
{
  std::shared_lock lock(m_mutex);
  const Graph* graph = find(tenant, scope);
  return graph != nullptr && graph->live.contains(id);
}

std::size_t
Index::keep_only(std::span<const std::int64_t> ids)
{
  std::unique_lock lock(m_mutex);
  std::size_t removed = 0;
  for (auto& [key, graph] : m_graphs) {
    std::erase_if(graph->live, [&](std::int64_t id) {
      if ((!ids.empty() && id > ids.back()) || std::binary_search(ids.begin(), ids.end(), id)) {
        return false;
      }
      graph->hnsw.markDelete(static_cast<hnswlib::labeltype>(id));
      ++graph->deleted;
      ++removed;
      return true;
    });
  }
  return removed;
}

void
Index::forget(std::string_view tenant, std::span<const std::int64_t> ids)
{
  std::unique_lock lock(m_mutex);
  const std::string prefix = scope_key(tenant, "");
  for (auto it = m_graphs.lower_bound(prefix); it != m_graphs.end() && it->first.starts_with(prefix); ++it) {
    auto& graph = *it->second;
    for (const auto id : ids) {
      if (graph.live.erase(id) > 0) {
        graph.hnsw.markDelete(static_cast<hnswlib::labeltype>(id));
        ++graph.deleted;
      }
    }
  }
}

std::size_t
Index::graph_dim(const Graph& graph)
{
  return graph.dim;
}

std::size_t
Index::graph_elements(const Graph& graph)
{
  return graph.hnsw.cur_element_count;
}

std::size_t
Index::graph_live(const Graph& graph)
{
  return graph.live.size();
}

void
Index::write_graph(const Graph& graph, const std::filesystem::path& path)
{
  // saveIndex only reads the graph, but is not declared const.
  const_cast<hnswlib::HierarchicalNSW<float>&>(graph.hnsw).saveIndex(path.string());
}

namespace {

// index_file.cpp reads the files' layout without including hnswlib.
static_assert(sizeof(hnswlib::tableint) == 4 && sizeof(hnswlib::linklistsizeint) == 4);
static_assert(sizeof(hnswlib::labeltype) == sizeof(std::size_t));

// A graph read from a file is searched without bounds checks: every link
// must name an element that exists and reaches the link's level, or a
// search would read outside the graph.
void
check_links(const hnswlib::HierarchicalNSW<float>& hnsw)
{
  const std::size_t count = hnsw.cur_element_count;
  if (hnsw.label_lookup_.size() != count) {
    throw protocol::Error(protocol::ErrorCode::bad_file, "a label appears twice");
  }
  if (count > 0 && (hnsw.enterpoint_node_ >= count || hnsw.element_levels_[hnsw.enterpoint_node_] != hnsw.maxlevel_)) {
    throw protocol::Error(protocol::ErrorCode::bad_file, "the entry point is not an element of the top level");
  }
  for (hnswlib::tableint i = 0; i < count; ++i) {
    const int level = hnsw.element_levels_[i];
    if (level < 0 || level > hnsw.maxlevel_) {
      throw protocol::Error(protocol::ErrorCode::bad_file, "an element's level is out of range");
    }
    for (int l = 0; l <= level; ++l) {
      hnswlib::linklistsizeint* list = hnsw.get_linklist_at_level(i, l);
      const std::size_t size = hnsw.getListCount(list);
      if (size > (l == 0 ? hnsw.maxM0_ : hnsw.maxM_)) {
        throw protocol::Error(protocol::ErrorCode::bad_file, "a list of links is longer than the graph allows");
      }
      const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (std::size_t j = 0; j < size; ++j) {
        if (links[j] >= count || hnsw.element_levels_[links[j]] < l) {
          throw protocol::Error(protocol::ErrorCode::bad_file, "a link points outside the graph");
        }
      }
    }
  }
}

} // namespace

Index::GraphPtr
Index::read_graph(const std::filesystem::path& path, std::size_t dim, std::size_t capacity, const IndexParams& params)
{
  auto graph = GraphPtr(new Graph(dim, path, capacity));
  auto& hnsw = graph->hnsw;
  check_links(hnsw);
  hnsw.setEf(params.ef);
  // hnswlib keeps the marks of deleted elements; live and deleted follow them.
  for (hnswlib::tableint i = 0; i < hnsw.cur_element_count; ++i) {
    if (hnsw.isMarkedDeleted(i)) {
      ++graph->deleted;
    } else {
      graph->live.insert(static_cast<std::int64_t>(hnsw.getExternalLabel(i)));
    }
  }
  return graph;
}

} // namespace omnicache::store::semantic
