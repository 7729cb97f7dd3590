#include "cli/run/channel.hpp"

#include "cli/exit_codes.hpp"
#include "cli/spawn.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace omnicache::cli::run {

using protocol::ErrorCode;
using protocol::Json;

namespace {

// Close-on-exec matters here: a command that inherited the socket would keep
// a dead run's lease alive.
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
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    fd.reset();
    errno = error;
    return -1;
  }
  return fd.release();
}

// sendfile() has no MSG_NOSIGNAL: a daemon that closes the connection
// (refusing a frame over its limit) would otherwise end us with SIGPIPE.
class IgnoreSigpipe
{
public:
  IgnoreSigpipe()
  {
    struct sigaction ignore
    {
    };
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &m_old);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &m_old, nullptr); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

private:
  struct sigaction m_old
  {
  };
};

CliError
lost(const char* doing)
{
  return CliError(k_exit_unreachable, fmt::format("lost the connection to the daemon {}: {}", doing,
                                                  std::strerror(errno)));
}

} // namespace

Channel
Channel::open(Globals& globals)
{
  const auto& settings = globals.config().settings();
  int fd = try_connect(settings.socket);
  if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
    fd = start_daemon_and_connect(globals, [&settings] { return try_connect(settings.socket); });
  }
  if (fd < 0) {
    throw CliError(k_exit_unreachable, fmt::format("cannot connect to {}: {}", settings.socket, std::strerror(errno)));
  }
  return Channel(Fd(fd), settings);
}

Channel::Channel(Fd fd, const protocol::Settings& settings)
  : m_fd(std::move(fd)),
    m_tenant(settings.tenant),
    m_timeout_ms(settings.timeout_ms),
    m_max_frame_bytes(settings.max_frame_bytes)
{
  if (m_timeout_ms > 0) {
    // Bounds a send to a daemon that stopped reading, as the poll in
    // read_some() bounds a reply.
    const timeval limit{static_cast<time_t>(m_timeout_ms / 1000), static_cast<suseconds_t>(m_timeout_ms % 1000 * 1000)};
    setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  }
}

void
Channel::send(std::string_view op, Json fields, std::string_view prefix, std::span<const int> files)
{
  std::vector<std::uint64_t> sizes;
  std::uint64_t value_size = prefix.size();
  for (const int file : files) {
    struct stat status
    {
    };
    if (fstat(file, &status) != 0) {
      throw CliError(k_exit_usage, fmt::format("cannot read a spool file: {}", std::strerror(errno)));
    }
    sizes.push_back(static_cast<std::uint64_t>(status.st_size));
    value_size += sizes.back();
  }
  if (!fields.contains("tenant")) {
    fields["tenant"] = m_tenant;
  }
  fields["id"] = m_next_id++;
  fields["op"] = op;
  std::string header;
  try {
    header = fields.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error&) {
    throw CliError(k_exit_usage, "keys, tags and other names must be valid UTF-8 text");
  }
  const std::uint64_t body = protocol::k_prefix_bytes + header.size() + value_size;
  if (body > m_max_frame_bytes) {
    throw CliError(k_exit_usage, fmt::format("a request of {} bytes is over limits.max_frame_bytes ({} bytes)", body,
                                             m_max_frame_bytes));
  }
  std::string head;
  protocol::append_frame_head(head, header, value_size);
  send_bytes(head);
  send_bytes(prefix);
  for (std::size_t i = 0; i < files.size(); ++i) {
    send_file(files[i], sizes[i]);
  }
}

void
Channel::send_bytes(std::string_view bytes)
{
  while (!bytes.empty()) {
    const ssize_t n = ::send(m_fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR) {
      fail_send();
    }
    bytes.remove_prefix(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
}

void
Channel::send_file(int file, std::uint64_t size)
{
  const IgnoreSigpipe ignore;
  off_t offset = 0;
  while (static_cast<std::uint64_t>(offset) < size) {
    const ssize_t n = sendfile(m_fd.get(), file, &offset, size - static_cast<std::uint64_t>(offset));
    if (n == 0) {
      errno = EIO; // the file shrank under us
    }
    if (n <= 0 && errno != EINTR) {
      fail_send();
    }
  }
}

void
Channel::fail_send()
{
  const int error = errno;
  // The daemon may have said why before it closed (a frame over its limit).
  try {
    receive();
  } catch (const CliError& e) {
    if (e.exit_code() != k_exit_unreachable) {
      throw;
    }
  }
  errno = error;
  throw lost("while sending");
}

Channel::Reply
Channel::receive()
{
  skip_value();
  char prefix[2 * protocol::k_prefix_bytes];
  read_exact(prefix, sizeof prefix);
  const std::uint32_t body = protocol::read_u32be(prefix);
  const std::uint32_t header_size = protocol::read_u32be(prefix + protocol::k_prefix_bytes);
  if (body < protocol::k_prefix_bytes || header_size > body - protocol::k_prefix_bytes) {
    throw CliError(k_exit_daemon, "unreadable reply from the daemon: header length past the end of the frame");
  }
  std::string header(header_size, '\0');
  read_exact(header.data(), header.size());
  m_value_left = body - protocol::k_prefix_bytes - header_size;
  protocol::Reply reply;
  try {
    reply = protocol::parse_reply({header, {}});
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_daemon, fmt::format("unreadable reply from the daemon: {}", e.what()));
  }
  if (!reply.ok) {
    const bool input = reply.error_code == ErrorCode::bad_request || reply.error_code == ErrorCode::too_large;
    throw CliError(input ? k_exit_usage : k_exit_daemon,
                   fmt::format("{} ({})", reply.error_message, protocol::error_code_name(reply.error_code)));
  }
  return {std::move(reply.header), m_value_left};
}

Channel::Reply
Channel::call(std::string_view op, Json fields)
{
  send(op, std::move(fields));
  return receive();
}

std::size_t
Channel::read_value(char* data, std::size_t n)
{
  const std::size_t wanted = static_cast<std::size_t>(std::min<std::uint64_t>(n, m_value_left));
  if (wanted == 0) {
    return 0;
  }
  const std::size_t got = read_some(data, wanted);
  m_value_left -= got;
  return got;
}

void
Channel::skip_value()
{
  char buffer[1 << 16];
  while (read_value(buffer, sizeof buffer) > 0) {
  }
}

void
Channel::read_exact(char* data, std::size_t n)
{
  for (std::size_t got = 0; got < n;) {
    got += read_some(data + got, n - got);
  }
}

std::size_t
Channel::read_some(char* data, std::size_t n)
{
  for (;;) {
    pollfd pfd{m_fd.get(), POLLIN, 0};
    const int timeout = m_timeout_ms > 0 ? static_cast<int>(std::min<std::int64_t>(m_timeout_ms, INT_MAX)) : -1;
    const int ready = poll(&pfd, 1, timeout);
    if (ready == 0) {
      throw CliError(k_exit_unreachable, fmt::format("the daemon did not answer within {} ms", m_timeout_ms));
    }
    const ssize_t r = ready < 0 ? -1 : recv(m_fd.get(), data, n, 0);
    if (r > 0) {
      return static_cast<std::size_t>(r);
    }
    if (r == 0) {
      throw CliError(k_exit_unreachable, "the daemon closed the connection");
    }
    if (errno != EINTR) {
      throw lost("while reading");
    }
  }
}

} // namespace omnicache::cli::run
