#include "store/schema.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace omnicache::store {

namespace {

// Append only: a released migration is never edited, a new one is added.
constexpr std::array<const char*, 4> k_migrations{
  // 1: entries, their tags, persistent counters.
  R"sql(
    CREATE TABLE entries(
      id          INTEGER PRIMARY KEY AUTOINCREMENT, -- stable: never reused, so it can label index vectors
      tenant      TEXT    NOT NULL,
      key         TEXT    NOT NULL,
      layer       TEXT    NOT NULL,
      encoding    INTEGER NOT NULL,  -- 0 raw, 1 zstd
      raw_size    INTEGER NOT NULL,  -- value bytes before compression
      stored_size INTEGER NOT NULL,  -- value bytes as stored
      created_ms  INTEGER NOT NULL,
      expires_ms  INTEGER,           -- NULL: never
      access_ms   INTEGER NOT NULL,
      hits        INTEGER NOT NULL DEFAULT 0,
      meta        TEXT,              -- JSON object or NULL
      -- Last, so that SQLite can write a large value as a zero-filled
      -- placeholder and fill it in pieces (a zeroblob elsewhere is expanded).
      value       BLOB    NOT NULL,
      UNIQUE(tenant, key)
    );
    CREATE INDEX entries_by_expiry ON entries(expires_ms) WHERE expires_ms IS NOT NULL;
    CREATE INDEX entries_by_access ON entries(access_ms);
    CREATE INDEX entries_by_layer ON entries(tenant, layer);

    CREATE TABLE tags(
      tenant   TEXT    NOT NULL,
      tag      TEXT    NOT NULL,
      entry_id INTEGER NOT NULL,
      PRIMARY KEY(tenant, tag, entry_id)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_entry ON tags(entry_id);

    -- Tags never outlive their entries, whoever deletes them.
    CREATE TRIGGER entries_drop_tags AFTER DELETE ON entries BEGIN
      DELETE FROM tags WHERE entry_id = old.id;
    END;

    CREATE TABLE counters(
      tenant TEXT    NOT NULL,
      layer  TEXT    NOT NULL,
      name   TEXT    NOT NULL,
      value  INTEGER NOT NULL,
      PRIMARY KEY(tenant, layer, name)
    ) WITHOUT ROWID;
  )sql",
  // 2: dependencies and their versions; per-model counters.
  R"sql(
    CREATE TABLE deps(
      tenant     TEXT    NOT NULL,
      name       TEXT    NOT NULL,
      version    TEXT    NOT NULL,  -- the current version; entries of others are gone
      updated_ms INTEGER NOT NULL,
      PRIMARY KEY(tenant, name)
    ) WITHOUT ROWID;

    CREATE TABLE entry_deps(
      tenant   TEXT    NOT NULL,
      name     TEXT    NOT NULL,
      entry_id INTEGER NOT NULL,
      version  TEXT    NOT NULL,  -- the version the entry was written under
      PRIMARY KEY(tenant, name, entry_id)
    ) WITHOUT ROWID;
    CREATE INDEX entry_deps_by_entry ON entry_deps(entry_id);

    CREATE TRIGGER entries_drop_deps AFTER DELETE ON entries BEGIN
      DELETE FROM entry_deps WHERE entry_id = old.id;
    END;

    CREATE TABLE model_counters(
      tenant TEXT    NOT NULL,
      model  TEXT    NOT NULL,
      name   TEXT    NOT NULL,
      value  INTEGER NOT NULL,
      PRIMARY KEY(tenant, model, name)
    ) WITHOUT ROWID;
  )sql",
  // 3: vectors of semantic entries, the source the in-memory indexes are
  // built from.
  R"sql(
    CREATE TABLE vectors(
      entry_id INTEGER PRIMARY KEY,  -- entries.id: never reused
      tenant   TEXT    NOT NULL,
      scope    TEXT    NOT NULL,     -- layer, model and embedder: only equal scopes are compared
      context  TEXT    NOT NULL,     -- hash of the earlier turns; '' for a single question
      text     TEXT    NOT NULL,     -- what was embedded, for the guard
      vector   BLOB    NOT NULL      -- little-endian float32, L2-normalised
    );
    CREATE INDEX vectors_by_scope ON vectors(tenant, scope);

    CREATE TRIGGER entries_drop_vectors AFTER DELETE ON entries BEGIN
      DELETE FROM vectors WHERE entry_id = old.id;
    END;
  )sql",
  // 4: a generation number that changes with every vector added or removed,
  // so that an index saved to a file can tell whether it is still current;
  // and the wrong semantic hits users reported.
  R"sql(
    CREATE TABLE semantic_state(
      name  TEXT    PRIMARY KEY,
      value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO semantic_state(name, value) VALUES('generation', 0);

    CREATE TRIGGER vectors_added AFTER INSERT ON vectors BEGIN
      UPDATE semantic_state SET value = value + 1 WHERE name = 'generation';
    END;
    CREATE TRIGGER vectors_removed AFTER DELETE ON vectors BEGIN
      UPDATE semantic_state SET value = value + 1 WHERE name = 'generation';
    END;

    CREATE TABLE semantic_rejects(
      entry_id INTEGER NOT NULL,  -- entries.id of the answer that was wrong
      text     TEXT    NOT NULL,  -- the query it must not answer
      vector   BLOB    NOT NULL,  -- that query's embedding, in the entry's scope
      PRIMARY KEY(entry_id, text)
    ) WITHOUT ROWID;

    CREATE TRIGGER entries_drop_rejects AFTER DELETE ON entries BEGIN
      DELETE FROM semantic_rejects WHERE entry_id = old.id;
    END;
  )sql",
};

int
current_version(sqlite::Connection& db)
{
  auto stmt = db.prepare("PRAGMA user_version");
  stmt.step();
  const auto version = static_cast<int>(stmt.column_int(0));
  stmt.reset();
  return version;
}

// Migrating another program's database would write our tables into it. Ours
// has the entries table from version 1 on, and no table before.
void
check_ours(sqlite::Connection& db, int version)
{
  auto stmt = db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name");
  std::vector<std::string> tables;
  while (stmt.step()) {
    tables.emplace_back(stmt.column_text(0));
  }
  const bool ours = version == 0 ? tables.empty() : std::ranges::find(tables, "entries") != tables.end();
  if (ours) {
    return;
  }
  std::string names;
  for (std::size_t i = 0; i < tables.size() && i < 3; ++i) {
    names += fmt::format("{}{}", i == 0 ? "" : ", ", tables[i]);
  }
  if (tables.size() > 3) {
    names += fmt::format(" and {} more", tables.size() - 3);
  }
  throw sqlite::UnusableDatabase(sqlite::UnusableDatabase::Reason::foreign, db.path(),
                                 fmt::format("{} is not an omnicache database: an SQLite database with {}", db.path(),
                                             names.empty() ? fmt::format("schema version {} and no tables", version)
                                                           : "the tables " + names));
}

} // namespace

int
schema_version()
{
  return static_cast<int>(k_migrations.size());
}

void
migrate(sqlite::Connection& db)
{
  int version = current_version(db);
  if (version > schema_version()) {
    throw sqlite::UnusableDatabase(sqlite::UnusableDatabase::Reason::newer_schema, db.path(),
                                   fmt::format("the database {} has schema version {}, newer than this build's {}: "
                                               "a newer omnicache wrote it",
                                               db.path(), version, schema_version()));
  }
  check_ours(db, version);
  while (version < schema_version()) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(k_migrations[static_cast<std::size_t>(version)]);
      ++version;
      db.exec(fmt::format("PRAGMA user_version = {}", version).c_str());
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  }
}

} // namespace omnicache::store
