#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

// Hits are recorded in memory and written in batches by the writer, so that a
// hit never waits on a write. LRU order and hit counts in the database lag by
// at most one flush interval; inspect adds what is still pending.
//
// Touches taken by the writer stay visible ("in flight") until the
// transaction holding them settles, and the commit and the settling happen
// under the view lock, which inspect also holds: a reader sees each hit
// exactly once, in the database or here.
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
  // Pending and in-flight touches of an entry.
  std::optional<Touch> peek(std::int64_t entry_id) const;
  // Moves pending touches in flight and returns them for writing.
  std::unordered_map<std::int64_t, Touch> take();
  // The transaction that wrote the in-flight touches committed (drop them)
  // or rolled back (make them pending again).
  void settle(bool committed);
  // Held around a commit and around a read that adds peek() to the database.
  std::unique_lock<std::mutex> hold_view() { return std::unique_lock(m_view); }

private:
  mutable std::mutex m_mutex;
  std::mutex m_view;
  std::unordered_map<std::int64_t, Touch> m_pending;
  std::unordered_map<std::int64_t, Touch> m_in_flight;
};

} // namespace omnicache::store
