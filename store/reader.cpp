#include "store/reader.hpp"

#include "protocol/layers.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace omnicache::store {

std::int64_t
now_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

bool
alive(const sqlite::Statement& stmt, int expires_column, std::int64_t now)
{
  return stmt.column_is_null(expires_column) || stmt.column_int(expires_column) > now;
}

} // namespace

std::string
json_array(const std::vector<std::string>& items)
{
  return nlohmann::json(items).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Reader::Reader(const std::string& path, Stats& stats, TouchLog& touches)
  : m_db(path, sqlite::Connection::Mode::read_only),
    m_stats(stats),
    m_touches(touches)
{
  // Reads pages straight from the mapped file: no copy into the connection's
  // cache, which SQLite empties whenever another connection commits.
  m_db.exec("PRAGMA mmap_size = 1099511627776");
  m_get = m_db.prepare(
    fmt::format("SELECT id, layer, CASE WHEN stored_size < {} THEN value END, encoding, raw_size, expires_ms, meta"
                " FROM entries WHERE tenant = ?1 AND key = ?2",
                k_streamed_value));
  m_exists = m_db.prepare("SELECT layer, expires_ms FROM entries WHERE tenant = ?1 AND key = ?2");
  m_inspect = m_db.prepare(
    "SELECT id, layer, raw_size, stored_size, encoding, created_ms, expires_ms, access_ms, hits, meta "
    "FROM entries WHERE tenant = ?1 AND key = ?2");
  m_tags_of = m_db.prepare("SELECT tag FROM tags WHERE entry_id = ?1 ORDER BY tag");
  m_deps_of = m_db.prepare("SELECT name, version FROM entry_deps WHERE entry_id = ?1 ORDER BY name");
  m_vector_of = m_db.prepare("SELECT v.entry_id, v.tenant, e.key, v.scope, v.context, v.text, v.vector, e.expires_ms"
                             " FROM vectors v JOIN entries e ON e.id = v.entry_id WHERE v.entry_id = ?1");
  m_rejects_of = m_db.prepare("SELECT vector FROM semantic_rejects WHERE entry_id = ?1");
}

std::optional<Hit>
Reader::get(std::string_view tenant, std::string_view key, std::string_view layer, std::int64_t now, bool count)
{
  sqlite::ResetOnExit reset(m_get);
  m_get.bind(1, tenant).bind(2, key);
  if (!m_get.step() || !alive(m_get, 5, now) || (!layer.empty() && m_get.column_text(1) != layer)) {
    if (count) {
      m_stats.count(tenant, layer.empty() ? protocol::k_default_layer : layer, Counter::misses);
    }
    return std::nullopt;
  }
  Hit hit;
  hit.id = m_get.column_int(0);
  hit.layer = m_get.column_text(1);
  hit.expires_ms = m_get.column_is_null(5) ? 0 : m_get.column_int(5);
  hit.meta = m_get.column_text(6);
  const bool compressed = static_cast<Encoding>(m_get.column_int(3)) == Encoding::zstd;
  if (m_get.column_is_null(2)) { // a large value, read straight from its pages
    if (compressed) {
      m_db.read_blob("entries", "value", hit.id, m_large);
      m_decompressor.decompress(m_large, static_cast<std::uint64_t>(m_get.column_int(4)), hit.value);
      m_large = std::string();
    } else {
      m_db.read_blob("entries", "value", hit.id, hit.value);
    }
  } else if (compressed) {
    m_decompressor.decompress(m_get.column_blob(2), static_cast<std::uint64_t>(m_get.column_int(4)), hit.value);
  } else {
    hit.value.assign(m_get.column_blob(2));
  }
  if (count) {
    m_stats.count(tenant, hit.layer, Counter::hits);
  }
  m_touches.record(hit.id, now);
  return hit;
}

bool
Reader::exists(std::string_view tenant, std::string_view key, std::int64_t now)
{
  sqlite::ResetOnExit reset(m_exists);
  m_exists.bind(1, tenant).bind(2, key);
  return m_exists.step() && alive(m_exists, 1, now);
}

std::optional<EntryInfo>
Reader::inspect(std::string_view tenant, std::string_view key, std::int64_t now)
{
  EntryInfo info;
  {
    const auto view = m_touches.hold_view(); // each hit counted once: in the row or in the log
    sqlite::ResetOnExit reset(m_inspect);
    m_inspect.bind(1, tenant).bind(2, key);
    if (!m_inspect.step() || !alive(m_inspect, 6, now)) {
      return std::nullopt;
    }
    info.id = m_inspect.column_int(0);
    info.tenant = tenant;
    info.key = key;
    info.layer = m_inspect.column_text(1);
    info.raw_size = static_cast<std::uint64_t>(m_inspect.column_int(2));
    info.stored_size = static_cast<std::uint64_t>(m_inspect.column_int(3));
    info.compressed = static_cast<Encoding>(m_inspect.column_int(4)) == Encoding::zstd;
    info.created_ms = m_inspect.column_int(5);
    info.expires_ms = m_inspect.column_is_null(6) ? 0 : m_inspect.column_int(6);
    info.access_ms = m_inspect.column_int(7);
    info.hits = static_cast<std::uint64_t>(m_inspect.column_int(8));
    info.meta = m_inspect.column_text(9);
    if (const auto pending = m_touches.peek(info.id)) {
      info.access_ms = std::max(info.access_ms, pending->access_ms);
      info.hits += pending->hits;
    }
  }
  {
    sqlite::ResetOnExit reset(m_tags_of);
    m_tags_of.bind(1, info.id);
    while (m_tags_of.step()) {
      info.tags.emplace_back(m_tags_of.column_text(0));
    }
  }
  sqlite::ResetOnExit reset(m_deps_of);
  m_deps_of.bind(1, info.id);
  while (m_deps_of.step()) {
    info.deps.push_back({std::string(m_deps_of.column_text(0)), std::string(m_deps_of.column_text(1))});
  }
  return info;
}

KeysPage
Reader::keys(std::string_view tenant, const Selector& selector, std::string_view after, std::size_t limit,
             std::int64_t now)
{
  std::string sql = "SELECT key FROM entries WHERE tenant = ?1 AND key > ?2"
                    " AND (expires_ms IS NULL OR expires_ms > ?3)";
  if (!selector.pattern.empty()) {
    sql += " AND key GLOB ?4";
  }
  if (!selector.layer.empty()) {
    sql += " AND layer = ?5";
  }
  if (!selector.tags.empty()) {
    sql += " AND id IN (SELECT entry_id FROM tags WHERE tenant = ?1 AND tag IN (SELECT value FROM json_each(?7)))";
  }
  sql += " ORDER BY key LIMIT ?6";
  auto stmt = m_db.prepare(sql);
  stmt.bind(1, tenant).bind(2, after).bind(3, now).bind(6, static_cast<std::int64_t>(limit) + 1);
  if (!selector.pattern.empty()) {
    stmt.bind(4, selector.pattern);
  }
  if (!selector.layer.empty()) {
    stmt.bind(5, selector.layer);
  }
  const std::string tags_json = selector.tags.empty() ? std::string() : json_array(selector.tags);
  if (!selector.tags.empty()) {
    stmt.bind(7, tags_json);
  }
  KeysPage page;
  if (limit == 0) {
    return page;
  }
  while (stmt.step()) {
    if (page.keys.size() == limit) {
      page.next_after = page.keys.back();
      break;
    }
    page.keys.emplace_back(stmt.column_text(0));
  }
  return page;
}

namespace {

std::vector<float>
floats_of(std::string_view bytes)
{
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

VectorRow
vector_row(sqlite::Statement& stmt)
{
  VectorRow row;
  row.id = stmt.column_int(0);
  row.tenant = stmt.column_text(1);
  row.key = stmt.column_text(2);
  row.scope = stmt.column_text(3);
  row.context = stmt.column_text(4);
  row.text = stmt.column_text(5);
  row.vector = floats_of(stmt.column_blob(6));
  row.expires_ms = stmt.column_is_null(7) ? 0 : stmt.column_int(7);
  return row;
}

} // namespace

std::optional<VectorRow>
Reader::vector_of(std::int64_t id)
{
  sqlite::ResetOnExit reset(m_vector_of);
  m_vector_of.bind(1, id);
  if (!m_vector_of.step()) {
    return std::nullopt;
  }
  return vector_row(m_vector_of);
}

std::int64_t
Reader::semantic_generation()
{
  auto stmt = m_db.prepare("SELECT value FROM semantic_state WHERE name = 'generation'");
  return stmt.step() ? stmt.column_int(0) : 0;
}

std::vector<std::vector<float>>
Reader::semantic_rejects(std::int64_t id)
{
  std::vector<std::vector<float>> out;
  sqlite::ResetOnExit reset(m_rejects_of);
  m_rejects_of.bind(1, id);
  while (m_rejects_of.step()) {
    out.push_back(floats_of(m_rejects_of.column_blob(0)));
  }
  return out;
}

void
Reader::for_each_vector(const std::function<void(VectorRow&&)>& visit)
{
  auto all = m_db.prepare("SELECT v.entry_id, v.tenant, e.key, v.scope, v.context, v.text, v.vector, e.expires_ms"
                          " FROM vectors v JOIN entries e ON e.id = v.entry_id ORDER BY v.entry_id");
  while (all.step()) {
    visit(vector_row(all));
  }
}

} // namespace omnicache::store
