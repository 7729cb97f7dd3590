#include "bench/load/connection.hpp"

#include "protocol/message.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <optional>
#include <unistd.h>
#include <utility>

namespace omnicache::bench {

namespace {

constexpr std::size_t k_read_chunk = 64 * 1024;

int
connect_to(const std::string& path)
{
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    throw BenchError(k_exit_unreachable, fmt::format("socket path too long: {}", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw BenchError(k_exit_unreachable, fmt::format("socket: {}", std::strerror(errno)));
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    const char* hint = error == ENOENT || error == ECONNREFUSED ? " (is omnicached running there?)" : "";
    throw BenchError(k_exit_unreachable, fmt::format("cannot connect to {}: {}{}", path, std::strerror(error), hint));
  }
  return fd;
}

void
send_blocking(int fd, const std::string& bytes)
{
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR) {
      throw BenchError(k_exit_unreachable, fmt::format("sending hello: {}", std::strerror(errno)));
    }
    sent += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
}

} // namespace

std::uint64_t
now_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

Connection::Connection(const std::string& socket, unsigned pipeline, int timeout_ms)
  : m_fd(connect_to(socket)),
    m_ring(pipeline)
{
  std::string hello;
  protocol::append_request(hello, 1, "hello",
                           protocol::Json{{"version", protocol::k_protocol_version}, {"client", "omnicache-bench"}}, {});
  send_blocking(m_fd, hello);
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1000000u;
  std::optional<std::string_view> body;
  while (!(body = m_reader.next())) {
    const auto left_ms = static_cast<int>((deadline - std::min(deadline, now_ns())) / 1000000u);
    pollfd pfd{m_fd, POLLIN, 0};
    if (left_ms == 0 || poll(&pfd, 1, left_ms) == 0) {
      throw BenchError(k_exit_unreachable, fmt::format("{} did not answer hello within {} ms", socket, timeout_ms));
    }
    char* room = m_reader.prepare(k_read_chunk);
    const ssize_t n = recv(m_fd, room, m_reader.room(), 0);
    if (n == 0) {
      throw BenchError(k_exit_unreachable, fmt::format("{} closed the connection before answering hello", socket));
    }
    if (n < 0 && errno != EINTR) {
      throw BenchError(k_exit_unreachable, fmt::format("reading hello from {}: {}", socket, std::strerror(errno)));
    }
    m_reader.commit(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  const auto reply = protocol::parse_reply(protocol::split_body(*body, UINT32_MAX));
  if (!reply.ok) {
    throw BenchError(k_exit_unreachable, fmt::format("{} refused hello: {} ({})", socket, reply.error_message,
                                                     protocol::error_code_name(reply.error_code)));
  }
  if (reply.header.value("server", std::string()) != "omnicached") {
    throw BenchError(k_exit_unreachable, fmt::format("{} is not an omnicached", socket));
  }
  m_reader.compact();
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
