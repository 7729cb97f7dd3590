#include "store/writer.hpp"

#include "protocol/error.hpp"
#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace omnicache::store;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using omnicache::unit::entry_of;
using omnicache::unit::StoreFixture;
using omnicache::unit::TempDir;
using omnicache::unit::thrown;

namespace {

using Keys = std::vector<std::string>;

Selector
by_tags(std::vector<std::string> tags)
{
  Selector selector;
  selector.tags = std::move(tags);
  return selector;
}

Selector
by_pattern(std::string pattern)
{
  Selector selector;
  selector.pattern = std::move(pattern);
  return selector;
}

Selector
by_layer(std::string layer)
{
  Selector selector;
  selector.layer = std::move(layer);
  return selector;
}

// Bytes that zstd cannot shrink.
std::string
random_bytes(std::size_t n, unsigned seed = 1)
{
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

// Tag rows whose entry is gone; there must never be any.
std::int64_t
orphan_tags(const StoreFixture& f)
{
  return f.sql_number("SELECT count(*) FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)");
}

} // namespace

TEST_SUITE("store.writer")
{
  TEST_CASE("set then get returns the exact bytes")
  {
    StoreFixture f;
    const std::string binary("\0\x01\xff\0middle\0", 11);
    f.set("text", "hello", f.t0);
    f.set("binary", binary, f.t0);
    f.set("empty", "", f.t0);
    CHECK(f.get("text", f.t0) == "hello");
    CHECK(f.get("binary", f.t0) == binary);
    const auto empty = f.get("empty", f.t0);
    REQUIRE(empty);
    CHECK(empty->empty());
    CHECK_FALSE(f.get("missing", f.t0));
  }

  TEST_CASE("set reports a replacement only when a live entry was there")
  {
    StoreFixture f;
    CHECK_FALSE(f.set("k", "v1", f.t0, 50));
    CHECK(f.set("k", "v2", f.t0 + 10, 50));
    // The second value expires at t0 + 60.
    CHECK_FALSE(f.set("k", "v3", f.t0 + 60));
    CHECK(f.counter(Counter::sets) == 3);
    CHECK(f.counter(Counter::expirations) == 1);
    CHECK(f.counter(Counter::deletes) == 0);
    CHECK(f.gauges().entries == 1);
  }

  TEST_CASE("set again replaces the value and the tags")
  {
    StoreFixture f;
    f.set("k", "old", f.t0, 0, {"a", "b"});
    f.set("other", "x", f.t0, 0, {"a"});
    f.set("k", "new", f.t0 + 1, 0, {"c"});
    CHECK(f.get("k", f.t0 + 2) == "new");
    CHECK(f.keys(by_tags({"a"}), f.t0 + 2) == Keys{"other"});
    CHECK(f.keys(by_tags({"b"}), f.t0 + 2).empty());
    CHECK(f.keys(by_tags({"c"}), f.t0 + 2) == Keys{"k"});
    // An old tag no longer selects the entry for invalidation either.
    CHECK(f.invalidate(by_tags({"b"}), f.t0 + 2) == 0);
    CHECK(f.get("k", f.t0 + 2) == "new");
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 2);
    CHECK(orphan_tags(f) == 0);
  }

  TEST_CASE("a TTL past the end of time saturates instead of wrapping around")
  {
    StoreFixture f;
    f.set("k", "v", f.t0, std::numeric_limits<std::int64_t>::max());
    const auto hit = f.reader().get("default", "k", "", f.t0 + 1);
    REQUIRE(hit);
    CHECK(hit->expires_ms == std::numeric_limits<std::int64_t>::max());
    CHECK(f.write([&](Writer& w) { return w.sweep_expired(f.t0 + 1, 1000); }) == 0);
  }

  TEST_CASE("del returns the number removed and ignores missing and expired keys")
  {
    StoreFixture f;
    f.set("a", "1", f.t0);
    f.set("b", "2", f.t0);
    f.set("c", "3", f.t0, 50);
    CHECK(f.del({"a", "missing", "c"}, f.t0 + 50) == 1);
    CHECK(f.counter(Counter::deletes) == 1);
    CHECK(f.counter(Counter::expirations) == 1); // c was removed, as expired
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 1);
    CHECK(f.del({"a"}, f.t0 + 51) == 0);
    CHECK(f.del({"b", "b"}, f.t0 + 51) == 1);
    CHECK(f.counter(Counter::deletes) == 2);
    CHECK(f.gauges().entries == 0);
  }

  TEST_CASE("invalidate by several tags removes the entries with any of them")
  {
    StoreFixture f;
    f.set("red", "1", f.t0, 0, {"red"});
    f.set("blue", "2", f.t0, 0, {"blue"});
    f.set("both", "3", f.t0, 0, {"red", "blue"});
    f.set("green", "4", f.t0, 0, {"green"});
    f.set("none", "5", f.t0);
    CHECK(f.invalidate(by_tags({"red", "blue"}), f.t0) == 3);
    CHECK(f.keys({}, f.t0) == Keys{"green", "none"});
    CHECK(f.counter(Counter::invalidations) == 3);
    CHECK(f.invalidate(by_tags({"red"}), f.t0) == 0);
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 1);
    CHECK(orphan_tags(f) == 0);
  }

  TEST_CASE("invalidate by pattern uses GLOB matching")
  {
    StoreFixture f;
    for (const char* key : {"user:1", "user:2", "user:10", "user:x", "User:3", "session:1"}) {
      f.set(key, "v", f.t0);
    }
    CHECK(f.invalidate(by_pattern("user:?"), f.t0) == 3);
    CHECK(f.keys({}, f.t0) == Keys{"User:3", "session:1", "user:10"});
    CHECK(f.invalidate(by_pattern("user:[0-9]*"), f.t0) == 1);
    CHECK(f.invalidate(by_pattern("[^u]*"), f.t0) == 2); // GLOB is case-sensitive: U is not u
    CHECK(f.keys({}, f.t0).empty());
  }

  TEST_CASE("invalidate by layer removes only that layer")
  {
    StoreFixture f;
    f.set("a", "1", f.t0, 0, {}, "response");
    f.set("b", "2", f.t0, 0, {}, "response");
    f.set("c", "3", f.t0, 0, {}, "embedding");
    f.set("d", "4", f.t0);
    CHECK(f.invalidate(by_layer("response"), f.t0) == 2);
    CHECK(f.keys({}, f.t0) == Keys{"c", "d"});
    CHECK(f.counter(Counter::invalidations, "response") == 2);
    CHECK(f.counter(Counter::invalidations, "embedding") == 0);
  }

  TEST_CASE("invalidate with several conditions removes the entries that match all of them")
  {
    StoreFixture f;
    f.set("p:a", "1", f.t0, 0, {"t"}, "response");
    f.set("q:b", "2", f.t0, 0, {"t"}, "response");
    f.set("p:c", "3", f.t0, 0, {"t"}, "embedding");
    f.set("p:d", "4", f.t0, 0, {}, "response");
    f.set("p:e", "5", f.t0, 0, {"u"}, "response");
    Selector all;
    all.tags = {"t"};
    all.pattern = "p:*";
    all.layer = "response";
    CHECK(f.invalidate(all, f.t0) == 1);
    CHECK(f.keys({}, f.t0) == Keys{"p:c", "p:d", "p:e", "q:b"});

    Selector tag_and_layer;
    tag_and_layer.tags = {"t", "u"};
    tag_and_layer.layer = "response";
    CHECK(f.invalidate(tag_and_layer, f.t0) == 2); // q:b and p:e
    CHECK(f.keys({}, f.t0) == Keys{"p:c", "p:d"});

    Selector pattern_and_layer;
    pattern_and_layer.pattern = "p:*";
    pattern_and_layer.layer = "embedding";
    CHECK(f.invalidate(pattern_and_layer, f.t0) == 1);
    CHECK(f.keys({}, f.t0) == Keys{"p:d"});
    CHECK(orphan_tags(f) == 0);
  }

  TEST_CASE("invalidate does not count expired entries")
  {
    StoreFixture f;
    f.set("live", "1", f.t0, 0, {"t"});
    f.set("expired", "2", f.t0, 50, {"t"});
    CHECK(f.invalidate(by_tags({"t"}), f.t0 + 50) == 1);
    CHECK(f.counter(Counter::invalidations) == 1);
    CHECK(f.counter(Counter::expirations) == 1);
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 0);
  }

  TEST_CASE("invalidate with no tags pattern or layer is refused and removes nothing")
  {
    StoreFixture f;
    f.set("k", "v", f.t0);
    const auto error = thrown<Error>([&] { f.invalidate(Selector{}, f.t0); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK(f.get("k", f.t0) == "v");
  }

  TEST_CASE("flush of one tenant leaves the other tenants")
  {
    StoreFixture f;
    f.set("a", "1", f.t0, 0, {"t"}, "kv", "alpha");
    f.set("b", "2", f.t0, 0, {"t"}, "response", "alpha");
    f.set("a", "3", f.t0, 0, {"t"}, "kv", "beta");
    const auto removed = f.write([&](Writer& w) { return w.flush(std::string_view("alpha"), f.t0); });
    CHECK(removed == 2);
    CHECK(f.keys({}, f.t0, "alpha").empty());
    CHECK(f.get("a", f.t0, "beta") == "3");
    CHECK(f.keys(by_tags({"t"}), f.t0, "beta") == Keys{"a"});
    CHECK(f.counter(Counter::invalidations, "kv", "alpha") == 1);
    CHECK(f.counter(Counter::invalidations, "response", "alpha") == 1);
    CHECK(f.counter(Counter::invalidations, "kv", "beta") == 0);
    CHECK(f.gauges("kv", "beta").entries == 1);
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 1);
  }

  TEST_CASE("flush of all tenants removes everything")
  {
    StoreFixture f;
    f.set("a", "1", f.t0, 0, {"t"}, "kv", "alpha");
    f.set("b", "2", f.t0, 0, {"t"}, "kv", "beta");
    f.set("c", "3", f.t0, 0, {}, "run", "gamma");
    f.set("d", "4", f.t0, 50, {}, "run", "gamma");
    CHECK(f.write([&](Writer& w) { return w.flush(std::nullopt, f.t0 + 50); }) == 3);
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 0);
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 0);
    CHECK(f.store().stats().total_gauges() == Gauges{});
  }

  TEST_CASE("sweep_expired removes expired entries and counts them as expirations")
  {
    StoreFixture f;
    f.set("a", "1", f.t0, 50, {"t"});
    f.set("b", "2", f.t0, 50, {}, "response");
    f.set("c", "3", f.t0, 100);
    f.set("d", "4", f.t0);
    auto sweep = [&](std::int64_t now) { return f.write([&](Writer& w) { return w.sweep_expired(now, 1000); }); };
    CHECK(sweep(f.t0 + 49) == 0);
    CHECK(sweep(f.t0 + 50) == 2);
    CHECK(f.counter(Counter::expirations) == 1);
    CHECK(f.counter(Counter::expirations, "response") == 1);
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 2);
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 0);
    CHECK(sweep(f.t0 + 50) == 0);
    CHECK(sweep(f.t0 + 100) == 1);
    CHECK(f.keys({}, f.t0 + 100) == Keys{"d"});
    CHECK(f.gauges().entries == 1);
    CHECK(f.gauges("response").entries == 0);
  }

  TEST_CASE("sweep_expired goes on past one batch while it has time")
  {
    StoreFixture f;
    f.write([&](Writer& w) {
      for (int i = 0; i < 600; ++i) {
        auto entry = entry_of("k" + std::to_string(i), "v");
        entry.ttl_ms = 10;
        w.set(entry, f.t0);
      }
    });
    CHECK(f.write([&](Writer& w) { return w.sweep_expired(f.t0 + 10, 60'000); }) == 600);
    CHECK(f.counter(Counter::expirations) == 600);
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 0);
  }

  TEST_CASE("tags never outlive their entries")
  {
    StoreFixture f;
    for (int i = 0; i < 10; ++i) {
      f.set("k" + std::to_string(i), "v", f.t0, i < 3 ? 50 : 0, {"all", "n" + std::to_string(i)});
    }
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 20);
    f.del({"k9"}, f.t0);                                          // del
    f.set("k8", "new", f.t0, 0, {});                              // replace without tags
    f.invalidate(by_pattern("k7"), f.t0);                         // invalidate
    f.write([&](Writer& w) { return w.sweep_expired(f.t0 + 50, 1000); }); // sweep k0..k2
    CHECK(orphan_tags(f) == 0);
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 2 * 4); // k3..k6
    f.write([&](Writer& w) { return w.flush(std::string_view("default"), f.t0); });
    CHECK(f.sql_number("SELECT count(*) FROM tags") == 0);
  }

  TEST_CASE("values at least the compression threshold are stored compressed")
  {
    StoreFixture f;
    std::string value;
    for (int i = 0; value.size() < 10000; ++i) {
      value += "token " + std::to_string(i % 50) + " ";
    }
    const std::string exact(4096, 'z'); // exactly the threshold
    f.set("big", value, f.t0);
    f.set("exact", exact, f.t0);
    const auto info = f.reader().inspect("default", "big", f.t0);
    REQUIRE(info);
    CHECK(info->compressed);
    CHECK(info->raw_size == value.size());
    CHECK(info->stored_size < info->raw_size);
    CHECK(f.get("big", f.t0) == value);
    const auto exact_info = f.reader().inspect("default", "exact", f.t0);
    REQUIRE(exact_info);
    CHECK(exact_info->compressed);
    CHECK(f.get("exact", f.t0) == exact);
    CHECK(f.gauges().raw_bytes == static_cast<std::int64_t>(value.size() + exact.size()));
    CHECK(f.gauges().stored_bytes == static_cast<std::int64_t>(info->stored_size + exact_info->stored_size));
  }

  TEST_CASE("values below the compression threshold or that do not shrink are stored raw")
  {
    StoreFixture f;
    const std::string small(4095, 'z');
    const std::string noise = random_bytes(10000);
    f.set("small", small, f.t0);
    f.set("noise", noise, f.t0);
    for (const char* key : {"small", "noise"}) {
      CAPTURE(key);
      const auto info = f.reader().inspect("default", key, f.t0);
      REQUIRE(info);
      CHECK_FALSE(info->compressed);
      CHECK(info->stored_size == info->raw_size);
    }
    CHECK(f.get("noise", f.t0) == noise);
    CHECK(f.gauges().stored_bytes == f.gauges().raw_bytes);
  }

  TEST_CASE("a compression threshold of 0 never compresses")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.compress_threshold = 0;
    StoreFixture f(limits);
    f.set("big", std::string(100000, 'z'), f.t0);
    const auto info = f.reader().inspect("default", "big", f.t0);
    REQUIRE(info);
    CHECK_FALSE(info->compressed);
    CHECK(info->stored_size == 100000);
  }

  TEST_CASE("max_entries evicts the least recently used entries first")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.max_entries = 3;
    StoreFixture f(limits);
    f.set("a", "1", f.t0 + 1);
    f.set("b", "2", f.t0 + 2);
    f.set("c", "3", f.t0 + 3);
    REQUIRE(f.get("a", f.t0 + 4)); // a is now used more recently than b and c
    f.set("d", "4", f.t0 + 5);
    CHECK(f.keys({}, f.t0 + 5) == Keys{"a", "c", "d"});
    CHECK(f.counter(Counter::evictions) == 1);
    REQUIRE(f.get("c", f.t0 + 6));
    f.set("e", "5", f.t0 + 7); // least recent now: a (4), then d (5)
    CHECK(f.keys({}, f.t0 + 7) == Keys{"c", "d", "e"});
    CHECK(f.counter(Counter::evictions) == 2);
    CHECK(f.gauges().entries == 3);
    CHECK(f.counter(Counter::deletes) == 0);
  }

  TEST_CASE("max_bytes evicts the least recently used entries first")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.max_bytes = 360; // keys plus values as stored
    StoreFixture f(limits);
    const std::string value(100, 'v');
    f.set("a", value, f.t0 + 1);
    f.set("b", value, f.t0 + 2);
    f.set("c", value, f.t0 + 3);
    REQUIRE(f.get("a", f.t0 + 4));
    f.set("d", value, f.t0 + 5); // 404 bytes: one entry must go, the least recently used
    CHECK(f.keys({}, f.t0 + 5) == Keys{"a", "c", "d"});
    f.set("e", std::string(150, 'e'), f.t0 + 6); // 454 bytes: c goes, then it fits
    CHECK(f.keys({}, f.t0 + 6) == Keys{"a", "d", "e"});
    CHECK(f.counter(Counter::evictions) == 2);
    CHECK(f.gauges().accounted_bytes() == 101 + 101 + 151);
  }

  TEST_CASE("the size limit applies to values as stored")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.max_bytes = 2000;
    StoreFixture f(limits);
    const std::string value(100000, 'z'); // compresses to a few dozen bytes
    CHECK_NOTHROW(f.set("big", value, f.t0));
    CHECK(f.get("big", f.t0) == value);
    CHECK(f.gauges().accounted_bytes() <= 2000);
  }

  TEST_CASE("a value larger than max_bytes is refused and nothing else changes")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.max_bytes = 360;
    StoreFixture f(limits);
    f.set("a", std::string(100, 'a'), f.t0, 0, {"t"});
    f.set("b", std::string(100, 'b'), f.t0);
    const Gauges before = f.gauges();
    const std::string too_big = random_bytes(400);
    for (const char* key : {"big", "a"}) {
      CAPTURE(key);
      const auto error = thrown<Error>([&] { f.set(key, too_big, f.t0 + 1); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::too_large);
    }
    CHECK(f.get("a", f.t0 + 2) == std::string(100, 'a'));
    CHECK(f.get("b", f.t0 + 2) == std::string(100, 'b'));
    CHECK_FALSE(f.get("big", f.t0 + 2));
    CHECK(f.keys(by_tags({"t"}), f.t0 + 2) == Keys{"a"});
    CHECK(f.gauges() == before);
    CHECK(f.counter(Counter::sets) == 2);
    CHECK(f.counter(Counter::evictions) == 0);
  }

  TEST_CASE("a value that fills max_bytes exactly is accepted and evicts the rest")
  {
    auto limits = omnicache::unit::quiet_limits();
    limits.max_bytes = 360;
    StoreFixture f(limits);
    f.set("a", std::string(100, 'a'), f.t0);
    f.set("big", std::string(357, 'x'), f.t0 + 1); // 3 + 357 = 360
    CHECK(f.keys({}, f.t0 + 1) == Keys{"big"});
    CHECK(f.gauges().accounted_bytes() == 360);
    CHECK(f.counter(Counter::evictions) == 1);
  }

  TEST_CASE("gauges are exact after sets replaces and deletes")
  {
    StoreFixture f;
    f.set("a", std::string(10, 'x'), f.t0);
    f.set("bb", std::string(20, 'y'), f.t0, 0, {}, "response");
    f.set("ccc", std::string(30, 'z'), f.t0, 0, {}, "response", "other");
    CHECK(f.gauges() == Gauges{1, 10, 10, 1});
    CHECK(f.gauges("response") == Gauges{1, 20, 20, 2});
    CHECK(f.gauges("response", "other") == Gauges{1, 30, 30, 3});
    f.set("a", std::string(5, 'x'), f.t0);               // replace, smaller
    f.set("bb", std::string(7, 'y'), f.t0, 0, {}, "kv"); // replace into another layer
    CHECK(f.gauges() == Gauges{2, 12, 12, 3});
    CHECK(f.gauges("response") == Gauges{});
    f.del({"a"}, f.t0);
    CHECK(f.gauges() == Gauges{1, 7, 7, 2});
    CHECK(f.store().stats().total_gauges() == Gauges{2, 37, 37, 5});
    CHECK(f.sql_number("SELECT sum(raw_size) FROM entries") == 37);
    CHECK(f.sql_number("SELECT sum(length(key)) FROM entries") == 5);
  }

  TEST_CASE("an aborted job leaves no trace in the database or the figures")
  {
    TempDir dir;
    Stats stats;
    TouchLog touches;
    Writer writer(dir.file("cache.db"), "normal", stats, touches);
    writer.set_limits(omnicache::unit::quiet_limits());
    writer.begin();
    writer.begin_job();
    writer.set(entry_of("kept", "1"), 1000);
    writer.end_job();
    writer.begin_job();
    writer.set(entry_of("dropped", "22"), 1000);
    CHECK(writer.totals().entries == 2); // uncommitted changes count in the totals
    writer.abort_job();
    CHECK(writer.totals().entries == 1);
    writer.commit();
    const Delta delta = writer.take_batch_delta();
    CHECK(delta.total() == Gauges{1, 1, 1, 4});
    const auto& scope = delta.scopes().at({"default", "kv"});
    CHECK(scope.counters[static_cast<std::size_t>(Counter::sets)] == 1);
    CHECK(writer.take_batch_delta().empty()); // handed over once
    CHECK(stats.total_gauges() == Gauges{}); // Stats sees a delta only when the store applies it

    Reader reader(dir.file("cache.db"), stats, touches);
    CHECK(reader.exists("default", "kept", 1000));
    CHECK_FALSE(reader.exists("default", "dropped", 1000));
  }

  TEST_CASE("a rolled back batch leaves no trace")
  {
    TempDir dir;
    Stats stats;
    TouchLog touches;
    Writer writer(dir.file("cache.db"), "normal", stats, touches);
    writer.begin();
    writer.begin_job();
    writer.set(entry_of("k", "v"), 1000);
    writer.end_job();
    writer.rollback();
    CHECK(writer.take_batch_delta().empty());
    CHECK(writer.totals() == Gauges{});
    Reader reader(dir.file("cache.db"), stats, touches);
    CHECK_FALSE(reader.exists("default", "k", 1000));
  }
}
