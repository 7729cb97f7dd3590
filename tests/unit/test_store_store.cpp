#include "store/store.hpp"

#include "protocol/error.hpp"
#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

using namespace omnicache::store;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using omnicache::unit::DoneWaiter;
using omnicache::unit::entry_of;
using omnicache::unit::error_in;
using omnicache::unit::quiet_limits;
using omnicache::unit::StoreFixture;
using omnicache::unit::TempDir;

namespace {

using Keys = std::vector<std::string>;

// Every counter of every scope, as a flat list for comparing.
std::vector<std::pair<Scope, CounterValues>>
counters_of(Stats& stats)
{
  std::vector<std::pair<Scope, CounterValues>> out;
  for (const auto& [scope, values] : stats.snapshot()) {
    bool any = false;
    for (const auto value : values.counters) {
      any = any || value != 0;
    }
    if (any) {
      out.emplace_back(scope, values.counters);
    }
  }
  return out;
}

std::vector<std::pair<Scope, Gauges>>
gauges_of(Stats& stats)
{
  std::vector<std::pair<Scope, Gauges>> out;
  for (const auto& [scope, values] : stats.snapshot()) {
    if (values.gauges.entries != 0) {
      out.emplace_back(scope, values.gauges);
    }
  }
  return out;
}

} // namespace

TEST_SUITE("store.store")
{
  TEST_CASE("a failing job fails alone while the rest of its batch commits")
  {
    StoreFixture f;
    // Hold the writer inside a first job so that the next three queue up and
    // are taken as one batch.
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    DoneWaiter first;
    f.store().submit({[&](Writer&) {
                        started.set_value();
                        released.wait();
                      },
                      first.callback()});
    started.get_future().wait();

    std::atomic<int> applied{0};
    int applied_when_done[3] = {-1, -1, -1};
    DoneWaiter done[3];
    auto callback = [&](int i) {
      return [&, i, inner = done[i].callback()](std::exception_ptr error) {
        applied_when_done[i] = applied.load();
        inner(error);
      };
    };
    f.store().submit({[&](Writer& w) {
                        w.set(entry_of("b", "1"), f.t0);
                        ++applied;
                      },
                      callback(0)});
    f.store().submit({[&](Writer& w) {
                        w.set(entry_of("c-partial", "2"), f.t0);
                        ++applied;
                        throw Error(ErrorCode::bad_request, "refused on purpose");
                      },
                      callback(1)});
    f.store().submit({[&](Writer& w) {
                        w.set(entry_of("d", "3"), f.t0);
                        ++applied;
                      },
                      callback(2)});
    CHECK(f.store().queued() == 3);
    release.set_value();

    first.wait();
    CHECK_FALSE(done[0].error());
    const auto failed = error_in(done[1].error());
    REQUIRE(failed);
    CHECK(failed->code() == ErrorCode::bad_request);
    CHECK(std::string(failed->what()) == "refused on purpose");
    CHECK_FALSE(done[2].error());
    // Each job was acknowledged only after all three had run: one commit.
    for (const int n : applied_when_done) {
      CHECK(n == 3);
    }
    CHECK(f.keys({}, f.t0) == Keys{"b", "d"});
    CHECK(f.counter(Counter::sets) == 2);
    CHECK(f.gauges().entries == 2);
  }

  TEST_CASE("stop finishes the jobs already submitted")
  {
    StoreFixture f;
    std::vector<DoneWaiter> done(50);
    for (std::size_t i = 0; i < done.size(); ++i) {
      f.store().submit({[key = "k" + std::to_string(i), now = f.t0](Writer& w) { w.set(entry_of(key, "v"), now); },
                        done[i].callback()});
    }
    f.store().stop();
    for (auto& waiter : done) {
      CHECK_FALSE(waiter.error());
    }
    f.reopen();
    CHECK(f.keys({}, f.t0).size() == 50);
  }

  TEST_CASE("jobs submitted after stop fail with SHUTTING_DOWN")
  {
    StoreFixture f;
    f.store().stop();
    bool ran = false;
    DoneWaiter done;
    f.store().submit({[&](Writer&) { ran = true; }, done.callback()});
    const auto error = error_in(done.error());
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::shutting_down);
    CHECK_FALSE(ran);
    CHECK_NOTHROW(f.store().stop()); // stopping twice is harmless
  }

  TEST_CASE("counters survive closing and reopening the store")
  {
    StoreFixture f;
    f.set("a", "1", f.t0);
    f.set("b", "2", f.t0);
    f.set("c", "3", f.t0, 0, {}, "response", "other");
    REQUIRE(f.get("a", f.t0));
    CHECK_FALSE(f.get("zzz", f.t0, "default", "embedding"));
    f.del({"b"}, f.t0);
    Selector by_layer;
    by_layer.layer = "response";
    f.invalidate(by_layer, f.t0, "other");
    const auto before = counters_of(f.store().stats());
    REQUIRE(before.size() == 3); // default/kv, default/embedding, other/response

    f.reopen();
    CHECK(counters_of(f.store().stats()) == before);

    // Counters go on from where they were, and are saved again.
    f.set("d", "4", f.t0);
    REQUIRE(f.get("d", f.t0));
    f.reopen();
    CHECK(f.counter(Counter::sets) == 3);
    CHECK(f.counter(Counter::hits) == 2);
    CHECK(f.counter(Counter::deletes) == 1);
    CHECK(f.counter(Counter::misses, "embedding") == 1);
    CHECK(f.counter(Counter::invalidations, "response", "other") == 1);
  }

  TEST_CASE("gauges are exact after reopening")
  {
    StoreFixture f;
    f.set("a", std::string(10, 'x'), f.t0);
    f.set("big", std::string(20000, 'z'), f.t0, 0, {}, "embedding"); // stored compressed
    f.set("c", "3", f.t0, 0, {}, "kv", "other");
    f.set("a", std::string(4, 'x'), f.t0);
    f.del({"c"}, f.t0, "other");
    const auto before = gauges_of(f.store().stats());
    const Gauges total = f.store().stats().total_gauges();
    REQUIRE(before.size() == 2);
    CHECK(total.entries == 2);
    CHECK(total.raw_bytes == 20004);
    CHECK(total.stored_bytes < 20004);

    f.reopen();
    CHECK(gauges_of(f.store().stats()) == before);
    CHECK(f.store().stats().total_gauges() == total);
  }

  TEST_CASE("hits recorded by readers are saved when the store stops")
  {
    StoreFixture f;
    f.set("k", "v", f.t0);
    REQUIRE(f.get("k", f.t0 + 10));
    REQUIRE(f.get("k", f.t0 + 20));
    f.reopen();
    CHECK(f.sql_number("SELECT hits FROM entries WHERE key = 'k'") == 2);
    const auto info = f.reader().inspect("default", "k", f.t0 + 30);
    REQUIRE(info);
    CHECK(info->hits == 2);
    CHECK(info->access_ms == f.t0 + 20);
  }

  TEST_CASE("a store that was never started still saves what its readers counted")
  {
    TempDir dir;
    StoreOptions options;
    options.path = dir.file("cache.db");
    options.limits = quiet_limits();
    {
      Store store(options);
      auto reader = store.open_reader();
      CHECK_FALSE(reader->get("default", "missing", "", now_ms()));
      store.stop();
    }
    Store store(options);
    const auto snapshot = store.stats().snapshot();
    const auto it = snapshot.find({"default", "kv"});
    REQUIRE(it != snapshot.end());
    CHECK(it->second.counters[static_cast<std::size_t>(Counter::misses)] == 1);
  }

  TEST_CASE("lowering the limits evicts at the next write")
  {
    StoreFixture f;
    f.set("a", "1", f.t0 + 1);
    f.set("b", "2", f.t0 + 2);
    f.set("c", "3", f.t0 + 3);
    f.set("d", "4", f.t0 + 4);
    REQUIRE(f.get("a", f.t0 + 5));
    auto limits = quiet_limits();
    limits.max_entries = 2;
    f.store().set_limits(limits);
    f.write([](Writer&) {});
    CHECK(f.keys({}, f.t0 + 5) == Keys{"a", "d"});
    CHECK(f.counter(Counter::evictions) == 2);
    CHECK(f.gauges().entries == 2);
  }

  TEST_CASE("the store reports its path and an empty queue when idle")
  {
    StoreFixture f;
    CHECK(f.store().path() == f.path());
    f.set("k", "v", f.t0);
    CHECK(f.store().queued() == 0);
  }

  TEST_CASE("removed entries of the layers that keep vectors are reported after their commit")
  {
    StoreFixture f;
    const auto id_of = [&](const std::string& key) {
      return std::to_string(f.sql_number(("SELECT id FROM entries WHERE key = '" + key + "'").c_str()));
    };
    f.set("s1", "v", f.t0, 0, {"t"}, "semantic");
    f.set("r1", "v", f.t0, 0, {}, "response", "other");
    f.set("k1", "v", f.t0, 0, {"t"}, "kv");
    const auto s1 = id_of("s1");
    const auto r1 = id_of("r1");
    CHECK(f.take_removed().empty());

    f.set("s1", "new", f.t0, 0, {"t"}, "semantic"); // replaced: the old id goes
    CHECK(f.take_removed() == std::vector<std::string>{"default/" + s1});
    Selector by_tag;
    by_tag.tags = {"t"};
    CHECK(f.invalidate(by_tag, f.t0) == 2); // s1 (new id) and k1: only s1 is reported
    CHECK(f.take_removed().size() == 1);
    CHECK(f.del({"r1"}, f.t0, "other") == 1);
    CHECK(f.take_removed() == std::vector<std::string>{"other/" + r1});

    // A job that fails reports nothing it had removed.
    f.set("s2", "v", f.t0, 0, {}, "semantic");
    CHECK_THROWS(f.write([&](Writer& writer) {
      writer.remove_keys("default", {"s2"}, f.t0);
      throw std::runtime_error("abandon");
    }));
    CHECK(f.take_removed().empty());
  }
}
