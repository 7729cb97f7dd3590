#pragma once

#include "store/sqlite.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace omnicache::store {

// Copies the write-ahead log back into the database on a thread and a
// connection of its own, so that no commit waits for a checkpoint (SQLite
// would otherwise run one inside the commit that crosses its threshold, and
// the once-a-second one would stall the writer for the whole copy). A PASSIVE
// checkpoint never blocks the writer or the readers.
//
// It runs once a second, which with synchronous = NORMAL is also when the log
// reaches the disk, and as soon as the writer reports a log past
// k_wake_frames pages.
class Checkpointer
{
public:
  static constexpr int k_wake_frames = 4000;

  Checkpointer(const std::string& path, const std::string& sync, std::function<void(const std::string&)> on_error);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void start();
  // Checkpoints once more and joins the thread.
  void stop();
  // From any thread: the log has grown by `frames` pages since it last restarted.
  void log_grew(int frames);

private:
  void run();
  void checkpoint();

  sqlite::Connection m_db;
  std::function<void(const std::string&)> m_on_error;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_wanted = false;
  bool m_stopping = false;
  std::thread m_thread;
};

} // namespace omnicache::store
