#include "store/store.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>

#include <chrono>

namespace omnicache::store {

using protocol::Error;
using protocol::ErrorCode;

namespace {

constexpr std::size_t k_max_batch = 1024;
// Hits are written to the database at most this often (and always before an
// eviction and at stop). Each written hit rewrites its entry's row and moves
// it in the access index, so under a read load of many keys writing them
// every sweep would cost more than the reads themselves.
constexpr auto k_touch_interval = std::chrono::seconds(10);

// The keys each job meant to set, for the observers.
template <typename Jobs>
std::vector<Settled>
settled_of(const Jobs& jobs)
{
  std::vector<Settled> settled;
  for (const auto& job : jobs) {
    if (!job.settles.keys.empty()) {
      settled.push_back({job.origin, job.settles});
    }
  }
  return settled;
}

} // namespace

Store::Store(StoreOptions options)
  : m_options(std::move(options))
{
  m_writer = std::make_unique<Writer>(m_options.path, m_options.sync, m_stats, m_touches);
  m_writer->set_limits(m_options.limits);
  m_writer->load_counters();
  m_writer->recount_gauges();
  m_checkpointer = std::make_unique<Checkpointer>(m_options.path, m_options.sync, m_options.on_error);
  m_writer->on_log_grew([this](int frames) { m_checkpointer->log_grew(frames); });
}

Store::~Store()
{
  stop();
}

void
Store::observe(CommitObserver observer, bool whole_ttl_entries)
{
  m_observers.push_back(std::move(observer));
  if (whole_ttl_entries) {
    m_writer->record_ttl_entries(true);
  }
}

void
Store::start()
{
  m_thread = std::thread([this] { run(); });
  m_checkpointer->start();
}

void
Store::stop()
{
  {
    std::lock_guard lock(m_mutex);
    if (m_stopped) {
      return;
    }
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  } else {
    maintain(true); // never started: still save what readers recorded
  }
  std::lock_guard lock(m_mutex);
  m_stopped = true;
  m_writer.reset();
  m_checkpointer->stop(); // after the last commit: leaves the log copied back
}

void
Store::submit(WriteJob job)
{
  {
    std::lock_guard lock(m_mutex);
    if (!m_stopping) {
      m_queue.push_back(std::move(job));
      m_wake.notify_one();
      return;
    }
  }
  Commit refused;
  if (!job.settles.keys.empty()) {
    refused.settled.push_back({job.origin, job.settles});
  }
  publish(refused);
  job.done(std::make_exception_ptr(Error(ErrorCode::shutting_down, "the daemon is shutting down")));
}

void
Store::submit(std::vector<WriteJob> jobs)
{
  {
    std::lock_guard lock(m_mutex);
    if (!m_stopping) {
      for (auto& job : jobs) {
        m_queue.push_back(std::move(job));
      }
      m_wake.notify_one();
      return;
    }
  }
  Commit refused;
  refused.settled = settled_of(jobs);
  publish(refused);
  for (auto& job : jobs) {
    job.done(std::make_exception_ptr(Error(ErrorCode::shutting_down, "the daemon is shutting down")));
  }
}

void
Store::set_limits(const StoreLimits& limits)
{
  std::lock_guard lock(m_mutex);
  m_new_limits = limits;
  m_limits_changed = true;
  m_wake.notify_one();
}

std::unique_ptr<Reader>
Store::open_reader()
{
  return std::make_unique<Reader>(m_options.path, m_stats, m_touches);
}

std::size_t
Store::queued() const
{
  std::lock_guard lock(m_mutex);
  return m_queue.size();
}

void
Store::report(const std::string& what, const std::exception& error)
{
  if (m_options.on_error) {
    m_options.on_error(fmt::format("{}: {}", what, error.what()));
  }
}

void
Store::run()
{
  using clock = std::chrono::steady_clock;
  auto next_maintenance = clock::now();
  std::deque<WriteJob> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait_until(lock, next_maintenance,
                        [&] { return !m_queue.empty() || m_stopping || m_limits_changed; });
      if (m_limits_changed) {
        m_writer->set_limits(m_new_limits);
        m_limits_changed = false;
      }
      while (!m_queue.empty() && batch.size() < k_max_batch) {
        batch.push_back(std::move(m_queue.front()));
        m_queue.pop_front();
      }
      stopping = m_stopping && m_queue.empty();
    }
    if (!batch.empty()) {
      run_batch(batch);
    }
    if (stopping || clock::now() >= next_maintenance) {
      maintain(stopping);
      next_maintenance = clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(
                                          50, m_writer->limits().sweep_interval_ms));
    }
    if (stopping) {
      return;
    }
  }
}

void
Store::apply_delta(Commit& commit, const Delta& delta)
{
  m_stats.apply(delta);
  commit.removed = delta.removed();
}

void
Store::publish(const Commit& commit)
{
  if (commit.empty()) {
    return;
  }
  for (const auto& observer : m_observers) {
    // The commit stands whatever an observer makes of it.
    try {
      observer(commit);
    } catch (const std::exception& e) {
      report("telling what a commit changed", e);
    }
  }
}

void
Store::run_batch(std::deque<WriteJob>& batch)
{
  std::vector<std::exception_ptr> errors(batch.size());
  std::exception_ptr commit_error;
  Commit commit;
  try {
    m_writer->begin();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      m_writer->begin_job(batch[i].origin);
      try {
        batch[i].apply(*m_writer);
        m_writer->end_job();
      } catch (...) {
        errors[i] = std::current_exception();
        m_writer->abort_job();
      }
    }
    m_writer->begin_job();
    m_writer->evict_to_limits();
    m_writer->end_job();
    m_writer->commit();
    commit.committed = true;
    commit.changes = m_writer->take_batch_changes();
    apply_delta(commit, m_writer->take_batch_delta());
  } catch (const std::exception& e) {
    commit = Commit{};
    commit_error = std::current_exception();
    report(fmt::format("committing {} writes", batch.size()), e);
    try {
      m_writer->rollback();
    } catch (const std::exception& inner) {
      report("rolling back a failed batch", inner);
    }
  }
  commit.settled = settled_of(batch);
  publish(commit);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(commit_error ? commit_error : errors[i]);
  }
  batch.clear();
}

void
Store::maintain(bool stopping)
{
  try {
    m_writer->begin();
    m_writer->begin_job();
    m_writer->sweep_expired(now_ms(), m_writer->limits().sweep_budget_ms);
    if (const auto now = std::chrono::steady_clock::now(); stopping || now >= m_next_touches) {
      m_writer->write_touches();
      m_next_touches = now + k_touch_interval;
    }
    m_writer->evict_to_limits();
    m_writer->end_job();
    m_writer->commit();
    Commit commit;
    commit.committed = true;
    apply_delta(commit, m_writer->take_batch_delta());
    publish(commit);
    // Counters are saved after the delta is applied so that the sweep's
    // expirations are among them.
    m_writer->begin();
    m_writer->save_counters();
    m_writer->commit();
  } catch (const std::exception& e) {
    report("background maintenance", e);
    try {
      m_writer->rollback();
    } catch (const std::exception& inner) {
      report("rolling back maintenance", inner);
    }
  }
}

} // namespace omnicache::store
