#include "store/touch_log.hpp"

#include <algorithm>
#include <utility>

namespace omnicache::store {

namespace {

void
merge(std::unordered_map<std::int64_t, Touch>& into, std::int64_t id, const Touch& touch)
{
  auto& mine = into[id];
  mine.access_ms = std::max(mine.access_ms, touch.access_ms);
  mine.hits += touch.hits;
}

} // namespace

void
TouchLog::record(std::int64_t entry_id, std::int64_t now_ms)
{
  std::lock_guard lock(m_mutex);
  merge(m_pending, entry_id, Touch{now_ms, 1});
}

std::optional<Touch>
TouchLog::peek(std::int64_t entry_id) const
{
  std::lock_guard lock(m_mutex);
  std::optional<Touch> out;
  for (const auto* map : {&m_pending, &m_in_flight}) {
    if (const auto it = map->find(entry_id); it != map->end()) {
      Touch sum = out.value_or(Touch{});
      sum.access_ms = std::max(sum.access_ms, it->second.access_ms);
      sum.hits += it->second.hits;
      out = sum;
    }
  }
  return out;
}

std::unordered_map<std::int64_t, Touch>
TouchLog::take()
{
  std::lock_guard lock(m_mutex);
  auto taken = std::exchange(m_pending, {});
  for (const auto& [id, touch] : taken) {
    merge(m_in_flight, id, touch);
  }
  return taken;
}

void
TouchLog::settle(bool committed)
{
  std::lock_guard lock(m_mutex);
  if (!committed) {
    for (const auto& [id, touch] : m_in_flight) {
      merge(m_pending, id, touch);
    }
  }
  m_in_flight.clear();
}

} // namespace omnicache::store
