#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

// Hits are recorded in memory and written in batches by the writer, so that a
// hit never waits on a write. LRU order and hit counts in the database lag by
// at most one flush interval; inspect adds what is still pending.
namespace omnicache::store {

struct Touch
{
  std::int64_t access_ms = 0;
  std::uint64_t hits = 0;
};

class TouchLog
{
public:
  void record(std::int64_t entry_id, std::int64_t now_ms);
  std::optional<Touch> peek(std::int64_t entry_id) const;
  std::unordered_map<std::int64_t, Touch> take();
  // Puts back touches that could not be written.
  void restore(const std::unordered_map<std::int64_t, Touch>& touches);

private:
  mutable std::mutex m_mutex;
  std::unordered_map<std::int64_t, Touch> m_pending;
};

} // namespace omnicache::store
