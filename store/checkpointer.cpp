#include "store/checkpointer.hpp"

#include <fmt/core.h>

#include <chrono>
#include <utility>

namespace omnicache::store {

Checkpointer::Checkpointer(const std::string& path, const std::string& sync,
                           std::function<void(const std::string&)> on_error)
  : m_db(path, sqlite::Connection::Mode::read_write_create),
    m_on_error(std::move(on_error))
{
  // The checkpoint syncs the log and the database unless syncing is off.
  m_db.exec(sync == "off" ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = NORMAL");
}

Checkpointer::~Checkpointer()
{
  stop();
}

void
Checkpointer::start()
{
  m_thread = std::thread([this] { run(); });
}

void
Checkpointer::stop()
{
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) {
      return;
    }
    m_stopping = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) {
    m_thread.join();
  }
  checkpoint();
}

void
Checkpointer::log_grew(int frames)
{
  if (frames < k_wake_frames) {
    return;
  }
  {
    std::lock_guard lock(m_mutex);
    if (m_wanted) {
      return;
    }
    m_wanted = true;
  }
  m_wake.notify_one();
}

void
Checkpointer::run()
{
  for (;;) {
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait_for(lock, std::chrono::seconds(1), [this] { return m_wanted || m_stopping; });
      if (m_stopping) {
        return;
      }
      m_wanted = false;
    }
    checkpoint();
  }
}

void
Checkpointer::checkpoint()
{
  int log_frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(m_db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  // BUSY: another checkpoint is running, or the log is being restarted; the
  // next round catches up.
  if (rc != SQLITE_OK && rc != SQLITE_BUSY && m_on_error) {
    m_on_error(fmt::format("checkpoint: {}", sqlite3_errmsg(m_db.handle())));
  }
}

} // namespace omnicache::store
