#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

// Who computes a missing value when several clients want it at once
// (get_or_lease). The first gets a lease; the others wait until the value is
// set, or until the lease is released, lapses, or its connection closes, and
// then try again: one of them then gets the lease.
namespace omnicache::daemon {

class LeaseTable
{
public:
  using Clock = std::chrono::steady_clock;
  // Must be cheap and thread-safe: it posts a retry to the waiter's thread.
  using Wake = std::function<void()>;

  struct Outcome
  {
    bool granted = false;
    Clock::time_point expires; // of the lease held (by us or another)
  };

  // Grants the lease on (tenant, key) to `connection` unless another
  // connection holds one that has not lapsed; then queues `wake` under
  // `waiter` until the lease changes hands.
  Outcome acquire(const std::string& tenant, const std::string& key, std::uint64_t connection,
                  std::chrono::milliseconds lease_for, std::uint64_t waiter, Wake wake);

  // The key was set by anyone: its waiters retry (and find the value); a
  // lease held by `connection` on it ends.
  void on_set(const std::string& tenant, const std::string& key, std::uint64_t connection);

  // Ends a lease held by `connection` and wakes the waiters. Returns whether
  // it held one.
  bool release(const std::string& tenant, const std::string& key, std::uint64_t connection);

  void cancel_wait(const std::string& tenant, const std::string& key, std::uint64_t waiter);

  // A connection closed: its leases end and its waits are forgotten.
  void drop_connection(std::uint64_t connection);

  std::size_t held() const;
  // Whether any lease or wait exists at all: a cheap test before work that
  // only matters to waiters.
  bool any() const;

private:
  struct Waiter
  {
    std::uint64_t id;
    std::uint64_t connection;
    Wake wake;
  };
  struct Lease
  {
    std::uint64_t holder = 0; // 0: nobody (only waiters left)
    Clock::time_point expires;
    std::vector<Waiter> waiters;
  };
  using Key = std::pair<std::string, std::string>;

  // Ends the lease and returns the waiters to wake, outside the lock.
  std::vector<Wake> end(std::map<Key, Lease>::iterator it);

  mutable std::mutex m_mutex;
  std::map<Key, Lease> m_leases;
};

} // namespace omnicache::daemon
