#pragma once

#include "cli/import/table_reader.hpp"
#include "protocol/message.hpp"
#include "protocol/ops/entries.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

// What a row of a `warm` file means: which entry it becomes, checked against
// the daemon's limits before anything is sent, so that one bad row is
// reported on its own instead of failing the request that carries it.
namespace omnicache::cli::warm {

// The columns `warm` knows. `query` is another name for `prompt` and
// `response` for `value`. deps, meta and encoding carry what `export` writes.
enum class Column { key, prompt, value, model, ttl, tags, layer, deps, meta, encoding, unknown };

Column column_of(std::string_view name);

struct RowDefaults
{
  std::string layer = "kv";            // of key rows without a layer column
  std::string model;                   // of rows without a model column
  std::optional<std::int64_t> ttl_ms;  // nullopt: the layer's default
  std::vector<std::string> tags;       // added to every row's
  bool ignore_unknown = false;
};

struct RowLimits
{
  std::uint64_t max_key_bytes = 0;
  std::uint64_t max_tags = 0;
  std::uint64_t max_tag_bytes = 0;
  std::uint64_t max_value_bytes = 0;
};

// One entry to store. A prompt row without a value keeps its prompt for
// --exec to answer.
struct Entry
{
  std::size_t line = 0;
  std::string key;
  std::string layer;
  std::optional<std::int64_t> ttl_ms;
  std::vector<std::string> tags;
  std::string model;
  protocol::Json meta; // null: none
  protocol::Json deps; // null: none; else as `set` takes them
  std::optional<std::string> value;
  std::string prompt;
};

struct Failure
{
  std::size_t line = 0;
  std::string message;
};

using Mapped = std::variant<Entry, Failure>;

// The `set` (or, but for its size, the `mset` entry) that stores `entry`,
// without its value.
protocol::ops::SetRequest set_request(const Entry& entry);

class RowMapper
{
public:
  RowMapper(RowDefaults defaults, RowLimits limits);

  // A CSV header must name known columns (unless ignore_unknown), and no
  // two of them the same thing. Throws import::ImportError.
  void check_columns(std::string_view file, const std::vector<std::string>& columns) const;

  Mapped map(import::Row&& row) const;

  // The meta of an entry of `model` whose value is `value`: the model and
  // the token counts the value reports, if any. Null without a model.
  static protocol::Json meta_for(std::string_view model, std::string_view value);

private:
  std::optional<std::string> check_tags(const std::vector<std::string>& tags) const;
  std::optional<std::string> read_deps(const std::string& text, Entry& entry) const;

  RowDefaults m_defaults;
  RowLimits m_limits;
};

} // namespace omnicache::cli::warm
