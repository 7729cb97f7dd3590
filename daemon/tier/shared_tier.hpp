#pragma once

#include "daemon/tier/redis.hpp"
#include "protocol/counters.hpp"
#include "store/commit.hpp"
#include "store/entry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

// The shared tier: entries, tags, dependencies and invalidations kept in a
// Redis that several daemons use, behind each daemon's own database.
//
// Everything talks to Redis from the tier's own thread, on three
// connections: lookups, writes (mirrored sets and invalidations, in order,
// from a bounded queue that survives outages), and the invalidation log that
// every daemon follows. A request never waits for Redis longer than
// tier.redis.timeout, and never fails because of it.
namespace omnicache::daemon::tier {

struct TierOptions
{
  protocol::RedisUrl url;
  std::string shown_url; // with the password masked
  std::string prefix;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{250};
  std::size_t queue_limit = 100000;
  std::uint64_t log_length = 100000;
  // Where this daemon keeps its place in the invalidation log across restarts.
  std::string position_file;
  // Where what is still queued at stop waits for the next start (outbox.hpp);
  // empty: nowhere, it is lost.
  std::string outbox_file;
  std::function<void(const std::string&)> warn;
  std::function<void(const std::string&)> info;
};

// What Redis holds of an entry.
struct SharedEntry
{
  std::string value;
  std::string layer;
  std::string meta;
  std::vector<std::string> tags;
  std::vector<store::Dependency> deps;
  // When it expires by this machine's clock (its TTL left in Redis, counted
  // from when the lookup was sent); 0: never.
  std::int64_t expires_ms = 0;
  // The tier's generation when the lookup was sent: the entry may be copied
  // into the local store only while no invalidation has arrived since.
  std::uint64_t generation = 0;
};

// A removal made on one daemon, for every daemon's local store: as the
// store's writer records it for the observers of its commits.
using Invalidation = store::Removal;

using protocol::TierCounter;

// The tier table's counters (protocol/counters.hpp) for stats, indexed by
// id; read from any thread.
class TierCounters
{
public:
  std::atomic<std::uint64_t>& operator[](TierCounter counter) { return m_values[static_cast<std::size_t>(counter)]; }
  std::uint64_t value(TierCounter counter) const { return m_values[static_cast<std::size_t>(counter)].load(); }

  std::atomic<bool> connected{false};

private:
  std::array<std::atomic<std::uint64_t>, protocol::k_tier_counter_count> m_values{};
};

class SharedTier
{
public:
  // `apply` runs on the tier's thread for each invalidation another daemon
  // made (and, with kind flush and all_tenants, when the local store must be
  // emptied because invalidations were missed); it should hand the work to
  // the store and return. `after_applied(then)` must call `then` once every
  // invalidation handed to `apply` so far is committed.
  SharedTier(TierOptions options, std::function<void(const Invalidation&)> apply,
             std::function<void(std::function<void()> then)> after_applied);
  ~SharedTier();
  SharedTier(const SharedTier&) = delete;
  SharedTier& operator=(const SharedTier&) = delete;

  void start();
  // Waits (up to `limit`) until what other daemons invalidated while this one
  // was away is applied, so that nothing stale is served from the start; or
  // until Redis turned out unreachable. Returns whether that happened in time.
  bool wait_until_settled(std::chrono::milliseconds limit);
  // Sends what is queued (for up to `drain`), keeps what is left in the
  // outbox file, saves the log position, and stops.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(1000));

  // Thread-safe. Looks an entry up in Redis; `done` runs on `executor` with
  // the entry, or nullopt (not there, in another layer, Redis down or slow).
  void lookup(std::string tenant, std::string key, std::string layer, boost::asio::any_io_executor executor,
              std::function<void(std::optional<SharedEntry>)> done);
  // Thread-safe. Queues a committed entry for Redis (without its vector).
  // `written_ms`: when the local store wrote it (its TTL counts from there).
  void mirror(const store::EntryWrite& entry, std::int64_t written_ms);
  // Thread-safe. Queues a committed removal: Redis drops the entries, and
  // the other daemons theirs. Until Redis has it, lookups here miss.
  void publish(const Invalidation& change);
  // Thread-safe. After mirror() of an entry that replaced one: the other
  // daemons drop their copies of the key once Redis has the new value.
  void announce_overwrite(const std::string& tenant, const std::string& key);

  // Bumped for every invalidation applied from another daemon.
  std::uint64_t generation() const { return m_generation.load(); }
  TierCounters& counters() { return m_counters; }
  const TierOptions& options() const { return m_options; }

private:
  class Impl;
  TierOptions m_options;
  TierCounters m_counters;
  std::atomic<std::uint64_t> m_generation{0};
  std::mutex m_settled_mutex;
  std::condition_variable m_settled_changed;
  bool m_settled = false;
  std::unique_ptr<Impl> m_impl;
};

} // namespace omnicache::daemon::tier
