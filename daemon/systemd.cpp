#include "daemon/systemd.hpp"

#include "daemon/lifetime.hpp"
#include "daemon/log.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace omnicache::daemon::systemd {

namespace {

// SD_LISTEN_FDS_START: the first descriptor passed, as the protocol fixes it.
constexpr int k_first_fd = 3;

std::optional<long>
env_number(const char* name)
{
  const char* text = std::getenv(name);
  if (text == nullptr) {
    return std::nullopt;
  }
  long value = -1;
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || value < 0) {
    return -1;
  }
  return value;
}

std::string
kind_of(int fd)
{
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    return fmt::format("cannot be examined ({})", std::strerror(errno));
  }
  if (S_ISREG(st.st_mode)) {
    return "is a regular file, not a socket";
  }
  if (S_ISFIFO(st.st_mode)) {
    return "is a pipe, not a socket";
  }
  if (S_ISCHR(st.st_mode)) {
    return "is a character device, not a socket";
  }
  if (!S_ISSOCK(st.st_mode)) {
    return "is not a socket";
  }
  return {};
}

int
socket_option(int fd, int option)
{
  int value = -1;
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) {
    return -1;
  }
  return value;
}

std::string
domain_name(int domain)
{
  switch (domain) {
  case AF_INET:
    return "an AF_INET (IPv4) socket";
  case AF_INET6:
    return "an AF_INET6 (IPv6) socket";
  case AF_NETLINK:
    return "an AF_NETLINK socket";
  default:
    return fmt::format("a socket of address family {}", domain);
  }
}

// Empty when `fd` is a listening AF_UNIX stream socket; otherwise what it is.
std::string
unservable(int fd)
{
  if (fcntl(fd, F_GETFD) < 0) {
    return "is not open";
  }
  if (auto kind = kind_of(fd); !kind.empty()) {
    return kind;
  }
  if (const int domain = socket_option(fd, SO_DOMAIN); domain != AF_UNIX) {
    return fmt::format("is {}, not a Unix socket", domain_name(domain));
  }
  if (const int type = socket_option(fd, SO_TYPE); type != SOCK_STREAM) {
    return fmt::format("is a Unix {} socket, not a stream socket (ListenStream=)",
                       type == SOCK_DGRAM ? "datagram" : type == SOCK_SEQPACKET ? "seqpacket" : "non-stream");
  }
  if (socket_option(fd, SO_ACCEPTCONN) != 1) {
    return "is a Unix stream socket that is not listening";
  }
  return {};
}

void
unset_listen_environment()
{
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
}

std::int64_t
monotonic_usec()
{
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

} // namespace

int
take_listening_socket()
{
  const auto pid = env_number("LISTEN_PID");
  const auto count = env_number("LISTEN_FDS");
  unset_listen_environment();
  // Variables meant for another process (a parent that did not clear them)
  // are not ours to act on.
  if (!pid || !count || *pid != static_cast<long>(getpid())) {
    return -1;
  }
  if (*count < 0) {
    throw StartupError("LISTEN_FDS is not a number; cannot take the socket from the service manager");
  }
  if (*count == 0) {
    return -1;
  }
  const int fd = k_first_fd;
  if (const auto problem = unservable(fd); !problem.empty()) {
    throw StartupError(fmt::format("the socket passed by the service manager (LISTEN_FDS, descriptor {}) {}; "
                                   "omnicached needs a listening Unix stream socket",
                                   fd, problem));
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  for (long extra = 1; extra < *count; ++extra) {
    close(k_first_fd + static_cast<int>(extra));
  }
  if (*count > 1) {
    log::warn("the service manager passed {} sockets; serving the first (descriptor {}) and closing the others",
              *count, fd);
  }
  return fd;
}

std::string
bound_path(int fd)
{
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 || address.sun_family != AF_UNIX) {
    return {};
  }
  const std::size_t path_length = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path)
                                                                           : 0;
  if (path_length == 0) {
    return {};
  }
  if (address.sun_path[0] == '\0') {
    return "@" + std::string(address.sun_path + 1, path_length - 1);
  }
  return std::string(address.sun_path, strnlen(address.sun_path, path_length));
}

Notifier
Notifier::from_environment()
{
  Notifier notifier;
  if (const char* address = std::getenv("NOTIFY_SOCKET"); address != nullptr) {
    notifier.m_address = address;
    unsetenv("NOTIFY_SOCKET");
  }
  return notifier;
}

void
Notifier::ready(std::string_view status)
{
  send(fmt::format("READY=1\nMAINPID={}\nSTATUS={}", getpid(), status));
}

void
Notifier::reloading()
{
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration", monotonic_usec()));
}

void
Notifier::stopping(std::string_view status)
{
  send(fmt::format("STOPPING=1\nSTATUS={}", status));
}

void
Notifier::send(const std::string& message)
{
  if (m_address.empty()) {
    return;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const bool abstract = m_address.front() == '@';
  std::string error;
  if ((m_address.front() != '/' && !abstract) || m_address.size() >= sizeof address.sun_path) {
    error = "not an absolute path or an abstract (@) address";
  } else {
    std::memcpy(address.sun_path, m_address.data(), m_address.size());
    if (abstract) {
      address.sun_path[0] = '\0';
    }
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_address.size() + (abstract ? 0 : 1));
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
                         length) < 0) {
      error = std::strerror(errno);
    }
    if (fd >= 0) {
      close(fd);
    }
  }
  if (!error.empty() && !m_failed) {
    m_failed = true;
    log::debug("cannot report the daemon's state to the service manager at NOTIFY_SOCKET={}: {}", m_address, error);
  }
}

} // namespace omnicache::daemon::systemd
