#pragma once

#include "protocol/error.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// A Store on a fresh database in a temporary folder, driven the way the daemon
// drives it: writes go through Store::submit and count as done only once
// their batch has committed.
namespace omnicache::unit {

// A write of `value` under `key` in tenant "default".
inline store::EntryWrite
entry_of(std::string key, std::string value, std::string layer = "kv")
{
  store::EntryWrite entry;
  entry.tenant = "default";
  entry.layer = std::move(layer);
  entry.key = std::move(key);
  entry.value = std::move(value);
  return entry;
}

// Limits that keep background maintenance out of the way: it runs when the
// store starts and stops, not in the middle of a test.
inline store::StoreLimits
quiet_limits()
{
  store::StoreLimits limits;
  limits.sweep_interval_ms = 3'600'000;
  return limits;
}

// Waits for a job's `done`; the promise is shared with the writer thread so
// that it outlives set_value.
class DoneWaiter
{
public:
  DoneWaiter()
    : m_promise(std::make_shared<std::promise<void>>()),
      m_future(m_promise->get_future())
  {
  }
  std::function<void(std::exception_ptr)> callback() const
  {
    return [promise = m_promise](std::exception_ptr error) {
      if (error) {
        promise->set_exception(error);
      } else {
        promise->set_value();
      }
    };
  }
  // Returns once the job is done; rethrows its error.
  void wait() { m_future.get(); }
  // The job's error, or nullptr.
  std::exception_ptr error()
  {
    try {
      m_future.get();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

private:
  std::shared_ptr<std::promise<void>> m_promise;
  std::future<void> m_future;
};

// The protocol::Error inside `error`, or nullopt.
inline std::optional<protocol::Error>
error_in(std::exception_ptr error)
{
  if (!error) {
    return std::nullopt;
  }
  try {
    std::rethrow_exception(error);
  } catch (const protocol::Error& e) {
    return e;
  } catch (...) {
    return std::nullopt;
  }
}

class StoreFixture
{
public:
  // Times the tests pass as `now`: a day ahead of the clock, so that the
  // background sweep (which uses the real clock) never expires a test entry.
  const std::int64_t t0 = store::now_ms() + 86'400'000;

  explicit StoreFixture(store::StoreLimits limits = quiet_limits())
    : m_limits(limits)
  {
    open();
  }
  ~StoreFixture() { close(); }
  StoreFixture(const StoreFixture&) = delete;
  StoreFixture& operator=(const StoreFixture&) = delete;

  void open()
  {
    store::StoreOptions options;
    options.path = path();
    options.limits = m_limits;
    options.on_error = [](const std::string& message) { FAIL_CHECK("store reported: " << message); };
    m_store = std::make_unique<store::Store>(std::move(options));
    m_store->observe([this](const store::Commit& commit) {
      std::lock_guard lock(m_removed_mutex);
      for (const auto& entry : commit.removed) {
        m_removed.push_back(entry.tenant + "/" + std::to_string(entry.id));
      }
    });
    m_store->start();
    m_reader = m_store->open_reader();
    // The writer maintains the store once as it starts, before or right after
    // its first batch. Maintenance takes pending hits out of the TouchLog
    // before it commits them, so inspect can miss them meanwhile; two jobs in
    // a row make sure that pass is over before a test looks.
    write([](store::Writer&) {});
    write([](store::Writer&) {});
  }
  void close()
  {
    m_reader.reset();
    m_store.reset();
  }
  void reopen()
  {
    close();
    open();
  }

  // What the store said it removed from the layers that keep vectors, as
  // "tenant/id", in order; taken once.
  std::vector<std::string> take_removed()
  {
    std::lock_guard lock(m_removed_mutex);
    return std::exchange(m_removed, {});
  }

  std::string path() const { return m_dir.file("cache.db"); }
  const TempDir& dir() const { return m_dir; }
  store::Store& store() { return *m_store; }
  store::Reader& reader() { return *m_reader; }

  // Runs `apply` as one job and waits for its commit; returns what it
  // returned and rethrows what it threw.
  template<typename F>
  auto write(F apply) -> std::invoke_result_t<F&, store::Writer&>
  {
    using Result = std::invoke_result_t<F&, store::Writer&>;
    DoneWaiter done;
    if constexpr (std::is_void_v<Result>) {
      m_store->submit({[&](store::Writer& writer) { apply(writer); }, done.callback()});
      done.wait();
    } else {
      std::optional<Result> result;
      m_store->submit({[&](store::Writer& writer) { result = apply(writer); }, done.callback()});
      done.wait();
      return std::move(*result);
    }
  }

  // Shorthands for the common writes.
  bool set(std::string key, std::string value, std::int64_t now, std::int64_t ttl_ms = 0,
           std::vector<std::string> tags = {}, std::string layer = "kv", std::string tenant = "default")
  {
    store::EntryWrite entry;
    entry.tenant = std::move(tenant);
    entry.layer = std::move(layer);
    entry.key = std::move(key);
    entry.value = std::move(value);
    entry.ttl_ms = ttl_ms;
    entry.tags = std::move(tags);
    return write([&](store::Writer& writer) { return writer.set(entry, now); });
  }
  std::uint64_t del(std::vector<std::string> keys, std::int64_t now, std::string tenant = "default")
  {
    return write([&](store::Writer& writer) { return writer.remove_keys(tenant, keys, now); });
  }
  std::uint64_t invalidate(const store::Selector& selector, std::int64_t now, std::string tenant = "default")
  {
    return write([&](store::Writer& writer) { return writer.invalidate(tenant, selector, now); });
  }
  std::optional<std::string> get(std::string_view key, std::int64_t now, std::string_view tenant = "default",
                                 std::string_view layer = "")
  {
    auto hit = m_reader->get(tenant, key, layer, now);
    return hit ? std::optional<std::string>(std::move(hit->value)) : std::nullopt;
  }
  // Every live key of a tenant that the selector picks, in order.
  std::vector<std::string> keys(const store::Selector& selector, std::int64_t now, std::string_view tenant = "default")
  {
    return m_reader->keys(tenant, selector, "", 100000, now).keys;
  }

  std::uint64_t counter(store::Counter counter, std::string_view layer = "kv", std::string_view tenant = "default")
  {
    const auto snapshot = m_store->stats().snapshot();
    const auto it = snapshot.find({std::string(tenant), std::string(layer)});
    return it == snapshot.end() ? 0 : it->second.counters[static_cast<std::size_t>(counter)];
  }
  store::Gauges gauges(std::string_view layer = "kv", std::string_view tenant = "default")
  {
    const auto snapshot = m_store->stats().snapshot();
    const auto it = snapshot.find({std::string(tenant), std::string(layer)});
    return it == snapshot.end() ? store::Gauges{} : it->second.gauges;
  }

  // One number from the database, read on a connection of its own.
  std::int64_t sql_number(const char* sql) const
  {
    store::sqlite::Connection db(path(), store::sqlite::Connection::Mode::read_only);
    auto stmt = db.prepare(sql);
    REQUIRE(stmt.step());
    const auto value = stmt.column_int(0);
    stmt.reset();
    return value;
  }

private:
  std::mutex m_removed_mutex;
  std::vector<std::string> m_removed;
  TempDir m_dir;
  store::StoreLimits m_limits;
  std::unique_ptr<store::Store> m_store;
  std::unique_ptr<store::Reader> m_reader;
};

} // namespace omnicache::unit

// Beside Gauges, so that doctest's comparisons find it.
namespace omnicache::store {

inline bool
operator==(const Gauges& a, const Gauges& b)
{
  return a.entries == b.entries && a.raw_bytes == b.raw_bytes && a.stored_bytes == b.stored_bytes
         && a.key_bytes == b.key_bytes;
}

} // namespace omnicache::store

namespace doctest {

template<>
struct StringMaker<omnicache::store::Gauges>
{
  static String convert(const omnicache::store::Gauges& g)
  {
    return ("{entries " + std::to_string(g.entries) + ", raw " + std::to_string(g.raw_bytes) + ", stored "
            + std::to_string(g.stored_bytes) + ", keys " + std::to_string(g.key_bytes) + "}")
      .c_str();
  }
};

} // namespace doctest
