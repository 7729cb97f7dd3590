#pragma once

#include "store/checkpointer.hpp"
#include "store/commit.hpp"
#include "store/entry.hpp"
#include "store/reader.hpp"
#include "store/stats.hpp"
#include "store/touch_log.hpp"
#include "store/writer.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace omnicache::store {

// A change to make. `apply` runs on the writer thread inside a transaction
// (and a savepoint of its own); `done` runs on the writer thread once that
// transaction is durable, with the error if the job or the commit failed,
// after the observers of the commit were told what it changed.
struct WriteJob
{
  std::function<void(Writer&)> apply;
  std::function<void(std::exception_ptr)> done;
  Origin origin = {};
  // The keys the job means to set: the observers hear they are settled once
  // the job is over, whatever became of it.
  TenantKeys settles = {};
};

struct StoreOptions
{
  std::string path;
  std::string sync = "normal"; // off, normal, full
  StoreLimits limits;
  // Told about failures of background work (sweeps, flushes); may be empty.
  std::function<void(const std::string&)> on_error;
};

// Owns the database: one writer thread that commits jobs in groups (a job is
// acknowledged only after the commit that holds it), and hands out readers.
class Store
{
public:
  explicit Store(StoreOptions options); // opens and migrates; throws protocol::Error
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Adds an observer of every batch's outcome (commit.hpp); before start().
  // `whole_ttl_entries`: it wants a TTL change's whole entry, which costs a read.
  void observe(CommitObserver observer, bool whole_ttl_entries = false);

  void start();
  // Finishes every job already submitted, writes pending hits and counters,
  // and closes the writer. Later jobs fail with SHUTTING_DOWN.
  void stop();

  void submit(WriteJob job);
  // Queues several jobs at once: the writer wakes once and can commit them together.
  void submit(std::vector<WriteJob> jobs);
  void set_limits(const StoreLimits& limits);

  std::unique_ptr<Reader> open_reader();
  Stats& stats() { return m_stats; }
  const std::string& path() const { return m_options.path; }
  std::size_t queued() const;

private:
  void run();
  void run_batch(std::deque<WriteJob>& batch);
  void apply_delta(Commit& commit, const Delta& delta);
  // Tells the observers; on the writer thread, unless the jobs were refused.
  void publish(const Commit& commit);
  // Sweeps, evicts and saves counters; hits are written only every few seconds
  // and when `stopping`.
  void maintain(bool stopping);
  void report(const std::string& what, const std::exception& error);

  StoreOptions m_options;
  Stats m_stats;
  TouchLog m_touches;
  std::unique_ptr<Writer> m_writer;
  std::unique_ptr<Checkpointer> m_checkpointer;
  std::vector<CommitObserver> m_observers;

  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<WriteJob> m_queue;
  bool m_stopping = false;
  bool m_stopped = false;
  bool m_limits_changed = false;
  StoreLimits m_new_limits;
  std::thread m_thread;
  std::chrono::steady_clock::time_point m_next_touches; // writer thread only
};

} // namespace omnicache::store
