#include "bench/load/connection.hpp"

#include "protocol/connection.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace omnicache::bench {

namespace {

constexpr std::size_t k_read_chunk = 64 * 1024;

} // namespace

std::uint64_t
now_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

Connection::Connection(const std::string& socket, unsigned pipeline, int timeout_ms)
  : m_ring(pipeline)
{
  const int fd = protocol::connect_unix(socket, timeout_ms);
  if (fd < 0) {
    const int error = errno;
    const char* hint = error == ENOENT || error == ECONNREFUSED ? " (is omnicached running there?)" : "";
    throw BenchError(k_exit_unreachable, fmt::format("cannot connect to {}: {}{}", socket, std::strerror(error), hint));
  }
  // The hello is the one blocking exchange: protocol::Connection's. Then the
  // socket goes on non-blocking, its frames read with the same FrameReader.
  protocol::Connection greeting(fd, timeout_ms);
  try {
    if (greeting.hello("omnicache-bench").value("server", std::string()) != "omnicached") {
      throw BenchError(k_exit_unreachable, fmt::format("{} is not an omnicached", socket));
    }
  } catch (const protocol::ReplyError& e) {
    throw BenchError(k_exit_unreachable,
                     fmt::format("{} refused hello: {} ({})", socket, e.what(), protocol::error_code_name(e.code())));
  } catch (const protocol::ConnectionError& e) {
    throw BenchError(k_exit_unreachable, fmt::format("{} did not answer hello: {}", socket, e.what()));
  }
  m_fd = greeting.release();
  fcntl(m_fd, F_SETFL, fcntl(m_fd, F_GETFL) | O_NONBLOCK);
  m_out.reserve(64 * 1024);
}

Connection::~Connection()
{
  if (m_fd >= 0) {
    close(m_fd);
  }
}

Connection::Connection(Connection&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)),
    m_out(std::move(other.m_out)),
    m_sent(other.m_sent),
    m_reader(std::move(other.m_reader)),
    m_ring(std::move(other.m_ring)),
    m_head(other.m_head),
    m_count(other.m_count)
{
}

void
Connection::push(const Pending& pending)
{
  m_ring[(m_head + m_count) % m_ring.size()] = pending;
  ++m_count;
}

Pending
Connection::pop()
{
  const Pending pending = m_ring[m_head];
  m_head = static_cast<unsigned>((m_head + 1) % m_ring.size());
  --m_count;
  return pending;
}

void
Connection::flush()
{
  while (m_sent < m_out.size()) {
    const ssize_t n = send(m_fd, m_out.data() + m_sent, m_out.size() - m_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      throw BenchError(k_exit_errors, fmt::format("lost a connection to the daemon: {}", std::strerror(errno)));
    }
    m_sent += static_cast<std::size_t>(n);
  }
  m_out.clear();
  m_sent = 0;
}

bool
Connection::receive()
{
  for (;;) {
    char* room = m_reader.prepare(k_read_chunk);
    const ssize_t n = recv(m_fd, room, m_reader.room(), MSG_DONTWAIT);
    if (n > 0) {
      m_reader.commit(static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) {
      throw BenchError(k_exit_errors, "the daemon closed a connection with requests in flight");
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return false;
    }
    throw BenchError(k_exit_errors, fmt::format("lost a connection to the daemon: {}", std::strerror(errno)));
  }
}

} // namespace omnicache::bench
