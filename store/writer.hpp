#pragma once

#include "store/codec.hpp"
#include "store/commit.hpp"
#include "store/entry.hpp"
#include "store/sqlite.hpp"
#include "store/stats.hpp"
#include "store/touch_log.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <span>
#include <vector>

namespace omnicache::store {

// When a set may write (set --nx / --xx).
enum class SetCondition { always, if_absent, if_present };

// The one connection that changes the database. Used only by the writer
// thread (Store), inside transactions that Store opens and commits. Every
// change to the figures goes into the job delta first and reaches Stats only
// after its transaction commits.
class Writer
{
public:
  Writer(const std::string& path, const std::string& sync, Stats& stats, TouchLog& touches);

  // Transactions and per-job savepoints.
  void begin();
  void commit();
  void rollback();
  // `origin` marks the changes the job records (commit.hpp).
  void begin_job(const Origin& origin = {});
  void end_job();   // keeps the job's changes
  void abort_job(); // rolls the job's changes back
  // The changes of the committed batch, handed over once.
  Delta take_batch_delta();
  std::vector<Change> take_batch_changes();
  // Whether a TTL change records the whole entry as it now is (read back,
  // value and all) for the observers of commits; off, it records nothing.
  void record_ttl_entries(bool on) { m_record_ttl_entries = on; }

  void set_limits(const StoreLimits& limits) { m_limits = limits; }
  const StoreLimits& limits() const { return m_limits; }

  // Whether a live entry holds the key.
  bool exists(std::string_view tenant, std::string_view key, std::int64_t now);

  // Operations. Each returns what the reply reports, and records what it
  // changed for the observers of the commit.
  // True when it replaced a live entry. The change recorded points at
  // `entry`: it must stay where it is until the batch is over (the job keeps it).
  bool set(const EntryWrite& entry, std::int64_t now);
  // The id the last set gave its entry (for the semantic index's labels).
  std::int64_t last_id() const { return m_last_id; }
  // writer_expiry.cpp
  // A set made only when `condition` holds for the key's live entry: the
  // result of set, or nullopt when nothing was written.
  std::optional<bool> set_if(const EntryWrite& entry, SetCondition condition, std::int64_t now);
  // Gives a live entry a new TTL from `now` (0: never expires). False when
  // no live entry holds the key.
  bool set_ttl(std::string_view tenant, std::string_view key, std::int64_t ttl_ms, std::int64_t now);
  // Marks live entries as used now (for eviction) without reading them.
  // Returns how many of the keys hold a live entry.
  std::uint64_t touch(std::string_view tenant, const std::vector<std::string>& keys, std::int64_t now);
  // A live entry as set would write it again (value, layer, tags, deps, meta,
  // and its TTL left from `now`), for handing on to the shared tier.
  std::optional<EntryWrite> live_entry(std::string_view tenant, std::string_view key, std::int64_t now);
  // Zeroes the counters of one tenant, or of all, in memory and saved;
  // entries and gauges stay.
  void reset_counters(std::optional<std::string_view> tenant);
  std::uint64_t remove_keys(std::string_view tenant, const std::vector<std::string>& keys, std::int64_t now);
  std::uint64_t invalidate(std::string_view tenant, const Selector& selector, std::int64_t now);
  std::uint64_t flush(std::optional<std::string_view> tenant, std::int64_t now);
  // Removes every entry depending on each name and records a new version:
  // `version`, or a fresh one when empty. A dependency already at `version`
  // removes nothing. Returns the live entries removed.
  std::uint64_t invalidate_dependencies(std::string_view tenant, const std::vector<std::string>& names,
                                        const std::string& version, std::int64_t now);
  // One of the four removals above, as a Removal says (a client's, or
  // another store's). Returns the live entries removed.
  std::uint64_t remove(const Removal& removal, std::int64_t now);

  // Whether every dependency of `entry` that names a version is at that
  // version here, or has none recorded yet (an entry from another daemon
  // written under another version is stale, or this daemon's one is).
  bool dependencies_current(const EntryWrite& entry);

  // Records that the semantic entry `key` wrongly answered `text`, whose
  // embedding is `vector`. Returns the entry's id, or nullopt when no live
  // entry with a vector holds the key.
  std::optional<std::int64_t> add_semantic_reject(std::string_view tenant, std::string_view key, std::string_view text,
                                                  std::span<const float> vector, std::int64_t now);

  // Maintenance, run by Store in transactions of their own.
  std::uint64_t sweep_expired(std::int64_t now, std::int64_t budget_ms);
  std::uint64_t evict_to_limits();
  void write_touches();
  void save_counters();
  // `told` is called after each commit with the number of pages in the
  // write-ahead log; commits themselves never checkpoint.
  void on_log_grew(std::function<void(int)> told);

  // Recounts the gauges from the database (at start, and after a failed commit).
  void recount_gauges();
  void load_counters();

  // Stored totals including changes not yet committed.
  Gauges totals() const;

private:
  enum class Reason { replaced, deleted, invalidated, expired, evicted };
  struct Removed
  {
    std::uint64_t rows = 0; // every row deleted
    std::uint64_t live = 0; // of those, the ones not yet expired
  };
  // Steps a DELETE ... RETURNING statement and accounts for every row.
  Removed remove(sqlite::Statement& stmt, Reason reason, std::int64_t now);
  bool over_limits() const;
  // What observers of the commit hear of this job (commit.hpp).
  void record(Change change);
  void record_removal(Removal removal);
  // writer_deps.cpp
  std::optional<std::string> current_version(std::string_view tenant, std::string_view name);
  void record_version(std::string_view tenant, std::string_view name, std::string_view version, std::int64_t now);
  std::uint64_t remove_dependents(std::string_view tenant, std::string_view name, std::int64_t now);
  // Settles each dependency's version before the entry is written; returns
  // the versions the entry is written under.
  std::vector<Dependency> resolve_dependencies(const EntryWrite& entry, std::int64_t now);
  void link_dependencies(const EntryWrite& entry, std::int64_t id, const std::vector<Dependency>& deps);

  sqlite::Connection m_db;
  // Transaction control runs for every job: prepared once, not parsed each time.
  sqlite::Statement m_begin;
  sqlite::Statement m_commit;
  sqlite::Statement m_savepoint;
  sqlite::Statement m_release;
  sqlite::Statement m_rollback_to;
  sqlite::Statement m_find;
  sqlite::Statement m_insert;
  sqlite::Statement m_delete_id;
  sqlite::Statement m_delete_key;
  sqlite::Statement m_insert_tag;
  sqlite::Statement m_insert_vector;
  std::int64_t m_last_id = 0;
  sqlite::Statement m_touch;
  std::function<void(int)> m_log_grew;
  sqlite::Statement m_save_counter;
  sqlite::Statement m_sweep;
  sqlite::Statement m_evict;
  sqlite::Statement m_dep_version;
  sqlite::Statement m_dep_record;
  sqlite::Statement m_dep_remove;
  sqlite::Statement m_dep_link;
  sqlite::Statement m_save_model;
  Compressor m_compressor;
  Decompressor m_decompressor;
  std::string m_compressed;
  StoreLimits m_limits;
  Stats& m_stats;
  TouchLog& m_touches;
  Delta m_batch;
  Delta m_job;
  Origin m_origin;
  bool m_record_ttl_entries = false;
  std::vector<Change> m_batch_changes;
  std::vector<Change> m_job_changes;
};

} // namespace omnicache::store
