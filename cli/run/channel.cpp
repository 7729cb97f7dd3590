#include "cli/run/channel.hpp"

#include "cli/client.hpp"
#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <vector>

namespace omnicache::cli::run {

using protocol::Json;

namespace {

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

} // namespace

Channel
Channel::open(Globals& globals)
{
  const auto& settings = globals.config().settings();
  // The socket is close-on-exec: a command that inherited it would keep a
  // dead run's lease alive.
  protocol::Connection connection(connect_to_daemon(globals, Client::Start::if_needed), settings.timeout_ms);
  connection.set_request_limit(settings.max_frame_bytes);
  connection.queue_hello("omnicache");
  return Channel(std::move(connection), settings.tenant);
}

Channel::Channel(protocol::Connection connection, std::string tenant)
  : m_connection(std::move(connection)),
    m_tenant(std::move(tenant))
{
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
  try {
    m_connection.send_head(op, std::move(fields), value_size);
    m_connection.write(prefix);
    for (std::size_t i = 0; i < files.size(); ++i) {
      send_file(files[i], sizes[i]);
    }
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
}

void
Channel::send_file(int file, std::uint64_t size)
{
  const IgnoreSigpipe ignore;
  off_t offset = 0;
  while (static_cast<std::uint64_t>(offset) < size) {
    const ssize_t n = sendfile(m_connection.fd(), file, &offset, size - static_cast<std::uint64_t>(offset));
    if (n == 0) {
      errno = EIO; // the file shrank under us
    }
    if (n <= 0 && errno != EINTR) {
      m_connection.fail_send(errno);
    }
  }
}

Channel::Reply
Channel::receive()
{
  try {
    auto reply = m_connection.receive_head();
    protocol::throw_if_error(reply);
    return {std::move(reply.header), m_connection.value_left()};
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
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
  try {
    return m_connection.read_value(data, n);
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
}

} // namespace omnicache::cli::run
