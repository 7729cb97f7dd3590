// Writer operations that change a live entry without rewriting its value
// (expire, persist, touch), the conditional set, reading an entry back for
// the shared tier, and resetting the counters.
#include "store/writer.hpp"

#include <fmt/core.h>

namespace omnicache::store {

namespace {

// The expiry of a TTL counted from `now`; saturates, as set does: a TTL past
// the end of time is "never" in effect.
std::int64_t
expiry_after(std::int64_t now, std::int64_t ttl_ms)
{
  return ttl_ms > INT64_MAX - now ? INT64_MAX : now + ttl_ms;
}

} // namespace

std::optional<bool>
Writer::set_if(const EntryWrite& entry, SetCondition condition, std::int64_t now)
{
  // The writer thread is the only one that changes entries, so nothing can
  // come between this check and the write.
  if (condition != SetCondition::always) {
    const bool live = exists(entry.tenant, entry.key, now);
    if (live != (condition == SetCondition::if_present)) {
      return std::nullopt;
    }
  }
  return set(entry, now);
}

bool
Writer::set_ttl(std::string_view tenant, std::string_view key, std::int64_t ttl_ms, std::int64_t now)
{
  auto stmt = m_db.prepare("UPDATE entries SET expires_ms = ?3"
                           " WHERE tenant = ?1 AND key = ?2 AND (expires_ms IS NULL OR expires_ms > ?4)");
  stmt.bind(1, tenant).bind(2, key).bind(4, now);
  if (ttl_ms > 0) {
    stmt.bind(3, expiry_after(now, ttl_ms));
  } else {
    stmt.bind_null(3);
  }
  stmt.run();
  const bool found = sqlite3_changes(m_db.handle()) > 0;
  if (found && m_record_ttl_entries) {
    // The whole entry, read back in this transaction: a replica is sent it again with its new TTL.
    if (auto entry = live_entry(tenant, key, now)) {
      Change change;
      change.kind = Change::Kind::ttl;
      change.owned = std::make_shared<const EntryWrite>(std::move(*entry));
      change.entry = change.owned.get();
      change.written_ms = now;
      change.replaced = true;
      record(std::move(change));
    }
  }
  return found;
}

std::uint64_t
Writer::touch(std::string_view tenant, const std::vector<std::string>& keys, std::int64_t now)
{
  // Only the last access moves (the order eviction follows); hits count reads.
  auto stmt = m_db.prepare("UPDATE entries SET access_ms = max(access_ms, ?3)"
                           " WHERE tenant = ?1 AND key = ?2 AND (expires_ms IS NULL OR expires_ms > ?3)");
  std::uint64_t touched = 0;
  for (const auto& key : keys) {
    stmt.bind(1, tenant).bind(2, key).bind(3, now);
    stmt.run();
    touched += static_cast<std::uint64_t>(sqlite3_changes(m_db.handle()));
  }
  return touched;
}

std::optional<EntryWrite>
Writer::live_entry(std::string_view tenant, std::string_view key, std::int64_t now)
{
  auto find = m_db.prepare("SELECT id, layer, value, encoding, raw_size, expires_ms, meta FROM entries"
                           " WHERE tenant = ?1 AND key = ?2 AND (expires_ms IS NULL OR expires_ms > ?3)");
  find.bind(1, tenant).bind(2, key).bind(3, now);
  if (!find.step()) {
    return std::nullopt;
  }
  EntryWrite entry;
  entry.tenant = tenant;
  entry.key = key;
  const std::int64_t id = find.column_int(0);
  entry.layer = find.column_text(1);
  if (static_cast<Encoding>(find.column_int(3)) == Encoding::zstd) {
    m_decompressor.decompress(find.column_blob(2), static_cast<std::uint64_t>(find.column_int(4)), entry.value);
  } else {
    entry.value.assign(find.column_blob(2));
  }
  entry.ttl_ms = find.column_is_null(5) ? 0 : find.column_int(5) - now;
  entry.meta = find.column_text(6);
  auto tags = m_db.prepare("SELECT tag FROM tags WHERE entry_id = ?1 ORDER BY tag");
  tags.bind(1, id);
  while (tags.step()) {
    entry.tags.emplace_back(tags.column_text(0));
  }
  auto deps = m_db.prepare("SELECT name, version FROM entry_deps WHERE entry_id = ?1 ORDER BY name");
  deps.bind(1, id);
  while (deps.step()) {
    entry.deps.push_back({std::string(deps.column_text(0)), std::string(deps.column_text(1))});
  }
  return entry;
}

void
Writer::reset_counters(std::optional<std::string_view> tenant)
{
  // Zeroed in memory here, before the commit: counts made between the commit
  // and a later zeroing would be lost. A reset whose commit fails reports the
  // failure; the old counters stay saved and come back at the next start.
  for (const char* table : {"counters", "model_counters"}) {
    auto stmt = m_db.prepare(fmt::format("DELETE FROM {} WHERE {}", table, tenant ? "tenant = ?1" : "1"));
    if (tenant) {
      stmt.bind(1, *tenant);
    }
    stmt.run();
  }
  m_stats.reset_counters(tenant);
}

} // namespace omnicache::store
