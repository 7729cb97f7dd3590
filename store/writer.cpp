#include "store/writer.hpp"

#include "protocol/error.hpp"
#include "protocol/layers.hpp"
#include "store/schema.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <iterator>
#include <utility>
#include <vector>

namespace omnicache::store {

using protocol::Error;
using protocol::ErrorCode;

namespace {

constexpr std::uint64_t k_sweep_batch = 256;

// Every removal reports what it removed, so the figures stay exact.
constexpr std::string_view k_removed_columns =
  " RETURNING tenant, layer, raw_size, stored_size, length(CAST(key AS BLOB)), expires_ms, id";

std::string
removal_sql(std::string_view where)
{
  return fmt::format("DELETE FROM entries WHERE {}{}", where, k_removed_columns);
}

const char*
sync_pragma(const std::string& sync)
{
  if (sync == "full") {
    return "PRAGMA synchronous = FULL";
  }
  if (sync == "off") {
    return "PRAGMA synchronous = OFF";
  }
  return "PRAGMA synchronous = NORMAL";
}

} // namespace

Writer::Writer(const std::string& path, const std::string& sync, Stats& stats, TouchLog& touches)
  : m_db(path, sqlite::Connection::Mode::read_write_create),
    m_stats(stats),
    m_touches(touches)
{
  // Migrating first refuses another program's database before anything in
  // the file is changed, even its journal mode.
  migrate(m_db);
  m_db.exec("PRAGMA journal_mode = WAL");
  m_db.exec(sync_pragma(sync));
  // Every replaced or removed entry touches pages spread over the whole table
  // and its indexes; a larger cache keeps them between commits.
  m_db.exec("PRAGMA cache_size = -65536");
  // Commits never checkpoint: the Checkpointer does, on its own thread (see
  // on_log_grew). A log that grew large under a burst is cut back to 64 MiB
  // when it restarts.
  m_db.exec("PRAGMA journal_size_limit = 67108864");
  m_begin = m_db.prepare("BEGIN IMMEDIATE");
  m_commit = m_db.prepare("COMMIT");
  m_savepoint = m_db.prepare("SAVEPOINT job");
  m_release = m_db.prepare("RELEASE job");
  m_rollback_to = m_db.prepare("ROLLBACK TO job");
  m_find = m_db.prepare("SELECT id, expires_ms FROM entries WHERE tenant = ?1 AND key = ?2");
  m_insert = m_db.prepare(
    "INSERT INTO entries(tenant, key, layer, value, encoding, raw_size, stored_size, created_ms, expires_ms,"
    " access_ms, meta) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?10)");
  m_delete_id = m_db.prepare(removal_sql("id = ?1"));
  m_delete_key = m_db.prepare(removal_sql("tenant = ?1 AND key = ?2"));
  m_insert_vector = m_db.prepare(
    "INSERT INTO vectors(entry_id, tenant, scope, context, text, vector) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  m_insert_tag = m_db.prepare("INSERT OR IGNORE INTO tags(tenant, tag, entry_id) VALUES(?1, ?2, ?3)");
  m_touch = m_db.prepare("UPDATE entries SET access_ms = max(access_ms, ?2), hits = hits + ?3 WHERE id = ?1");
  m_save_counter = m_db.prepare("INSERT INTO counters(tenant, layer, name, value) VALUES(?1, ?2, ?3, ?4)"
                                " ON CONFLICT DO UPDATE SET value = excluded.value");
  m_sweep = m_db.prepare(removal_sql(fmt::format(
    "id IN (SELECT id FROM entries WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT {})", k_sweep_batch)));
  m_evict = m_db.prepare(removal_sql("id IN (SELECT id FROM entries ORDER BY access_ms, id LIMIT ?1)"));
  m_dep_version = m_db.prepare("SELECT version FROM deps WHERE tenant = ?1 AND name = ?2");
  m_dep_record = m_db.prepare("INSERT INTO deps(tenant, name, version, updated_ms) VALUES(?1, ?2, ?3, ?4)"
                              " ON CONFLICT DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms");
  m_dep_remove = m_db.prepare(
    removal_sql("id IN (SELECT entry_id FROM entry_deps WHERE tenant = ?1 AND name = ?2)"));
  m_dep_link = m_db.prepare("INSERT OR IGNORE INTO entry_deps(tenant, name, entry_id, version) VALUES(?1, ?2, ?3, ?4)");
  m_save_model = m_db.prepare("INSERT INTO model_counters(tenant, model, name, value) VALUES(?1, ?2, ?3, ?4)"
                              " ON CONFLICT DO UPDATE SET value = excluded.value");
}

void
Writer::begin()
{
  m_begin.run();
}

void
Writer::commit()
{
  const auto view = m_touches.hold_view();
  m_commit.run();
  m_touches.settle(true);
}

void
Writer::rollback()
{
  if (sqlite3_get_autocommit(m_db.handle()) == 0) {
    m_db.exec("ROLLBACK");
  }
  m_touches.settle(false);
  m_batch.clear();
  m_job.clear();
  m_batch_changes.clear();
  m_job_changes.clear();
}

void
Writer::begin_job(const Origin& origin)
{
  m_job.clear();
  m_job_changes.clear();
  m_origin = origin;
  m_savepoint.run();
}

void
Writer::end_job()
{
  m_release.run();
  m_batch.merge(m_job);
  m_job.clear();
  std::move(m_job_changes.begin(), m_job_changes.end(), std::back_inserter(m_batch_changes));
  m_job_changes.clear();
}

void
Writer::abort_job()
{
  m_rollback_to.run();
  m_release.run();
  m_job.clear();
  m_job_changes.clear();
}

Delta
Writer::take_batch_delta()
{
  return std::exchange(m_batch, {});
}

std::vector<Change>
Writer::take_batch_changes()
{
  return std::exchange(m_batch_changes, {});
}

void
Writer::record(Change change)
{
  change.origin = m_origin;
  m_job_changes.push_back(std::move(change));
}

void
Writer::record_removal(Removal removal)
{
  Change change;
  change.kind = Change::Kind::removal;
  change.removal = std::move(removal);
  record(std::move(change));
}

Gauges
Writer::totals() const
{
  Gauges total = m_stats.total_gauges();
  total += m_batch.total();
  total += m_job.total();
  return total;
}

Writer::Removed
Writer::remove(sqlite::Statement& stmt, Reason reason, std::int64_t now)
{
  sqlite::ResetOnExit reset(stmt);
  Removed removed;
  while (stmt.step()) {
    ++removed.rows;
    const auto tenant = stmt.column_text(0);
    const auto layer = stmt.column_text(1);
    m_job.gauge(tenant, layer,
                Gauges{-1, -stmt.column_int(2), -stmt.column_int(3), -stmt.column_int(4)});
    if (protocol::is_semantic_layer(layer)) {
      m_job.removed(tenant, stmt.column_int(6));
    }
    const bool expired = !stmt.column_is_null(5) && stmt.column_int(5) <= now;
    if (expired) {
      m_job.count(tenant, layer, Counter::expirations);
      continue;
    }
    ++removed.live;
    switch (reason) {
    case Reason::replaced:
      break;
    case Reason::deleted:
      m_job.count(tenant, layer, Counter::deletes);
      break;
    case Reason::invalidated:
      m_job.count(tenant, layer, Counter::invalidations);
      break;
    case Reason::expired:
      m_job.count(tenant, layer, Counter::expirations);
      break;
    case Reason::evicted:
      m_job.count(tenant, layer, Counter::evictions);
      break;
    }
  }
  return removed;
}

bool
Writer::set(const EntryWrite& entry, std::int64_t now)
{
  const std::string_view value = entry.bytes();
  std::string_view stored = value;
  const Encoding encoding = m_compressor.compress(value, m_limits.compress_threshold,
                                                  m_limits.compress_level, m_compressed);
  if (encoding == Encoding::zstd) {
    stored = m_compressed;
  }
  if (m_limits.max_bytes != 0 && stored.size() + entry.key.size() > m_limits.max_bytes) {
    throw Error(ErrorCode::too_large,
                fmt::format("an entry of {} bytes (key plus value as stored) does not fit in store.max_bytes ({})",
                            stored.size() + entry.key.size(), m_limits.max_bytes));
  }

  const auto deps = resolve_dependencies(entry, now);

  // A new value is a new entry: its old tags, hits and id go with the old one.
  m_delete_key.bind(1, entry.tenant).bind(2, entry.key);
  const bool replaced = remove(m_delete_key, Reason::replaced, now).live > 0;

  const bool streamed = stored.size() >= k_streamed_value;
  m_insert.bind(1, entry.tenant).bind(2, entry.key).bind(3, entry.layer);
  if (streamed) {
    m_insert.bind_zeroblob(4, stored.size());
  } else {
    m_insert.bind_blob(4, stored);
  }
  m_insert.bind(5, static_cast<std::int64_t>(encoding))
    .bind(6, static_cast<std::int64_t>(value.size()))
    .bind(7, static_cast<std::int64_t>(stored.size()))
    .bind(8, now);
  if (entry.ttl_ms > 0) {
    // Saturates rather than overflows: a TTL past the end of time is "never" in effect.
    m_insert.bind(9, entry.ttl_ms > INT64_MAX - now ? INT64_MAX : now + entry.ttl_ms);
  } else {
    m_insert.bind_null(9);
  }
  if (entry.meta.empty()) {
    m_insert.bind_null(10);
  } else {
    m_insert.bind(10, entry.meta);
  }
  m_insert.run();
  const std::int64_t id = sqlite3_last_insert_rowid(m_db.handle());
  if (streamed) {
    m_db.write_blob("entries", "value", id, stored);
  }

  for (const auto& tag : entry.tags) {
    m_insert_tag.bind(1, entry.tenant).bind(2, tag).bind(3, id);
    m_insert_tag.run();
  }
  link_dependencies(entry, id, deps);
  if (entry.vector) {
    // Vectors are stored as the machine's floats; the format is little-endian.
    static_assert(std::endian::native == std::endian::little);
    const auto& v = *entry.vector;
    m_insert_vector.bind(1, id).bind(2, entry.tenant).bind(3, v.scope).bind(4, v.context).bind(5, v.text);
    m_insert_vector.bind_blob(
      6, std::string_view(reinterpret_cast<const char*>(v.vector.data()), v.vector.size() * sizeof(float)));
    m_insert_vector.run();
  }
  m_last_id = id;
  Change change;
  change.entry = &entry;
  change.id = id;
  change.written_ms = now;
  change.replaced = replaced;
  record(std::move(change));
  m_job.count(entry.tenant, entry.layer, Counter::sets);
  m_job.gauge(entry.tenant, entry.layer,
              Gauges{1, static_cast<std::int64_t>(value.size()), static_cast<std::int64_t>(stored.size()),
                     static_cast<std::int64_t>(entry.key.size())});
  return replaced;
}

bool
Writer::exists(std::string_view tenant, std::string_view key, std::int64_t now)
{
  sqlite::ResetOnExit reset(m_find);
  m_find.bind(1, tenant).bind(2, key);
  return m_find.step() && (m_find.column_is_null(1) || m_find.column_int(1) > now);
}

std::optional<std::int64_t>
Writer::add_semantic_reject(std::string_view tenant, std::string_view key, std::string_view text,
                            std::span<const float> vector, std::int64_t now)
{
  auto find = m_db.prepare("SELECT e.id FROM entries e JOIN vectors v ON v.entry_id = e.id"
                           " WHERE e.tenant = ?1 AND e.key = ?2 AND (e.expires_ms IS NULL OR e.expires_ms > ?3)");
  find.bind(1, tenant).bind(2, key).bind(3, now);
  if (!find.step()) {
    return std::nullopt;
  }
  const std::int64_t id = find.column_int(0);
  auto insert = m_db.prepare("INSERT INTO semantic_rejects(entry_id, text, vector) VALUES(?1, ?2, ?3)"
                             " ON CONFLICT DO UPDATE SET vector = excluded.vector");
  insert.bind(1, id).bind(2, text);
  insert.bind_blob(3, std::string_view(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float)));
  insert.run();
  return id;
}

std::uint64_t
Writer::remove_keys(std::string_view tenant, const std::vector<std::string>& keys, std::int64_t now)
{
  std::uint64_t removed = 0;
  for (const auto& key : keys) {
    m_delete_key.bind(1, tenant).bind(2, key);
    removed += remove(m_delete_key, Reason::deleted, now).live;
  }
  Removal removal;
  removal.kind = Removal::Kind::keys;
  removal.tenant = tenant;
  removal.keys = keys;
  record_removal(std::move(removal));
  return removed;
}

std::uint64_t
Writer::invalidate(std::string_view tenant, const Selector& selector, std::int64_t now)
{
  if (selector.empty()) {
    throw Error(ErrorCode::bad_request, "invalidate needs at least one tag, a pattern or a layer");
  }
  std::string where = "tenant = ?1";
  if (!selector.pattern.empty()) {
    where += " AND key GLOB ?2";
  }
  if (!selector.layer.empty()) {
    where += " AND layer = ?3";
  }
  if (!selector.tags.empty()) {
    where += " AND id IN (SELECT entry_id FROM tags WHERE tenant = ?1 AND tag IN (SELECT value FROM json_each(?4)))";
  }
  auto stmt = m_db.prepare(removal_sql(where));
  stmt.bind(1, tenant);
  if (!selector.pattern.empty()) {
    stmt.bind(2, selector.pattern);
  }
  if (!selector.layer.empty()) {
    stmt.bind(3, selector.layer);
  }
  const std::string tags = json_array(selector.tags);
  if (!selector.tags.empty()) {
    stmt.bind(4, tags);
  }
  const auto removed = remove(stmt, Reason::invalidated, now).live;
  Removal removal;
  removal.kind = Removal::Kind::selector;
  removal.tenant = tenant;
  removal.selector = selector;
  record_removal(std::move(removal));
  return removed;
}

std::uint64_t
Writer::flush(std::optional<std::string_view> tenant, std::int64_t now)
{
  auto stmt = m_db.prepare(removal_sql(tenant ? "tenant = ?1" : "1"));
  if (tenant) {
    stmt.bind(1, *tenant);
  }
  const auto removed = remove(stmt, Reason::invalidated, now).live;
  Removal removal;
  removal.kind = Removal::Kind::flush;
  removal.tenant = tenant.value_or(std::string_view());
  removal.all_tenants = !tenant;
  record_removal(std::move(removal));
  return removed;
}

std::uint64_t
Writer::remove(const Removal& removal, std::int64_t now)
{
  switch (removal.kind) {
  case Removal::Kind::keys:
    return remove_keys(removal.tenant, removal.keys, now);
  case Removal::Kind::selector:
    return invalidate(removal.tenant, removal.selector, now);
  case Removal::Kind::deps:
    return invalidate_dependencies(removal.tenant, removal.deps, removal.version, now);
  case Removal::Kind::flush:
    return removal.all_tenants ? flush(std::nullopt, now) : flush(std::string_view(removal.tenant), now);
  }
  return 0;
}

std::uint64_t
Writer::sweep_expired(std::int64_t now, std::int64_t budget_ms)
{
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
  std::uint64_t removed = 0;
  for (;;) {
    m_sweep.bind(1, now);
    const Removed round = remove(m_sweep, Reason::expired, now);
    removed += round.rows;
    if (round.rows < k_sweep_batch || std::chrono::steady_clock::now() >= deadline) {
      return removed;
    }
  }
}

bool
Writer::over_limits() const
{
  const Gauges total = totals();
  return (m_limits.max_entries != 0 && static_cast<std::uint64_t>(total.entries) > m_limits.max_entries)
         || (m_limits.max_bytes != 0 && static_cast<std::uint64_t>(total.accounted_bytes()) > m_limits.max_bytes);
}

std::uint64_t
Writer::evict_to_limits()
{
  if (!over_limits()) {
    return 0;
  }
  // LRU order needs the latest accesses.
  write_touches();
  std::uint64_t evicted = 0;
  while (over_limits()) {
    const Gauges total = totals();
    std::int64_t count = 1;
    if (m_limits.max_entries != 0 && static_cast<std::uint64_t>(total.entries) > m_limits.max_entries) {
      count = total.entries - static_cast<std::int64_t>(m_limits.max_entries);
    }
    if (m_limits.max_bytes != 0 && total.entries > 0
        && static_cast<std::uint64_t>(total.accounted_bytes()) > m_limits.max_bytes) {
      const std::int64_t excess = total.accounted_bytes() - static_cast<std::int64_t>(m_limits.max_bytes);
      const std::int64_t average = std::max<std::int64_t>(1, total.accounted_bytes() / total.entries);
      count = std::max(count, excess / average + 1);
    }
    m_evict.bind(1, std::min<std::int64_t>(count, 1000));
    const std::uint64_t removed = remove(m_evict, Reason::evicted, now_ms()).rows;
    evicted += removed;
    if (removed == 0 && totals().entries == 0) {
      break;
    }
  }
  return evicted;
}

void
Writer::write_touches()
{
  // A failure here fails the transaction, whose rollback makes them pending again.
  const auto taken = m_touches.take();
  // In id order the updates walk the table's pages once instead of at random.
  std::vector<std::pair<std::int64_t, Touch>> touches(taken.begin(), taken.end());
  std::sort(touches.begin(), touches.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [id, touch] : touches) {
    m_touch.bind(1, id).bind(2, touch.access_ms).bind(3, static_cast<std::int64_t>(touch.hits));
    m_touch.run();
  }
}

void
Writer::save_counters()
{
  for (const auto& [scope, values] : m_stats.take_dirty_counters()) {
    for (const auto& info : k_counter_info) {
      const auto value = values[static_cast<std::size_t>(info.id)];
      if (value == 0) {
        continue;
      }
      m_save_counter.bind(1, scope.first).bind(2, scope.second).bind(3, info.name).bind(4, static_cast<std::int64_t>(value));
      m_save_counter.run();
    }
  }
  for (const auto& [scope, values] : m_stats.take_dirty_models()) {
    for (const auto& info : k_model_counter_info) {
      m_save_model.bind(1, scope.first)
        .bind(2, scope.second)
        .bind(3, info.name)
        .bind(4, static_cast<std::int64_t>(values[static_cast<std::size_t>(info.id)]));
      m_save_model.run();
    }
  }
}

void
Writer::on_log_grew(std::function<void(int)> told)
{
  m_log_grew = std::move(told);
  // Replaces SQLite's automatic checkpoint, which would run inside a commit.
  sqlite3_wal_hook(
    m_db.handle(),
    [](void* self, sqlite3*, const char*, int frames) {
      static_cast<Writer*>(self)->m_log_grew(frames);
      return SQLITE_OK;
    },
    this);
}

void
Writer::recount_gauges()
{
  auto stmt = m_db.prepare(
    "SELECT tenant, layer, count(*), sum(raw_size), sum(stored_size), sum(length(CAST(key AS BLOB)))"
    " FROM entries GROUP BY tenant, layer");
  std::map<Scope, Gauges> gauges;
  while (stmt.step()) {
    gauges[{std::string(stmt.column_text(0)), std::string(stmt.column_text(1))}] =
      Gauges{stmt.column_int(2), stmt.column_int(3), stmt.column_int(4), stmt.column_int(5)};
  }
  m_stats.reset_gauges(gauges);
}

void
Writer::load_counters()
{
  auto stmt = m_db.prepare("SELECT tenant, layer, name, value FROM counters");
  while (stmt.step()) {
    m_stats.load_counter(stmt.column_text(0), stmt.column_text(1), stmt.column_text(2),
                         static_cast<std::uint64_t>(stmt.column_int(3)));
  }
  auto models = m_db.prepare("SELECT tenant, model, name, value FROM model_counters");
  while (models.step()) {
    m_stats.load_model_counter(models.column_text(0), models.column_text(1), models.column_text(2),
                               static_cast<std::uint64_t>(models.column_int(3)));
  }
}

} // namespace omnicache::store
