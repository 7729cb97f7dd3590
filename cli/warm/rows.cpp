#include "cli/warm/rows.hpp"

#include "cli/import/base64.hpp"
#include "cli/llm.hpp"
#include "protocol/layers.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <array>

namespace omnicache::cli::warm {

namespace {

using protocol::Json;

struct ColumnName
{
  std::string_view name;
  Column column;
};

constexpr std::array<ColumnName, 12> k_column_names{{
  {"key", Column::key},
  {"prompt", Column::prompt},
  {"query", Column::prompt},
  {"value", Column::value},
  {"response", Column::value},
  {"model", Column::model},
  {"ttl", Column::ttl},
  {"tags", Column::tags},
  {"layer", Column::layer},
  {"deps", Column::deps},
  {"meta", Column::meta},
  {"encoding", Column::encoding},
}};

constexpr std::size_t k_columns = static_cast<std::size_t>(Column::unknown);

// A row's known fields by column, and the names they came under (empty when
// absent). An empty field counts as absent: CSV cannot tell them apart.
struct Cells
{
  std::array<std::optional<std::string>, k_columns> text;
  std::array<std::string_view, k_columns> name;

  std::optional<std::string>& operator[](Column column) { return text[static_cast<std::size_t>(column)]; }
};

std::string
known_columns()
{
  std::string out;
  for (const auto& entry : k_column_names) {
    out += out.empty() ? "" : ", ";
    out += entry.name;
  }
  return out;
}

// "a; b;;c" -> a, b, c
std::vector<std::string>
split_tags(std::string_view text)
{
  std::vector<std::string> tags;
  while (!text.empty()) {
    const auto end = text.find(';');
    auto tag = text.substr(0, end);
    const auto first = tag.find_first_not_of(" \t");
    if (first != std::string_view::npos) {
      tag = tag.substr(first, tag.find_last_not_of(" \t") - first + 1);
      llm::add_tags(tags, {std::string(tag)});
    }
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return tags;
}

// "a; b" as split_tags reads it, or a JSON array of strings, the way export
// writes names that hold a ';' or blanks at either end. nullopt: neither.
std::optional<std::vector<std::string>>
read_tags(const std::string& text)
{
  if (!text.starts_with('[')) {
    return split_tags(text);
  }
  const auto list = Json::parse(text, nullptr, false);
  if (list.is_discarded() || !list.is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> tags;
  for (const auto& tag : list) {
    if (!tag.is_string()) {
      return std::nullopt;
    }
    llm::add_tags(tags, {tag.get<std::string>()});
  }
  return tags;
}

std::string
layer_list()
{
  std::string out;
  for (auto name : protocol::k_layer_names) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

// Gathers the row's known fields into `cells`; says what is wrong with them
// otherwise.
std::optional<std::string>
collect_cells(import::Row& row, bool ignore_unknown, Cells& cells)
{
  for (auto& [name, text] : row.fields) {
    const Column column = column_of(name);
    if (column == Column::unknown) {
      if (ignore_unknown) {
        continue;
      }
      return fmt::format("unknown field \"{}\" (known: {}; --ignore-unknown skips others)", name, known_columns());
    }
    auto& seen = cells.name[static_cast<std::size_t>(column)];
    if (!seen.empty()) {
      return fmt::format("fields \"{}\" and \"{}\" mean the same; keep one", seen, name);
    }
    seen = name;
    if (!text.empty()) {
      cells[column] = std::move(text);
    }
  }
  return std::nullopt;
}

// The value as the encoding column says it is written: text (the default)
// or base64, for bytes that are not UTF-8. A row that names an encoding has
// a value even when its value field is empty: the empty value, which export
// writes so because an empty CSV field cannot be told from a missing one.
std::optional<std::string>
decode_value(Cells& cells, std::optional<std::string>& value)
{
  const auto& encoding = cells[Column::encoding];
  if (!encoding) {
    value = std::move(cells[Column::value]);
    return std::nullopt;
  }
  if (*encoding != "text" && *encoding != "base64") {
    return fmt::format("encoding \"{}\" is not text or base64", *encoding);
  }
  const std::string written = cells[Column::value].value_or("");
  if (*encoding == "text") {
    value = written;
    return std::nullopt;
  }
  value = import::decode_base64(written);
  return value ? std::nullopt : std::optional<std::string>("the value is not base64 (encoding base64)");
}

// The meta column's members join (and win over) the meta warm makes itself.
std::optional<std::string>
apply_meta(const std::string& text, Entry& entry)
{
  auto meta = Json::parse(text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) {
    return "meta must be a JSON object";
  }
  if (entry.meta.is_object()) {
    entry.meta.update(meta);
  } else {
    entry.meta = std::move(meta);
  }
  return std::nullopt;
}

// A prompt row: the response entry for its model and prompt.
std::optional<std::string>
make_prompt_entry(Cells& cells, const std::vector<std::string>& tags, Entry& entry)
{
  if (entry.model.empty()) {
    return "a prompt row needs a model (a model column or --model)";
  }
  if (const auto& layer = cells[Column::layer]; layer && *layer != "response") {
    return fmt::format("a prompt row is a response entry; its layer cannot be \"{}\"", *layer);
  }
  auto& prompt = *cells[Column::prompt];
  const auto usage = entry.value ? llm::usage_of_answer(*entry.value) : llm::Usage();
  Json fields;
  try {
    fields = llm::response_fields(entry.model, prompt, tags, usage);
  } catch (const protocol::Error& e) {
    return e.what();
  }
  entry.key = std::move(fields["key"].get_ref<std::string&>());
  entry.layer = "response";
  entry.tags = fields["tags"].get<std::vector<std::string>>();
  entry.meta = std::move(fields["meta"]);
  if (!entry.value) {
    entry.prompt = std::move(prompt);
  }
  return std::nullopt;
}

// A key row: a plain entry, tagged with its model if it has one.
std::optional<std::string>
make_key_entry(Cells& cells, const RowLimits& limits, const std::string& default_layer,
               const std::vector<std::string>& tags, Entry& entry)
{
  auto& key = *cells[Column::key];
  if (key.size() > limits.max_key_bytes) {
    return fmt::format("key of {} bytes is over the limit of {} bytes (limits.max_key_bytes)", key.size(),
                       limits.max_key_bytes);
  }
  entry.layer = cells[Column::layer].value_or(default_layer);
  if (!protocol::is_layer(entry.layer)) {
    return fmt::format("unknown layer \"{}\" (layers: {})", entry.layer, layer_list());
  }
  if (!entry.value) {
    return "no value";
  }
  entry.key = std::move(key);
  if (!entry.model.empty()) {
    entry.tags = {llm::model_tag(entry.model)};
    entry.meta = RowMapper::meta_for(entry.model, *entry.value);
  }
  llm::add_tags(entry.tags, tags);
  return std::nullopt;
}

} // namespace

Column
column_of(std::string_view name)
{
  for (const auto& entry : k_column_names) {
    if (entry.name == name) {
      return entry.column;
    }
  }
  return Column::unknown;
}

protocol::ops::SetRequest
set_request(const Entry& entry)
{
  protocol::ops::SetRequest request;
  request.key = entry.key;
  request.layer = entry.layer;
  request.tags = entry.tags;
  request.ttl_ms = entry.ttl_ms;
  request.meta = entry.meta;
  request.deps = entry.deps;
  return request;
}

RowMapper::RowMapper(RowDefaults defaults, RowLimits limits)
  : m_defaults(std::move(defaults)),
    m_limits(limits)
{
}

void
RowMapper::check_columns(std::string_view file, const std::vector<std::string>& columns) const
{
  std::array<std::string_view, k_columns> seen{};
  for (const auto& name : columns) {
    const Column column = column_of(name);
    if (column == Column::unknown) {
      if (m_defaults.ignore_unknown) {
        continue;
      }
      throw import::ImportError(fmt::format("{}: unknown column \"{}\" (known: {}; --ignore-unknown skips others)",
                                            file, name, known_columns()));
    }
    auto& first = seen[static_cast<std::size_t>(column)];
    if (!first.empty()) {
      throw import::ImportError(
        fmt::format("{}: columns \"{}\" and \"{}\" mean the same; keep one", file, first, name));
    }
    first = name;
  }
  if (seen[static_cast<std::size_t>(Column::key)].empty() && seen[static_cast<std::size_t>(Column::prompt)].empty()) {
    throw import::ImportError(fmt::format("{}: the header names no \"key\" or \"prompt\" column", file));
  }
}

Json
RowMapper::meta_for(std::string_view model, std::string_view value)
{
  return model.empty() ? Json() : llm::meta_of(model, llm::usage_of_answer(value));
}

std::optional<std::string>
RowMapper::check_tags(const std::vector<std::string>& tags) const
{
  if (tags.size() > m_limits.max_tags) {
    return fmt::format("{} tags is over the limit of {} (limits.max_tags)", tags.size(), m_limits.max_tags);
  }
  for (const auto& tag : tags) {
    if (tag.empty()) {
      return "a tag must not be empty";
    }
    if (tag.size() > m_limits.max_tag_bytes) {
      return fmt::format("tag of {} bytes is over the limit of {} bytes (limits.max_tag_bytes)", tag.size(),
                         m_limits.max_tag_bytes);
    }
  }
  return std::nullopt;
}

// deps: a JSON array of names and {"name", "version"} objects, as export
// writes it, or names separated by ';'. Checked here, since the daemon
// refuses a whole request for one bad entry.
std::optional<std::string>
RowMapper::read_deps(const std::string& text, Entry& entry) const
{
  Json deps = Json::array();
  if (text.starts_with('[')) { // as export writes them
    deps = Json::parse(text, nullptr, false);
    if (deps.is_discarded() || !deps.is_array()) {
      return "deps must be a JSON array, or names separated by ';'";
    }
  } else {
    for (auto& name : split_tags(text)) {
      deps.push_back(std::move(name));
    }
  }
  if (deps.size() > m_limits.max_tags) {
    return fmt::format("{} dependencies is over the limit of {} (limits.max_tags)", deps.size(), m_limits.max_tags);
  }
  for (const auto& dep : deps) {
    const Json name = dep.is_object() ? dep.value("name", Json()) : dep;
    const Json version = dep.is_object() ? dep.value("version", Json("")) : Json("");
    if (!name.is_string() || name.get_ref<const std::string&>().empty() || !version.is_string()) {
      return R"(each dependency must be a name or {"name": N, "version": V} with strings)";
    }
    const auto longest = std::max(name.get_ref<const std::string&>().size(), version.get_ref<const std::string&>().size());
    if (longest > m_limits.max_tag_bytes) {
      return fmt::format("dependency of {} bytes is over the limit of {} bytes (limits.max_tag_bytes)", longest,
                         m_limits.max_tag_bytes);
    }
  }
  if (!deps.empty()) {
    entry.deps = std::move(deps);
  }
  return std::nullopt;
}

Mapped
RowMapper::map(import::Row&& row) const
{
  const std::size_t line = row.line;
  auto fail = [line](std::string message) { return Mapped(Failure{line, std::move(message)}); };
  Cells cells;
  if (auto problem = collect_cells(row, m_defaults.ignore_unknown, cells)) {
    return fail(std::move(*problem));
  }
  if (cells[Column::key] && cells[Column::prompt]) {
    return fail("a row has either a key or a prompt, not both");
  }
  if (!cells[Column::key] && !cells[Column::prompt]) {
    return fail("no key and no prompt");
  }

  Entry entry;
  entry.line = line;
  entry.model = cells[Column::model].value_or(m_defaults.model);
  entry.ttl_ms = m_defaults.ttl_ms;
  if (const auto& ttl = cells[Column::ttl]) {
    const auto ms = protocol::parse_duration_ms(*ttl);
    if (!ms) {
      return fail(fmt::format("ttl \"{}\" is not a duration (use e.g. 30s, 10m, 2h, 7d, never)", *ttl));
    }
    entry.ttl_ms = *ms;
  }
  std::vector<std::string> tags;
  if (cells[Column::tags]) {
    auto read = read_tags(*cells[Column::tags]);
    if (!read) {
      return fail(R"(tags must be names separated by ';', or a JSON array of strings)");
    }
    tags = std::move(*read);
  }
  llm::add_tags(tags, m_defaults.tags);
  if (auto problem = decode_value(cells, entry.value)) {
    return fail(std::move(*problem));
  }
  if (entry.value && entry.value->size() > m_limits.max_value_bytes) {
    return fail(fmt::format("value of {} bytes is over the limit of {} bytes (limits.max_frame_bytes)",
                            entry.value->size(), m_limits.max_value_bytes));
  }
  auto problem = cells[Column::prompt] ? make_prompt_entry(cells, tags, entry)
                                       : make_key_entry(cells, m_limits, m_defaults.layer, tags, entry);
  if (!problem && cells[Column::meta]) {
    problem = apply_meta(*cells[Column::meta], entry);
  }
  if (!problem && cells[Column::deps]) {
    problem = read_deps(*cells[Column::deps], entry);
  }
  if (!problem) {
    problem = check_tags(entry.tags);
  }
  return problem ? fail(std::move(*problem)) : Mapped(std::move(entry));
}

} // namespace omnicache::cli::warm
