#include "store/commit.hpp"

#include "protocol/error.hpp"
#include "store/store.hpp"
#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

using namespace omnicache::store;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using omnicache::unit::DoneWaiter;
using omnicache::unit::entry_of;
using omnicache::unit::quiet_limits;
using omnicache::unit::TempDir;

namespace {

using Keys = std::vector<std::string>;

// A change as a test compares it: "set KEY", "set KEY replaced", "ttl KEY",
// "keys K1,K2", "selector", "deps NAME@VERSION", "flush TENANT" or "flush *".
std::string
describe(const Change& change)
{
  switch (change.kind) {
  case Change::Kind::set:
    return "set " + change.entry->key + (change.replaced ? " replaced" : "");
  case Change::Kind::ttl:
    return "ttl " + change.entry->key;
  case Change::Kind::removal:
    break;
  }
  const auto& removal = change.removal;
  std::string joined;
  switch (removal.kind) {
  case Removal::Kind::keys:
    for (const auto& key : removal.keys) {
      joined += (joined.empty() ? "" : ",") + key;
    }
    return "keys " + joined;
  case Removal::Kind::selector:
    return "selector " + removal.selector.pattern;
  case Removal::Kind::deps:
    return "deps " + removal.deps.at(0) + "@" + removal.version;
  case Removal::Kind::flush:
    return "flush " + (removal.all_tenants ? std::string("*") : removal.tenant);
  }
  return "?";
}

// What one observer call saw, copied while it was told.
struct Told
{
  bool committed = false;
  std::vector<std::string> changes;
  std::vector<std::uint64_t> clients;
  std::vector<bool> replicated;
  std::vector<std::string> settled; // "client:tenant/key"
  std::vector<std::string> ttl_values;
  bool visible = false; // whether a reader already saw key "seen"
};

// A store with one observer that keeps what it is told.
class Observed
{
public:
  explicit Observed(bool whole_ttl_entries = false)
    : m_store(options())
  {
    m_reader = m_store.open_reader();
    m_store.observe([this](const Commit& commit) { keep(commit); }, whole_ttl_entries);
    m_store.start();
  }

  Store& store() { return m_store; }

  // What the observer was told, except the maintenance passes that removed nothing.
  std::vector<Told> told()
  {
    std::lock_guard lock(m_mutex);
    return m_told;
  }

  // Runs `apply` as one job of `origin` that means to set `settles`, and
  // waits until it is over; returns its error.
  template<typename F>
  std::exception_ptr write(F apply, Origin origin = {}, Keys settles = {})
  {
    DoneWaiter done;
    m_store.submit(WriteJob{[&](Writer& writer) { apply(writer); }, done.callback(), origin,
                            TenantKeys{"default", std::move(settles)}});
    return done.error();
  }

private:
  StoreOptions options()
  {
    StoreOptions options;
    options.path = m_dir.file("cache.db");
    options.limits = quiet_limits();
    return options;
  }

  void keep(const Commit& commit)
  {
    Told told;
    told.committed = commit.committed;
    for (const auto& change : commit.changes) {
      told.changes.push_back(describe(change));
      told.clients.push_back(change.origin.client);
      told.replicated.push_back(change.origin.replicate);
      if (change.kind == Change::Kind::ttl) {
        told.ttl_values.push_back(std::string(change.entry->bytes()) + "/" + std::to_string(change.entry->ttl_ms));
      }
    }
    for (const auto& settled : commit.settled) {
      for (const auto& key : settled.keys.keys) {
        told.settled.push_back(std::to_string(settled.origin.client) + ":" + settled.keys.tenant + "/" + key);
      }
    }
    told.visible = m_reader->exists("default", "seen", now_ms());
    std::lock_guard lock(m_mutex);
    m_told.push_back(std::move(told));
  }

  TempDir m_dir;
  Store m_store;
  std::unique_ptr<Reader> m_reader; // used on the writer thread only, in keep()
  std::mutex m_mutex;
  std::vector<Told> m_told;
};

} // namespace

TEST_SUITE("store.commit")
{
  TEST_CASE("a committed batch tells its sets and removals once, in order, after the commit")
  {
    Observed o;
    // Hold the writer inside a first job so that the next ones are one batch.
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    DoneWaiter first;
    o.store().submit({[&](Writer&) {
                        started.set_value();
                        released.wait();
                      },
                      first.callback()});
    started.get_future().wait();

    const auto seen = entry_of("seen", "1");
    const auto again = entry_of("seen", "2");
    const Origin client{7, true};
    DoneWaiter done[3];
    o.store().submit({[&](Writer& w) { w.set(seen, now_ms()); }, done[0].callback(), client, {"default", {"seen"}}});
    o.store().submit({[&](Writer& w) { w.set(again, now_ms()); }, done[1].callback(), client});
    o.store().submit({[&](Writer& w) { w.remove_keys("default", {"gone", "absent"}, now_ms()); }, done[2].callback()});
    release.set_value();
    first.wait();
    for (auto& d : done) {
      d.wait();
    }

    const auto told = o.told();
    REQUIRE(told.size() == 1); // one batch, told once
    CHECK(told[0].committed);
    CHECK(told[0].changes == Keys{"set seen", "set seen replaced", "keys gone,absent"});
    CHECK(told[0].clients == std::vector<std::uint64_t>{7, 7, 0});
    CHECK(told[0].replicated == std::vector<bool>{true, true, false});
    CHECK(told[0].settled == Keys{"7:default/seen"});
    CHECK(told[0].visible); // the commit came first
  }

  TEST_CASE("a job that fails leaves no change but still settles its keys")
  {
    Observed o;
    const auto kept = entry_of("kept", "1");
    const auto dropped = entry_of("dropped", "2");
    CHECK_FALSE(o.write([&](Writer& w) { w.set(kept, now_ms()); }, {1, true}, {"kept"}));
    const auto error = o.write(
      [&](Writer& w) {
        w.set(dropped, now_ms());
        throw Error(ErrorCode::bad_request, "refused on purpose");
      },
      {2, true}, {"dropped"});
    CHECK(error);

    const auto told = o.told();
    REQUIRE(told.size() == 2);
    CHECK(told[0].changes == Keys{"set kept"});
    CHECK(told[0].settled == Keys{"1:default/kept"});
    CHECK(told[1].committed); // the batch committed, without the failed job's change
    CHECK(told[1].changes.empty());
    CHECK(told[1].settled == Keys{"2:default/dropped"});
  }

  TEST_CASE("jobs refused at stop change nothing but settle their keys")
  {
    Observed o;
    o.store().stop();
    const auto error = o.write([](Writer&) {}, {3, true}, {"late"});
    CHECK(error);
    const auto told = o.told();
    REQUIRE(told.size() == 1);
    CHECK_FALSE(told[0].committed);
    CHECK(told[0].changes.empty());
    CHECK(told[0].settled == Keys{"3:default/late"});
  }

  TEST_CASE("a TTL change carries the whole entry only for an observer that asked")
  {
    for (const bool asked : {false, true}) {
      CAPTURE(asked);
      Observed o(asked);
      auto entry = entry_of("k", "value");
      CHECK_FALSE(o.write([&](Writer& w) { w.set(entry, now_ms()); }));
      CHECK_FALSE(o.write([&](Writer& w) { CHECK(w.set_ttl("default", "k", 60'000, now_ms())); }));
      CHECK_FALSE(o.write([&](Writer& w) { CHECK_FALSE(w.set_ttl("default", "absent", 60'000, now_ms())); }));
      // A batch that changed nothing is not told at all.
      const auto told = o.told();
      REQUIRE(told.size() == (asked ? 2 : 1));
      CHECK(told[0].changes == Keys{"set k"});
      if (asked) {
        CHECK(told[1].changes == Keys{"ttl k"});
        CHECK(told[1].ttl_values == Keys{"value/60000"});
      }
    }
  }
}

TEST_SUITE("store.commit.writer")
{
  TEST_CASE("removals are recorded as they were asked for")
  {
    TempDir dir;
    Stats stats;
    TouchLog touches;
    Writer writer(dir.file("cache.db"), "normal", stats, touches);
    writer.begin();
    writer.begin_job({5, true});
    Selector selector;
    selector.pattern = "a*";
    writer.invalidate("t", selector, 1000);
    writer.invalidate_dependencies("t", {"dep"}, "v2", 1000);
    writer.flush(std::string_view("t"), 1000);
    writer.flush(std::nullopt, 1000);
    Removal keys;
    keys.tenant = "t";
    keys.keys = {"x"};
    writer.remove(keys, 1000);
    writer.end_job();
    writer.commit();
    std::vector<std::string> described;
    for (const auto& change : writer.take_batch_changes()) {
      described.push_back(describe(change));
      CHECK(change.origin.client == 5);
      CHECK(change.removal.tenant == (change.removal.all_tenants ? "" : "t"));
    }
    CHECK(described == Keys{"selector a*", "deps dep@v2", "flush t", "flush *", "keys x"});
    CHECK(writer.take_batch_changes().empty()); // handed over once
  }

  TEST_CASE("a rolled back batch has nothing to tell")
  {
    TempDir dir;
    Stats stats;
    TouchLog touches;
    Writer writer(dir.file("cache.db"), "normal", stats, touches);
    const auto entry = entry_of("k", "v");
    writer.begin();
    writer.begin_job();
    writer.set(entry, 1000);
    writer.end_job();
    writer.begin_job();
    writer.remove_keys("default", {"k"}, 1000);
    writer.abort_job();
    writer.rollback();
    CHECK(writer.take_batch_changes().empty());
  }
}
