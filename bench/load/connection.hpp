#pragma once

#include "bench/load/workload.hpp"
#include "protocol/frame.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace omnicache::bench {

// One request sent and not yet answered.
struct Pending
{
  Request request;
  std::uint64_t id;
  std::uint64_t sent_ns;
};

// A non-blocking connection to the daemon, greeted with hello.
class Connection
{
public:
  // Connects and exchanges hello (blocking, bounded by `timeout_ms`), then
  // switches to non-blocking. Throws BenchError.
  Connection(const std::string& socket, unsigned pipeline, int timeout_ms);
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return m_fd; }
  unsigned in_flight() const { return m_count; }

  // Queues a request; its frame must already be in out().
  void push(const Pending& pending);
  Pending pop();
  std::string& out() { return m_out; }

  // Sends what it can of out() without blocking. Throws BenchError when the
  // daemon has gone.
  void flush();
  // Reads what has arrived into reader(); returns false when nothing was
  // there. Throws BenchError at the end of the stream.
  bool receive();
  protocol::FrameReader& reader() { return m_reader; }

private:
  int m_fd = -1;
  std::string m_out;
  std::size_t m_sent = 0;
  protocol::FrameReader m_reader;
  // A ring of the requests in flight, as many as the pipeline allows.
  std::vector<Pending> m_ring;
  unsigned m_head = 0;
  unsigned m_count = 0;
};

std::uint64_t now_ns();

} // namespace omnicache::bench
