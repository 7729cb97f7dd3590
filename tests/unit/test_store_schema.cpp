#include "store/schema.hpp"

#include "protocol/error.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <fmt/core.h>

#include <string>

using namespace omnicache::store;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using omnicache::unit::TempDir;
using omnicache::unit::thrown;

namespace {

std::int64_t
number(sqlite::Connection& db, const char* sql)
{
  auto stmt = db.prepare(sql);
  REQUIRE(stmt.step());
  const auto value = stmt.column_int(0);
  stmt.reset();
  return value;
}

std::int64_t
table_count(sqlite::Connection& db)
{
  return number(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
}

} // namespace

TEST_SUITE("store.schema")
{
  TEST_CASE("migrate brings a new database to the current schema version")
  {
    TempDir dir;
    sqlite::Connection db(dir.file("cache.db"), sqlite::Connection::Mode::read_write_create);
    CHECK(number(db, "PRAGMA user_version") == 0);
    migrate(db);
    CHECK(schema_version() >= 1);
    CHECK(number(db, "PRAGMA user_version") == schema_version());
    for (const char* table : {"entries", "tags", "counters"}) {
      CAPTURE(table);
      CHECK(number(db, fmt::format("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'", table)
                         .c_str())
            == 1);
    }
  }

  TEST_CASE("migrate leaves a current database as it is")
  {
    TempDir dir;
    sqlite::Connection db(dir.file("cache.db"), sqlite::Connection::Mode::read_write_create);
    migrate(db);
    db.exec("INSERT INTO counters(tenant, layer, name, value) VALUES('t', 'kv', 'sets', 5)");
    const auto tables = table_count(db);
    CHECK_NOTHROW(migrate(db));
    CHECK(number(db, "PRAGMA user_version") == schema_version());
    CHECK(table_count(db) == tables);
    CHECK(number(db, "SELECT value FROM counters") == 5);
  }

  TEST_CASE("a database with a newer schema version is refused with UNSUPPORTED")
  {
    TempDir dir;
    const std::string path = dir.file("cache.db");
    const int newer = schema_version() + 1;
    {
      sqlite::Connection db(path, sqlite::Connection::Mode::read_write_create);
      db.exec(fmt::format("PRAGMA user_version = {}", newer).c_str());
      const auto error = thrown<Error>([&] { migrate(db); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::unsupported);
      CHECK(table_count(db) == 0);
    }
    StoreOptions options;
    options.path = path;
    const auto error = thrown<Error>([&] { Store store(options); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::unsupported);
    // The database is left as it was.
    sqlite::Connection db(path, sqlite::Connection::Mode::read_only);
    CHECK(number(db, "PRAGMA user_version") == newer);
    CHECK(table_count(db) == 0);
  }

  TEST_CASE("deleting an entry deletes its tags")
  {
    TempDir dir;
    sqlite::Connection db(dir.file("cache.db"), sqlite::Connection::Mode::read_write_create);
    migrate(db);
    db.exec("INSERT INTO entries(id, tenant, key, layer, value, encoding, raw_size, stored_size, created_ms, access_ms)"
            " VALUES(1, 't', 'k', 'kv', x'00', 0, 1, 1, 0, 0), (2, 't', 'j', 'kv', x'00', 0, 1, 1, 0, 0)");
    db.exec("INSERT INTO tags(tenant, tag, entry_id) VALUES('t', 'a', 1), ('t', 'b', 1), ('t', 'a', 2)");
    db.exec("DELETE FROM entries WHERE id = 1");
    CHECK(number(db, "SELECT count(*) FROM tags") == 1);
    CHECK(number(db, "SELECT entry_id FROM tags") == 2);
  }
}
