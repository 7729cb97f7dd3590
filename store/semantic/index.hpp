#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hnswlib {
template<typename T> class HierarchicalNSW;
class InnerProductSpace;
} // namespace hnswlib

// Approximate nearest neighbours over the vectors of semantic entries: one
// hnswlib graph per (tenant, scope), labelled by entry id. The index is a
// cache of the vectors table: a label may outlive its entry, so every
// candidate is checked against the database before it counts (the entry's
// id is never reused, so a stale label can only miss, never mislead).
namespace omnicache::store::semantic {

struct IndexParams
{
  std::size_t m = 16;
  std::size_t ef_construction = 200;
  std::size_t ef = 64;
};

struct Neighbour
{
  std::int64_t id = 0;
  float similarity = 0; // inner product of unit vectors: the cosine
};

class Index
{
public:
  explicit Index(IndexParams params);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds or replaces the vector labelled `id`. Vectors of one scope must
  // all have the same length; one of another length is ignored.
  void add(std::string_view tenant, std::string_view scope, std::int64_t id, std::span<const float> vector);

  // Forgets `id` (its entry is gone).
  void remove(std::string_view tenant, std::string_view scope, std::int64_t id);

  // Up to `k` nearest labels, most similar first.
  std::vector<Neighbour> search(std::string_view tenant, std::string_view scope, std::span<const float> query,
                                std::size_t k) const;

  void set_ef(std::size_t ef);

  // Vectors held, and scopes, over every tenant.
  std::size_t size() const;
  std::size_t scopes() const;

private:
  struct Graph;
  static std::string scope_key(std::string_view tenant, std::string_view scope);
  Graph* find(std::string_view tenant, std::string_view scope) const;
  void rebuild(std::unique_ptr<Graph>& slot);

  IndexParams m_params;
  mutable std::shared_mutex m_mutex;
  std::map<std::string, std::unique_ptr<Graph>, std::less<>> m_graphs;
};

} // namespace omnicache::store::semantic
