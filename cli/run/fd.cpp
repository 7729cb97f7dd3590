#include "cli/run/fd.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace omnicache::cli::run {

Fd::Fd(Fd&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1))
{
}

Fd&
Fd::operator=(Fd&& other) noexcept
{
  if (this != &other) {
    reset(std::exchange(other.m_fd, -1));
  }
  return *this;
}

void
Fd::reset(int fd)
{
  if (m_fd >= 0) {
    close(m_fd);
  }
  m_fd = fd;
}

Fd
open_spool()
{
  // On disk first: a spool may be far larger than memory should hold.
  const char* tmpdir = std::getenv("TMPDIR");
  for (const char* dir : {tmpdir, "/tmp"}) {
    if (dir == nullptr || *dir == '\0') {
      continue;
    }
    const int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
      return Fd(fd);
    }
  }
  return Fd(memfd_create("omnicache-run", MFD_CLOEXEC));
}

bool
write_all(int fd, std::string_view bytes)
{
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{fd, POLLOUT, 0};
      poll(&pfd, 1, -1);
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

std::uint64_t
hash_to_end(int fd, protocol::Sha256& hash, int copy, bool& ok)
{
  char buffer[1 << 16];
  std::uint64_t total = 0;
  ok = true;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) {
      return total;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ok = false;
      return total;
    }
    const std::string_view chunk(buffer, static_cast<std::size_t>(n));
    hash.update(chunk);
    total += chunk.size();
    if (copy >= 0 && !write_all(copy, chunk)) {
      ok = false;
      return total;
    }
  }
}

} // namespace omnicache::cli::run
