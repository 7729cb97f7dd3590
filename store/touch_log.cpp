#include "store/touch_log.hpp"

#include <algorithm>
#include <utility>

namespace omnicache::store {

void
TouchLog::record(std::int64_t entry_id, std::int64_t now_ms)
{
  std::lock_guard lock(m_mutex);
  auto& touch = m_pending[entry_id];
  touch.access_ms = std::max(touch.access_ms, now_ms);
  ++touch.hits;
}

std::optional<Touch>
TouchLog::peek(std::int64_t entry_id) const
{
  std::lock_guard lock(m_mutex);
  const auto it = m_pending.find(entry_id);
  if (it == m_pending.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::unordered_map<std::int64_t, Touch>
TouchLog::take()
{
  std::lock_guard lock(m_mutex);
  return std::exchange(m_pending, {});
}

void
TouchLog::restore(const std::unordered_map<std::int64_t, Touch>& touches)
{
  std::lock_guard lock(m_mutex);
  for (const auto& [id, touch] : touches) {
    auto& mine = m_pending[id];
    mine.access_ms = std::max(mine.access_ms, touch.access_ms);
    mine.hits += touch.hits;
  }
}

} // namespace omnicache::store
