#include "store/reader.hpp"

#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace omnicache::store;
using omnicache::unit::StoreFixture;

namespace {

using Keys = std::vector<std::string>;

// An entry of the semantic layer, with the vector of its question.
EntryWrite
semantic_entry(const std::string& key)
{
  EntryWrite entry;
  entry.tenant = "default";
  entry.layer = "semantic";
  entry.key = key;
  entry.value = "answer";
  entry.vector = VectorWrite{"scope", "", "question " + key, {1.0f, 0.0f}};
  return entry;
}

} // namespace

TEST_SUITE("store.reader")
{
  TEST_CASE("get reports the layer and the expiry of a hit")
  {
    StoreFixture f;
    f.set("forever", "v", f.t0, 0, {}, "embedding");
    f.set("brief", "v", f.t0, 50);
    const auto forever = f.reader().get("default", "forever", "", f.t0);
    REQUIRE(forever);
    CHECK(forever->layer == "embedding");
    CHECK(forever->expires_ms == 0);
    const auto brief = f.reader().get("default", "brief", "", f.t0);
    REQUIRE(brief);
    CHECK(brief->layer == "kv");
    CHECK(brief->expires_ms == f.t0 + 50);
  }

  TEST_CASE("get with a layer finds only entries of that layer")
  {
    StoreFixture f;
    f.set("k", "v", f.t0, 0, {}, "response");
    CHECK(f.get("k", f.t0, "default", "response") == "v");
    CHECK_FALSE(f.get("k", f.t0, "default", "embedding"));
    CHECK(f.get("k", f.t0, "default", "") == "v");
    // A miss counts under the layer asked for, a hit under the entry's.
    CHECK(f.counter(Counter::hits, "response") == 2);
    CHECK(f.counter(Counter::misses, "embedding") == 1);
    CHECK(f.counter(Counter::misses, "response") == 0);
  }

  TEST_CASE("a miss without a layer counts under kv")
  {
    StoreFixture f;
    CHECK_FALSE(f.get("nothing", f.t0));
    CHECK(f.counter(Counter::misses, "kv") == 1);
  }

  TEST_CASE("expired entries are never returned even before the sweep")
  {
    StoreFixture f;
    f.set("brief", "v", f.t0, 50, {"t"});
    f.set("other", "w", f.t0);
    const std::int64_t last_live = f.t0 + 49;
    const std::int64_t expired = f.t0 + 50;
    CHECK(f.get("brief", last_live) == "v");
    CHECK(f.reader().exists("default", "brief", last_live));
    CHECK(f.reader().inspect("default", "brief", last_live));
    CHECK(f.keys({}, last_live) == Keys{"brief", "other"});

    CHECK_FALSE(f.get("brief", expired));
    CHECK_FALSE(f.reader().exists("default", "brief", expired));
    CHECK_FALSE(f.reader().inspect("default", "brief", expired));
    CHECK(f.keys({}, expired) == Keys{"other"});
    Selector by_tag;
    by_tag.tags = {"t"};
    CHECK(f.keys(by_tag, expired).empty());
    // Still in the database: only the sweep removes it.
    CHECK(f.sql_number("SELECT count(*) FROM entries") == 2);
    CHECK(f.counter(Counter::misses) == 1);
  }

  TEST_CASE("exists counts neither hits nor misses")
  {
    StoreFixture f;
    f.set("k", "v", f.t0);
    CHECK(f.reader().exists("default", "k", f.t0));
    CHECK_FALSE(f.reader().exists("default", "nope", f.t0));
    CHECK(f.counter(Counter::hits) == 0);
    CHECK(f.counter(Counter::misses) == 0);
  }

  TEST_CASE("inspect reports sizes times hits tags and meta")
  {
    StoreFixture f;
    EntryWrite entry;
    entry.tenant = "default";
    entry.layer = "response";
    entry.key = "k";
    entry.value = "value";
    entry.ttl_ms = 60'000;
    entry.tags = {"zeta", "alpha"};
    entry.meta = R"({"model":"m1"})";
    f.write([&](Writer& w) { return w.set(entry, f.t0); });
    REQUIRE(f.get("k", f.t0 + 10));
    REQUIRE(f.get("k", f.t0 + 20));
    const auto info = f.reader().inspect("default", "k", f.t0 + 30);
    REQUIRE(info);
    CHECK(info->tenant == "default");
    CHECK(info->key == "k");
    CHECK(info->layer == "response");
    CHECK(info->raw_size == 5);
    CHECK(info->stored_size == 5);
    CHECK_FALSE(info->compressed);
    CHECK(info->created_ms == f.t0);
    CHECK(info->expires_ms == f.t0 + 60'000);
    CHECK(info->access_ms == f.t0 + 20); // the hits still waiting to be written count
    CHECK(info->hits == 2);
    CHECK(info->tags == std::vector<std::string>{"alpha", "zeta"});
    CHECK(info->meta == R"({"model":"m1"})");
  }

  TEST_CASE("hits written by the writer are not counted twice by inspect")
  {
    StoreFixture f;
    f.set("k", "v", f.t0);
    REQUIRE(f.get("k", f.t0 + 5));
    REQUIRE(f.get("k", f.t0 + 6));
    f.write([](Writer& w) { w.write_touches(); });
    REQUIRE(f.get("k", f.t0 + 7));
    const auto info = f.reader().inspect("default", "k", f.t0 + 8);
    REQUIRE(info);
    CHECK(info->hits == 3);
    CHECK(info->access_ms == f.t0 + 7);
    CHECK(f.sql_number("SELECT hits FROM entries") == 2);
  }

  TEST_CASE("keys pages with after and limit return every key once in order")
  {
    StoreFixture f;
    std::vector<std::string> all;
    for (int i = 0; i < 25; ++i) {
      all.push_back("key-" + std::to_string(i));
    }
    auto shuffled = all;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
    f.write([&](Writer& w) {
      for (const auto& key : shuffled) {
        EntryWrite entry;
        entry.tenant = "default";
        entry.layer = "kv";
        entry.key = key;
        entry.value = "v";
        w.set(entry, f.t0);
      }
    });
    std::sort(all.begin(), all.end());

    for (const std::size_t limit : {std::size_t{1}, std::size_t{5}, std::size_t{7}, std::size_t{25},
                                    std::size_t{100}}) {
      CAPTURE(limit);
      std::vector<std::string> seen;
      std::string after;
      int pages = 0;
      for (;;) {
        const KeysPage page = f.reader().keys("default", {}, after, limit, f.t0);
        ++pages;
        REQUIRE(pages <= 30);
        CHECK(page.keys.size() <= limit);
        seen.insert(seen.end(), page.keys.begin(), page.keys.end());
        if (!page.next_after) {
          break;
        }
        CHECK(page.keys.size() == limit);
        CHECK(*page.next_after == page.keys.back());
        after = *page.next_after;
      }
      CHECK(seen == all);
      CHECK(pages == static_cast<int>((all.size() + limit - 1) / limit));
    }
  }

  TEST_CASE("keys pages with a selector skip the entries it does not pick")
  {
    StoreFixture f;
    for (int i = 0; i < 10; ++i) {
      const std::string n = std::to_string(i);
      f.set("a" + n, "v", f.t0, 0, {i % 2 == 0 ? "even" : "odd"}, i < 5 ? "kv" : "run");
    }
    Selector even;
    even.tags = {"even"};
    Selector run_odd;
    run_odd.tags = {"odd"};
    run_odd.layer = "run";
    Selector pattern;
    pattern.pattern = "a[13579]";
    CHECK(f.keys(even, f.t0) == Keys{"a0", "a2", "a4", "a6", "a8"});
    CHECK(f.keys(run_odd, f.t0) == Keys{"a5", "a7", "a9"});
    CHECK(f.keys(pattern, f.t0) == Keys{"a1", "a3", "a5", "a7", "a9"});
    const KeysPage first = f.reader().keys("default", even, "", 2, f.t0);
    CHECK(first.keys == Keys{"a0", "a2"});
    REQUIRE(first.next_after);
    const KeysPage second = f.reader().keys("default", even, *first.next_after, 2, f.t0);
    CHECK(second.keys == Keys{"a4", "a6"});
  }

  TEST_CASE("tenants do not see each other's entries")
  {
    StoreFixture f;
    f.set("shared", "alpha-value", f.t0, 0, {"t"}, "kv", "alpha");
    f.set("shared", "beta-value", f.t0, 0, {"t"}, "kv", "beta");
    f.set("only-alpha", "x", f.t0, 0, {"t"}, "kv", "alpha");
    CHECK(f.get("shared", f.t0, "alpha") == "alpha-value");
    CHECK(f.get("shared", f.t0, "beta") == "beta-value");
    CHECK_FALSE(f.get("only-alpha", f.t0, "beta"));
    CHECK(f.keys({}, f.t0, "alpha") == Keys{"only-alpha", "shared"});
    CHECK(f.keys({}, f.t0, "beta") == Keys{"shared"});
    Selector by_tag;
    by_tag.tags = {"t"};
    CHECK(f.invalidate(by_tag, f.t0, "beta") == 1);
    CHECK(f.keys({}, f.t0, "alpha") == Keys{"only-alpha", "shared"});
    CHECK(f.keys({}, f.t0, "beta").empty());
    CHECK(f.counter(Counter::hits, "kv", "alpha") == 1);
    CHECK(f.counter(Counter::hits, "kv", "beta") == 1);
    CHECK(f.counter(Counter::misses, "kv", "beta") == 1);
    CHECK(f.counter(Counter::invalidations, "kv", "beta") == 1);
    CHECK(f.counter(Counter::invalidations, "kv", "alpha") == 0);
    CHECK(f.gauges("kv", "alpha").entries == 2);
    CHECK(f.gauges("kv", "beta").entries == 0);
  }

  TEST_CASE("the semantic generation moves with every vector added or removed, and only then")
  {
    StoreFixture f;
    const auto semantic = [&](const std::string& key) {
      const auto entry = semantic_entry(key);
      f.write([&](Writer& writer) { writer.set(entry, f.t0); });
    };
    const std::int64_t start = f.reader().semantic_generation();
    f.set("plain", "v", f.t0);
    CHECK(f.reader().semantic_generation() == start);
    semantic("a");
    CHECK(f.reader().semantic_generation() == start + 1);
    semantic("a"); // replaced: the old vector goes, a new one comes
    CHECK(f.reader().semantic_generation() == start + 3);
    CHECK(f.del({"a"}, f.t0) == 1);
    CHECK(f.reader().semantic_generation() == start + 4);
    f.reopen();
    CHECK(f.reader().semantic_generation() == start + 4);
  }

  TEST_CASE("reported wrong answers are kept per entry and leave with it")
  {
    StoreFixture f;
    const auto entry = semantic_entry("q");
    f.write([&](Writer& writer) { writer.set(entry, f.t0); });
    const std::vector<float> wrong{0.0f, 1.0f};
    const auto report = [&](std::string key, std::string tenant, std::string text) {
      return f.write([&](Writer& writer) { return writer.add_semantic_reject(tenant, key, text, wrong, f.t0); });
    };
    const auto id = report("q", "default", "other question");
    REQUIRE(id);
    CHECK(report("q", "default", "other question") == id); // the same report twice is one
    CHECK_FALSE(report("q", "elsewhere", "x"));             // another tenant's key
    CHECK_FALSE(report("missing", "default", "x"));
    f.set("plain", "v", f.t0);
    CHECK_FALSE(report("plain", "default", "x")); // no question, nothing to reject
    const auto rejects = f.reader().semantic_rejects(*id);
    REQUIRE(rejects.size() == 1);
    CHECK(rejects.front() == wrong);

    CHECK(f.del({"q"}, f.t0) == 1);
    CHECK(f.reader().semantic_rejects(*id).empty());
    CHECK(f.sql_number("SELECT count(*) FROM semantic_rejects") == 0);
  }
}
