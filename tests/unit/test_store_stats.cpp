#include "store/stats.hpp"

#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

using namespace omnicache::store;

namespace {

std::uint64_t
value_of(const CounterValues& values, Counter counter)
{
  return values[static_cast<std::size_t>(counter)];
}

ScopeStats
scope_of(const Stats& stats, const std::string& tenant, const std::string& layer)
{
  const auto snapshot = stats.snapshot();
  const auto it = snapshot.find({tenant, layer});
  REQUIRE(it != snapshot.end());
  return it->second;
}

} // namespace

TEST_SUITE("store.stats")
{
  TEST_CASE("gauges add field by field and max_bytes accounts stored values plus keys")
  {
    Gauges a{1, 100, 40, 3};
    a += Gauges{2, 10, 5, 7};
    CHECK(a == Gauges{3, 110, 45, 10});
    CHECK(a.accounted_bytes() == 55);
    a += Gauges{-3, -110, -45, -10};
    CHECK(a == Gauges{});
  }

  TEST_CASE("counter names are distinct and listed in counter order")
  {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < k_counter_info.size(); ++i) {
      CHECK(static_cast<std::size_t>(k_counter_info[i].id) == i);
      CHECK(names.insert(k_counter_info[i].name).second);
      CHECK_FALSE(k_counter_info[i].description.empty());
    }
  }

  TEST_CASE("a delta counts and measures per tenant and layer and keeps a total")
  {
    Delta delta;
    CHECK(delta.empty());
    delta.count("t", "kv", Counter::sets);
    delta.count("t", "kv", Counter::sets, 2);
    delta.count("u", "run", Counter::deletes);
    delta.gauge("t", "kv", Gauges{1, 10, 8, 2});
    delta.gauge("u", "run", Gauges{-1, -5, -5, -1});
    CHECK_FALSE(delta.empty());
    REQUIRE(delta.scopes().size() == 2);
    const auto& t = delta.scopes().at({"t", "kv"});
    CHECK(value_of(t.counters, Counter::sets) == 3);
    CHECK(t.gauges == Gauges{1, 10, 8, 2});
    CHECK(value_of(delta.scopes().at({"u", "run"}).counters, Counter::deletes) == 1);
    CHECK(delta.total() == Gauges{0, 5, 3, 1});
  }

  TEST_CASE("merging deltas adds their scopes and totals")
  {
    Delta a;
    a.count("t", "kv", Counter::sets);
    a.gauge("t", "kv", Gauges{1, 10, 10, 1});
    Delta b;
    b.count("t", "kv", Counter::sets);
    b.count("t", "run", Counter::evictions, 4);
    b.gauge("t", "run", Gauges{2, 20, 20, 2});
    a.merge(b);
    CHECK(value_of(a.scopes().at({"t", "kv"}).counters, Counter::sets) == 2);
    CHECK(value_of(a.scopes().at({"t", "run"}).counters, Counter::evictions) == 4);
    CHECK(a.total() == Gauges{3, 30, 30, 3});
    a.clear();
    CHECK(a.empty());
    CHECK(a.total() == Gauges{});
  }

  TEST_CASE("applying a delta adds it to the stats and its total")
  {
    Stats stats;
    stats.count("t", "kv", Counter::hits, 5);
    Delta delta;
    delta.count("t", "kv", Counter::sets, 2);
    delta.gauge("t", "kv", Gauges{2, 30, 20, 4});
    delta.gauge("u", "kv", Gauges{1, 1, 1, 1});
    stats.apply(delta);
    stats.apply(delta);
    const ScopeStats t = scope_of(stats, "t", "kv");
    CHECK(value_of(t.counters, Counter::hits) == 5);
    CHECK(value_of(t.counters, Counter::sets) == 4);
    CHECK(t.gauges == Gauges{4, 60, 40, 8});
    CHECK(stats.total_gauges() == Gauges{6, 62, 42, 10});
  }

  TEST_CASE("changed counters are handed out once for saving")
  {
    Stats stats;
    stats.count("t", "kv", Counter::hits);
    Delta delta;
    delta.count("t", "run", Counter::sets);
    delta.gauge("t", "run", Gauges{1, 1, 1, 1});
    delta.gauge("gauge-only", "kv", Gauges{1, 1, 1, 1}); // no counter changed here
    stats.apply(delta);
    const auto dirty = stats.take_dirty_counters();
    REQUIRE(dirty.size() == 2);
    CHECK(dirty[0].first == Scope{"t", "kv"});
    CHECK(value_of(dirty[0].second, Counter::hits) == 1);
    CHECK(dirty[1].first == Scope{"t", "run"});
    CHECK(value_of(dirty[1].second, Counter::sets) == 1);
    CHECK(stats.take_dirty_counters().empty());
    // The full value is handed out, not the change since the last time.
    stats.count("t", "kv", Counter::hits);
    const auto again = stats.take_dirty_counters();
    REQUIRE(again.size() == 1);
    CHECK(value_of(again[0].second, Counter::hits) == 2);
  }

  TEST_CASE("resetting the gauges replaces all of them and the total")
  {
    Stats stats;
    Delta delta;
    delta.gauge("old", "kv", Gauges{5, 5, 5, 5});
    delta.count("old", "kv", Counter::sets, 5);
    stats.apply(delta);
    stats.reset_gauges({{{"new", "run"}, Gauges{2, 20, 10, 4}}});
    const ScopeStats old = scope_of(stats, "old", "kv");
    CHECK(old.gauges == Gauges{});
    CHECK(value_of(old.counters, Counter::sets) == 5); // counters stay
    CHECK(scope_of(stats, "new", "run").gauges == Gauges{2, 20, 10, 4});
    CHECK(stats.total_gauges() == Gauges{2, 20, 10, 4});
  }

  TEST_CASE("loading a counter sets it by name and ignores unknown names")
  {
    Stats stats;
    stats.load_counter("t", "kv", "evictions", 42);
    stats.load_counter("t", "kv", "no_such_counter", 7);
    const ScopeStats t = scope_of(stats, "t", "kv");
    CHECK(value_of(t.counters, Counter::evictions) == 42);
    std::uint64_t sum = 0;
    for (const auto value : t.counters) {
      sum += value;
    }
    CHECK(sum == 42);
    CHECK(stats.take_dirty_counters().empty()); // loaded values are already saved
  }

  TEST_CASE("counting from several threads at once loses nothing")
  {
    Stats stats;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&stats, t] {
        for (int i = 0; i < 5000; ++i) {
          stats.count("t", t % 2 == 0 ? "kv" : "run", Counter::hits);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(value_of(scope_of(stats, "t", "kv").counters, Counter::hits) == 10000);
    CHECK(value_of(scope_of(stats, "t", "run").counters, Counter::hits) == 10000);
  }
}
