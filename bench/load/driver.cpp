#include "bench/load/driver.hpp"

#include <fmt/core.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <sys/epoll.h>
#include <thread>
#include <unistd.h>

namespace omnicache::bench {

namespace {

// How long the daemon may take to answer the requests in flight once sending
// has stopped.
constexpr std::uint64_t k_drain_ns = 30'000'000'000;

// State shared by the threads of one run.
struct Shared
{
  std::atomic<std::uint64_t> taken{0}; // requests reserved so far, by all threads
  std::atomic<bool> failed{false};
  std::uint64_t deadline_ns = UINT64_MAX;
};

// splitmix64: cheap, and good enough to spread keys uniformly.
class Random
{
public:
  explicit Random(std::uint64_t seed)
    : m_state(seed)
  {
  }
  std::uint64_t next();

private:
  std::uint64_t m_state;
};

std::uint64_t
Random::next()
{
  std::uint64_t z = (m_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

class Loop
{
public:
  Loop(const Workload& workload, const Plan& plan, Shared& shared, std::uint64_t seed)
    : m_workload(workload),
      m_plan(plan),
      m_shared(shared),
      m_random(seed)
  {
    for (const auto& choice : plan.mix) {
      m_total_weight += choice.weight;
    }
  }

  void run(Connection* first, std::size_t count, Result& result);

private:
  // Reserves the next request of the run; false once the run has sent enough.
  bool take(std::uint64_t& sequence);
  void fill(Connection& connection, std::uint64_t now);
  void answer(Connection& connection, Result& result);

  const Workload& m_workload;
  const Plan& m_plan;
  Shared& m_shared;
  Random m_random;
  unsigned m_total_weight = 0;
  bool m_stopped = false;
  std::uint64_t m_next_id = Workload::first_id();
};

bool
Loop::take(std::uint64_t& sequence)
{
  if (m_stopped) {
    return false;
  }
  sequence = m_shared.taken.fetch_add(1, std::memory_order_relaxed);
  if (m_plan.requests && sequence >= *m_plan.requests) {
    m_stopped = true;
  }
  return !m_stopped;
}

void
Loop::fill(Connection& connection, std::uint64_t now)
{
  std::uint64_t sequence = 0;
  while (connection.in_flight() < m_plan.pipeline && take(sequence)) {
    Request request = m_plan.mix.front().request;
    std::uint64_t number = sequence;
    if (!m_plan.sequential) {
      const std::uint64_t r = m_random.next();
      unsigned pick = static_cast<unsigned>(r % m_total_weight);
      for (const auto& choice : m_plan.mix) {
        if (pick < choice.weight) {
          request = choice.request;
          break;
        }
        pick -= choice.weight;
      }
      number = (r >> 20) % m_workload.numbers(request);
    }
    m_workload.append(request, number, m_next_id, connection.out());
    connection.push({request, m_next_id, now});
    m_next_id = Workload::next_id(m_next_id);
  }
}

void
Loop::answer(Connection& connection, Result& result)
{
  const std::uint64_t now = now_ns();
  auto& reader = connection.reader();
  while (auto body = reader.next()) {
    if (connection.in_flight() == 0) {
      throw BenchError(k_exit_errors, "the daemon sent a reply to no request");
    }
    const Pending pending = connection.pop();
    const auto parts = protocol::split_body(*body, UINT32_MAX);
    const ReplyInfo reply = read_reply(parts.header);
    if (reply.id != pending.id && reply.id != 0) {
      throw BenchError(k_exit_errors, fmt::format("reply out of order: id {} where {} was expected", reply.id, pending.id));
    }
    Tally& tally = result.tallies[static_cast<std::size_t>(pending.request)];
    tally.latency.record(now - pending.sent_ns);
    if (!reply.ok) {
      ++tally.errors[static_cast<std::size_t>(reply.code)];
    } else if (reply.found) {
      ++tally.found;
    }
  }
  reader.compact();
}

void
Loop::run(Connection* first, std::size_t count, Result& result)
{
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) {
    throw BenchError(k_exit_errors, "epoll_create1 failed");
  }
  struct Closer
  {
    int fd;
    ~Closer() { close(fd); }
  } closer{epoll};
  for (std::size_t i = 0; i < count; ++i) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLET;
    event.data.u64 = i;
    epoll_ctl(epoll, EPOLL_CTL_ADD, first[i].fd(), &event);
  }
  const std::uint64_t start = now_ns();
  for (std::size_t i = 0; i < count; ++i) {
    fill(first[i], start);
    first[i].flush();
  }
  std::uint64_t in_flight = 0;
  std::uint64_t stopped_at = 0;
  std::array<epoll_event, 256> events;
  for (;;) {
    const int ready = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 50);
    for (int e = 0; e < ready; ++e) {
      Connection& connection = first[events[e].data.u64];
      if ((events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        while (connection.receive()) {
          answer(connection, result);
        }
      }
      fill(connection, now_ns());
      connection.flush();
    }
    if (!m_stopped && now_ns() >= m_shared.deadline_ns) {
      m_stopped = true;
    }
    if (m_shared.failed.load(std::memory_order_relaxed)) {
      return;
    }
    if (m_stopped) {
      in_flight = 0;
      for (std::size_t i = 0; i < count; ++i) {
        in_flight += first[i].in_flight();
      }
      if (in_flight == 0) {
        return;
      }
      stopped_at = stopped_at == 0 ? now_ns() : stopped_at;
      if (now_ns() - stopped_at > k_drain_ns) {
        throw BenchError(k_exit_errors, fmt::format("the daemon left {} requests unanswered for {} s", in_flight,
                                                    k_drain_ns / 1000000000u));
      }
    }
  }
}

} // namespace

std::uint64_t
Tally::error_count() const
{
  std::uint64_t total = 0;
  for (const auto n : errors) {
    total += n;
  }
  return total;
}

void
Tally::merge(const Tally& other)
{
  latency.merge(other.latency);
  found += other.found;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    errors[i] += other.errors[i];
  }
}

Result
drive(const Workload& workload, const Plan& plan, std::vector<Connection>& connections, unsigned threads)
{
  Shared shared;
  const std::uint64_t start = now_ns();
  if (plan.seconds) {
    shared.deadline_ns = start + static_cast<std::uint64_t>(*plan.seconds * 1e9);
  }
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(connections.size())));
  std::vector<Result> results(threads);
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&](unsigned t) {
    const std::size_t begin = connections.size() * t / threads;
    const std::size_t end = connections.size() * (t + 1) / threads;
    try {
      Loop loop(workload, plan, shared, plan.seed * 1000003u + t);
      loop.run(connections.data() + begin, end - begin, results[t]);
    } catch (...) {
      shared.failed = true;
      std::lock_guard lock(failure_mutex);
      failure = failure ? failure : std::current_exception();
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back(work, t);
    }
    for (auto& thread : pool) {
      thread.join();
    }
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  Result total;
  total.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
  for (const auto& result : results) {
    for (std::size_t i = 0; i < total.tallies.size(); ++i) {
      total.tallies[i].merge(result.tallies[i]);
    }
  }
  return total;
}

} // namespace omnicache::bench
