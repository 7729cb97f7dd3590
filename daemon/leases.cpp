#include "daemon/leases.hpp"

#include <algorithm>

namespace omnicache::daemon {

LeaseTable::Outcome
LeaseTable::acquire(const std::string& tenant, const std::string& key, std::uint64_t connection,
                    std::chrono::milliseconds lease_for, std::uint64_t waiter, Wake wake)
{
  std::lock_guard lock(m_mutex);
  const auto now = Clock::now();
  auto& lease = m_leases[{tenant, key}];
  if (lease.holder == 0 || lease.holder == connection || lease.expires <= now) {
    lease.holder = connection;
    lease.expires = now + lease_for;
    std::erase_if(lease.waiters, [waiter](const Waiter& w) { return w.id == waiter; });
    return {true, lease.expires};
  }
  auto queued = std::find_if(lease.waiters.begin(), lease.waiters.end(), [waiter](const Waiter& w) { return w.id == waiter; });
  if (queued == lease.waiters.end()) {
    lease.waiters.push_back({waiter, connection, std::move(wake)});
  }
  return {false, lease.expires};
}

std::vector<LeaseTable::Wake>
LeaseTable::end(std::map<Key, Lease>::iterator it)
{
  std::vector<Wake> wakes;
  for (auto& waiter : it->second.waiters) {
    wakes.push_back(std::move(waiter.wake));
  }
  m_leases.erase(it);
  return wakes;
}

void
LeaseTable::on_set(const std::string& tenant, const std::string& key, std::uint64_t connection)
{
  std::vector<Wake> wakes;
  {
    std::lock_guard lock(m_mutex);
    const auto it = m_leases.find({tenant, key});
    if (it == m_leases.end()) {
      return;
    }
    if (it->second.holder == connection || it->second.holder == 0) {
      wakes = end(it);
    } else {
      // Someone else stored it: the waiters can have it now; the holder keeps
      // its lease until it sets or releases.
      for (auto& waiter : it->second.waiters) {
        wakes.push_back(std::move(waiter.wake));
      }
      it->second.waiters.clear();
    }
  }
  for (auto& wake : wakes) {
    wake();
  }
}

bool
LeaseTable::release(const std::string& tenant, const std::string& key, std::uint64_t connection)
{
  std::vector<Wake> wakes;
  {
    std::lock_guard lock(m_mutex);
    const auto it = m_leases.find({tenant, key});
    if (it == m_leases.end() || it->second.holder != connection) {
      return false;
    }
    wakes = end(it);
  }
  for (auto& wake : wakes) {
    wake();
  }
  return true;
}

void
LeaseTable::cancel_wait(const std::string& tenant, const std::string& key, std::uint64_t waiter)
{
  std::lock_guard lock(m_mutex);
  const auto it = m_leases.find({tenant, key});
  if (it == m_leases.end()) {
    return;
  }
  std::erase_if(it->second.waiters, [waiter](const Waiter& w) { return w.id == waiter; });
  if (it->second.holder == 0 && it->second.waiters.empty()) {
    m_leases.erase(it);
  }
}

void
LeaseTable::drop_connection(std::uint64_t connection)
{
  std::vector<Wake> wakes;
  {
    std::lock_guard lock(m_mutex);
    for (auto it = m_leases.begin(); it != m_leases.end();) {
      std::erase_if(it->second.waiters, [connection](const Waiter& w) { return w.connection == connection; });
      if (it->second.holder == connection) {
        // A crashed or vanished holder frees its lease for a waiter.
        auto ended = end(it++);
        std::move(ended.begin(), ended.end(), std::back_inserter(wakes));
      } else if (it->second.holder == 0 && it->second.waiters.empty()) {
        it = m_leases.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& wake : wakes) {
    wake();
  }
}

std::size_t
LeaseTable::held() const
{
  std::lock_guard lock(m_mutex);
  return static_cast<std::size_t>(
    std::count_if(m_leases.begin(), m_leases.end(), [](const auto& item) { return item.second.holder != 0; }));
}

bool
LeaseTable::any() const
{
  std::lock_guard lock(m_mutex);
  return !m_leases.empty();
}

} // namespace omnicache::daemon
