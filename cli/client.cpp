#include "cli/client.hpp"

#include "cli/exit_codes.hpp"
#include "cli/spawn.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace omnicache::cli {

using protocol::ErrorCode;
using protocol::Json;

namespace {

// Returns the connected socket, or -1 with errno set.
int
try_connect(const std::string& path)
{
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

bool
worth_starting(int error)
{
  return error == ENOENT || error == ECONNREFUSED;
}

} // namespace

Client
Client::connect(Globals& globals, Start start)
{
  const auto& settings = globals.config().settings();
  const std::string& socket = settings.socket;
  int fd = try_connect(socket);
  if (fd < 0 && start == Start::if_needed && worth_starting(errno)) {
    fd = start_daemon_and_connect(globals, [&socket] { return try_connect(socket); });
  }
  if (fd < 0) {
    const int error = errno;
    if (start == Start::never && worth_starting(error)) {
      throw CliError(k_exit_unreachable, fmt::format("no daemon is running on {}", socket));
    }
    throw CliError(k_exit_unreachable, fmt::format("cannot connect to {}: {}", socket, std::strerror(error)));
  }
  return Client(fd, settings.tenant, settings.timeout_ms);
}

Client::Client(int fd, std::string tenant, std::int64_t timeout_ms)
  : m_fd(fd),
    m_tenant(std::move(tenant)),
    m_timeout_ms(timeout_ms)
{
}

Client::~Client()
{
  if (m_fd >= 0) {
    close(m_fd);
  }
}

Client::Client(Client&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)),
    m_tenant(std::move(other.m_tenant)),
    m_timeout_ms(other.m_timeout_ms),
    m_next_id(other.m_next_id),
    m_greeted(other.m_greeted),
    m_server(std::move(other.m_server))
{
}

protocol::Reply
Client::call(std::string_view op, Json fields, std::string_view value)
{
  std::string out;
  const bool greet = !m_greeted;
  if (greet) {
    protocol::append_request(out, m_next_id++, "hello",
                             Json{{"version", protocol::k_protocol_version}, {"client", "omnicache"}}, {});
  }
  if (!fields.contains("tenant")) {
    fields["tenant"] = m_tenant;
  }
  try {
    protocol::append_request(out, m_next_id++, op, std::move(fields), value);
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_usage, e.what());
  }
  send_all(out);
  if (greet) {
    auto hello = receive();
    throw_if_error(hello);
    m_server = std::move(hello.header);
    m_greeted = true;
  }
  auto reply = receive();
  throw_if_error(reply);
  return reply;
}

void
Client::throw_if_error(const protocol::Reply& reply)
{
  if (!reply.ok) {
    const bool input = reply.error_code == ErrorCode::bad_request || reply.error_code == ErrorCode::too_large;
    throw CliError(input ? k_exit_usage : k_exit_daemon,
                   fmt::format("{} ({})", reply.error_message, protocol::error_code_name(reply.error_code)));
  }
}

void
Client::send_all(const std::string& bytes)
{
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(m_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      // The daemon may have said why before it closed (BUSY): report that.
      protocol::Reply reason;
      try {
        reason = receive();
      } catch (const CliError&) {
        throw CliError(k_exit_unreachable, fmt::format("lost the connection to the daemon: {}", std::strerror(error)));
      }
      throw_if_error(reason);
      throw CliError(k_exit_unreachable, fmt::format("lost the connection to the daemon: {}", std::strerror(error)));
    }
    sent += static_cast<std::size_t>(n);
  }
}

void
Client::read_exact(char* data, std::size_t n)
{
  std::size_t got = 0;
  while (got < n) {
    pollfd pfd{m_fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, m_timeout_ms > 0 ? static_cast<int>(m_timeout_ms) : -1);
    if (ready == 0) {
      throw CliError(k_exit_unreachable, fmt::format("the daemon did not answer within {} ms", m_timeout_ms));
    }
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw CliError(k_exit_unreachable, fmt::format("waiting for the daemon: {}", std::strerror(errno)));
    }
    const ssize_t r = recv(m_fd, data + got, n - got, 0);
    if (r == 0) {
      throw CliError(k_exit_unreachable, "the daemon closed the connection");
    }
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw CliError(k_exit_unreachable, fmt::format("lost the connection to the daemon: {}", std::strerror(errno)));
    }
    got += static_cast<std::size_t>(r);
  }
}

protocol::Reply
Client::receive()
{
  char prefix[protocol::k_prefix_bytes];
  read_exact(prefix, sizeof prefix);
  m_body.resize(protocol::read_u32be(prefix));
  read_exact(m_body.data(), m_body.size());
  try {
    return protocol::parse_reply(protocol::split_body(m_body, static_cast<std::uint32_t>(m_body.size())));
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_daemon, fmt::format("unreadable reply from the daemon: {}", e.what()));
  }
}

} // namespace omnicache::cli
