#include "store/writer.hpp"

#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace omnicache::store;
using omnicache::unit::entry_of;
using omnicache::unit::StoreFixture;

namespace {

std::optional<bool>
set_when(StoreFixture& f, const std::string& key, const std::string& value, SetCondition condition,
         std::int64_t now)
{
  const auto entry = entry_of(key, value);
  return f.write([&](Writer& writer) { return writer.set_if(entry, condition, now); });
}

std::int64_t
expires_of(StoreFixture& f, const std::string& key, std::int64_t now)
{
  const auto hit = f.reader().get("default", key, "", now, false);
  REQUIRE(hit);
  return hit->expires_ms;
}

} // namespace

TEST_SUITE("store.writer_expiry")
{
  TEST_CASE("set_if absent writes only when no live entry holds the key")
  {
    StoreFixture f;
    CHECK(set_when(f, "k", "first", SetCondition::if_absent, f.t0) == std::optional<bool>(false));
    CHECK_FALSE(set_when(f, "k", "second", SetCondition::if_absent, f.t0 + 1));
    CHECK(f.get("k", f.t0 + 2) == "first");
    CHECK(f.counter(Counter::sets) == 1);
    // An expired entry does not count as present.
    f.set("gone", "old", f.t0, 10);
    CHECK(set_when(f, "gone", "new", SetCondition::if_absent, f.t0 + 10) == std::optional<bool>(false));
    CHECK(f.get("gone", f.t0 + 11) == "new");
  }

  TEST_CASE("set_if present writes only over a live entry")
  {
    StoreFixture f;
    CHECK_FALSE(set_when(f, "k", "v", SetCondition::if_present, f.t0));
    CHECK_FALSE(f.get("k", f.t0));
    f.set("k", "old", f.t0);
    CHECK(set_when(f, "k", "new", SetCondition::if_present, f.t0 + 1) == std::optional<bool>(true));
    CHECK(f.get("k", f.t0 + 2) == "new");
    CHECK(f.gauges().entries == 1);
  }

  TEST_CASE("set_ttl gives a live entry a new expiry and 0 removes it")
  {
    StoreFixture f;
    f.set("k", "v", f.t0, 1000);
    CHECK(f.write([&](Writer& w) { return w.set_ttl("default", "k", 50, f.t0 + 10); }));
    CHECK(expires_of(f, "k", f.t0 + 11) == f.t0 + 60);
    CHECK_FALSE(f.get("k", f.t0 + 60));
    CHECK(f.write([&](Writer& w) { return w.sweep_expired(f.t0 + 60, 1000); }) == 1);

    f.set("p", "v", f.t0, 1000);
    CHECK(f.write([&](Writer& w) { return w.set_ttl("default", "p", 0, f.t0 + 10); }));
    CHECK(expires_of(f, "p", f.t0 + 5000) == 0);
    CHECK(f.get("p", f.t0 + 5000) == "v");
  }

  TEST_CASE("set_ttl on a missing or expired key changes nothing")
  {
    StoreFixture f;
    CHECK_FALSE(f.write([&](Writer& w) { return w.set_ttl("default", "missing", 50, f.t0); }));
    f.set("k", "v", f.t0, 10);
    // Expired but not yet swept: it must not come back to life.
    CHECK_FALSE(f.write([&](Writer& w) { return w.set_ttl("default", "k", 0, f.t0 + 10); }));
    CHECK_FALSE(f.get("k", f.t0 + 10));
  }

  TEST_CASE("touch counts the live keys and moves their last access")
  {
    StoreFixture f;
    f.set("a", "1", f.t0);
    f.set("b", "2", f.t0, 10);
    const std::vector<std::string> keys{"a", "b", "missing"};
    CHECK(f.write([&](Writer& w) { return w.touch("default", keys, f.t0 + 20); }) == 1);
    const auto info = f.reader().inspect("default", "a", f.t0 + 21);
    REQUIRE(info);
    CHECK(info->access_ms == f.t0 + 20);
    CHECK(info->hits == 0);
    CHECK(f.counter(Counter::hits) == 0);
  }

  TEST_CASE("live_entry reads back what set wrote with the TTL left")
  {
    StoreFixture f;
    auto entry = entry_of("k", std::string(10000, 'x'), "response"); // compressed when stored
    entry.ttl_ms = 1000;
    entry.tags = {"t2", "t1"};
    entry.deps = {{"doc", "v1"}};
    entry.meta = R"({"model":"m"})";
    f.write([&](Writer& w) { return w.set(entry, f.t0); });
    const auto back = f.write([&](Writer& w) { return w.live_entry("default", "k", f.t0 + 400); });
    REQUIRE(back);
    CHECK(back->value == entry.value);
    CHECK(back->layer == "response");
    CHECK(back->ttl_ms == 600);
    CHECK(back->tags == std::vector<std::string>{"t1", "t2"});
    REQUIRE(back->deps.size() == 1);
    CHECK(back->deps[0].name == "doc");
    CHECK(back->deps[0].version == "v1");
    CHECK(back->meta == entry.meta);
    CHECK_FALSE(f.write([&](Writer& w) { return w.live_entry("default", "k", f.t0 + 1000); }));
  }

  TEST_CASE("reset_counters zeroes one tenant's counters, saved too, and keeps entries")
  {
    StoreFixture f;
    f.set("a", "1", f.t0);
    f.set("b", "2", f.t0, 0, {}, "kv", "other");
    f.get("a", f.t0);
    f.get("missing", f.t0);
    f.write([](Writer&) {});
    f.write([](Writer& w) { w.reset_counters(std::string_view("default")); });
    CHECK(f.counter(Counter::sets) == 0);
    CHECK(f.counter(Counter::hits) == 0);
    CHECK(f.counter(Counter::misses) == 0);
    CHECK(f.counter(Counter::sets, "kv", "other") == 1);
    CHECK(f.gauges().entries == 1);
    f.reopen();
    CHECK(f.counter(Counter::sets) == 0);
    CHECK(f.counter(Counter::hits) == 0);
    CHECK(f.counter(Counter::sets, "kv", "other") == 1);
    CHECK(f.get("a", f.t0) == "1");
  }

  TEST_CASE("reset_counters of all tenants zeroes every counter")
  {
    StoreFixture f;
    f.set("a", "1", f.t0);
    f.set("b", "2", f.t0, 0, {}, "kv", "other");
    f.write([](Writer& w) { w.reset_counters(std::nullopt); });
    f.reopen();
    CHECK(f.counter(Counter::sets) == 0);
    CHECK(f.counter(Counter::sets, "kv", "other") == 0);
    CHECK(f.gauges("kv", "other").entries == 1);
  }
}
