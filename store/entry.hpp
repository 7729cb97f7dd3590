#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <optional>
#include <string>
#include <vector>

// What the store reads and writes. Times are milliseconds since the Unix epoch.
namespace omnicache::store {

std::int64_t now_ms();

// Values at least this large (as stored) are written and read with
// incremental blob I/O, so that SQLite never holds a second copy.
inline constexpr std::size_t k_streamed_value = 1 << 20;

// A JSON array of strings, for binding a list to one SQL parameter (json_each).
std::string json_array(const std::vector<std::string>& items);

// Data an entry was computed from. An entry written under an older version
// of a dependency is removed when a newer version is recorded.
struct Dependency
{
  std::string name;
  std::string version; // empty: whatever version is current
};

// What a semantic entry adds: the text it answers and its embedding.
struct VectorWrite
{
  std::string scope;
  std::string context;
  std::string text;
  std::vector<float> vector;
};

// A stored vector and the entry it belongs to.
struct VectorRow
{
  std::int64_t id = 0;
  std::string tenant;
  std::string key;
  std::string scope;
  std::string context;
  std::string text;
  std::vector<float> vector;
  std::int64_t expires_ms = 0; // 0: never
};

struct EntryWrite
{
  std::string tenant;
  std::string layer;
  std::string key;
  std::string value;
  // A large value stays in the request's buffer instead of `value`.
  std::shared_ptr<const std::string> value_owner;
  std::string_view value_view;
  std::string_view bytes() const { return value_owner ? value_view : std::string_view(value); }
  std::int64_t ttl_ms = 0; // 0: never expires
  std::vector<std::string> tags;
  std::vector<Dependency> deps;
  std::string meta; // JSON object text, or empty
  std::optional<VectorWrite> vector;
};

struct Hit
{
  std::int64_t id = 0;
  std::string layer;
  std::string value;
  std::int64_t expires_ms = 0; // 0: never
  std::string meta;            // JSON object text, or empty
};

struct EntryInfo
{
  std::int64_t id = 0;
  std::string tenant;
  std::string layer;
  std::string key;
  std::uint64_t raw_size = 0;
  std::uint64_t stored_size = 0;
  bool compressed = false;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0; // 0: never
  std::int64_t access_ms = 0;
  std::uint64_t hits = 0;
  std::vector<std::string> tags;
  std::vector<Dependency> deps; // with the versions written under
  std::string meta;
};

// Which entries of a tenant an operation applies to. Every part that is set
// must match: any one of the tags, the glob pattern, the layer.
struct Selector
{
  std::vector<std::string> tags;
  std::string pattern; // SQLite GLOB: * ? [abc] [^abc]; empty: any key
  std::string layer;   // empty: any layer
  bool empty() const { return tags.empty() && pattern.empty() && layer.empty(); }
};

struct KeysPage
{
  std::vector<std::string> keys;
  std::optional<std::string> next_after; // set when there may be more
};

struct StoreLimits
{
  std::uint64_t max_bytes = 0;   // 0: no limit
  std::uint64_t max_entries = 0; // 0: no limit
  std::uint64_t compress_threshold = 4096;
  int compress_level = 3;
  std::int64_t sweep_interval_ms = 1000;
  std::int64_t sweep_budget_ms = 20;
};

} // namespace omnicache::store
