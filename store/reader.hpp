#pragma once

#include "store/codec.hpp"
#include "store/entry.hpp"
#include "store/sqlite.hpp"
#include "store/stats.hpp"
#include "store/touch_log.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omnicache::store {

// Read-only access for one thread at a time. Each serving thread has its own
// Reader (its own SQLite connection), so reads never wait for one another or
// for the writer: WAL gives each statement the latest committed snapshot.
class Reader
{
public:
  Reader(const std::string& path, Stats& stats, TouchLog& touches);

  // A live entry, or nullopt. When `layer` is not empty the entry must be in
  // that layer. Counts a hit (under the entry's layer) or a miss (under
  // `layer`, or kv), and records the access for LRU.
  // With `count` false, nothing is counted (a retry of the same lookup).
  std::optional<Hit> get(std::string_view tenant, std::string_view key, std::string_view layer, std::int64_t now,
                         bool count = true);

  // Like get, without reading the value or counting anything.
  bool exists(std::string_view tenant, std::string_view key, std::int64_t now);

  std::optional<EntryInfo> inspect(std::string_view tenant, std::string_view key, std::int64_t now);

  // Live keys of a tenant in key order, after `after`, at most `limit`.
  KeysPage keys(std::string_view tenant, const Selector& selector, std::string_view after, std::size_t limit,
                std::int64_t now);

  // The vector stored for entry `id` with its entry's key and expiry, or
  // nullopt when the entry is gone. Counts nothing.
  std::optional<VectorRow> vector_of(std::int64_t id);

  // Every stored vector, in id order, for building the indexes.
  void for_each_vector(const std::function<void(VectorRow&&)>& visit);

  // Changes with every vector added or removed (schema: semantic_state).
  std::int64_t semantic_generation();

  // The embeddings of the queries entry `id` was reported to answer wrongly.
  std::vector<std::vector<float>> semantic_rejects(std::int64_t id);

private:
  sqlite::Connection m_db;
  sqlite::Statement m_get;
  sqlite::Statement m_exists;
  sqlite::Statement m_inspect;
  sqlite::Statement m_tags_of;
  sqlite::Statement m_deps_of;
  sqlite::Statement m_vector_of;
  sqlite::Statement m_rejects_of;
  Decompressor m_decompressor;
  std::string m_large;
  Stats& m_stats;
  TouchLog& m_touches;
};

} // namespace omnicache::store
