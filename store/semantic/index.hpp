#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
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

// What load() did: used the saved files, or why not.
struct LoadResult
{
  bool loaded = false;
  std::string reason; // when not loaded, for the log: "no saved index", "saved at generation 7, the database is at 9"
  std::size_t vectors = 0;
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

  // Whether `id` is held in the graph of (tenant, scope).
  bool contains(std::string_view tenant, std::string_view scope, std::int64_t id) const;

  // Forgets every label not in `ids` (sorted ascending) and not above
  // `ids`' last (ids only grow, so a label above it was added since `ids`
  // was read); returns how many.
  std::size_t keep_only(std::span<const std::int64_t> ids);

  // Forgets these ids of a tenant, in whichever scope holds them (their
  // entries are gone).
  void forget(std::string_view tenant, std::span<const std::int64_t> ids);

  // Files (index_file.cpp). `dir` holds one hnswlib file per graph and a
  // manifest naming them, the database's vectors `generation` they match,
  // and the parameters they were built with. save() replaces the folder's
  // contents atomically (the manifest goes last) and returns the vectors
  // written; it throws (a std::exception) when it cannot. load() replaces
  // this index with the saved one when the manifest's generation and
  // parameters match and every file checks out; otherwise it leaves the
  // index as it was and says why. Neither may run while others use the index.
  std::size_t save(const std::filesystem::path& dir, std::int64_t generation) const;
  LoadResult load(const std::filesystem::path& dir, std::int64_t generation);

private:
  struct Graph;
  struct GraphDeleter
  {
    void operator()(Graph* graph) const;
  };
  using GraphPtr = std::unique_ptr<Graph, GraphDeleter>;
  using Graphs = std::map<std::string, GraphPtr, std::less<>>;

  // A graph's room starts here and doubles when full, so it is never more
  // than twice its elements or this.
  static constexpr std::size_t k_initial_capacity = 1024;

  static std::string scope_key(std::string_view tenant, std::string_view scope);
  Graph* find(std::string_view tenant, std::string_view scope) const;
  void rebuild(GraphPtr& slot);

  // One graph's file, as hnswlib writes and reads it (index.cpp). read_graph
  // throws protocol::Error (bad_file) when the graph it read is not sound.
  static std::size_t graph_dim(const Graph& graph);
  static std::size_t graph_elements(const Graph& graph);
  static std::size_t graph_live(const Graph& graph);
  static void write_graph(const Graph& graph, const std::filesystem::path& path);
  static GraphPtr read_graph(const std::filesystem::path& path, std::size_t dim, std::size_t capacity,
                             const IndexParams& params);
  // The graphs and the manifest, into an empty folder (index_file.cpp).
  std::size_t write_files(const std::filesystem::path& dir, std::int64_t generation) const;

  IndexParams m_params;
  mutable std::shared_mutex m_mutex;
  Graphs m_graphs;
};

} // namespace omnicache::store::semantic
