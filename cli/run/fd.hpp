#pragma once

#include "protocol/canonical.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

// File descriptors for `run`: an owning handle, anonymous spool files and
// complete writes.
namespace omnicache::cli::run {

class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd)
    : m_fd(fd)
  {
  }
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }
  void reset(int fd = -1);
  int release() { return std::exchange(m_fd, -1); }

private:
  int m_fd = -1;
};

// A file without a name (in $TMPDIR or /tmp, else in memory): it vanishes
// with its last descriptor however the process ends, so nothing is left
// behind by a kill -9. Invalid, with errno set, when none can be made.
Fd open_spool();

// Writes all of `bytes`, waiting out EINTR and a non-blocking descriptor.
// Returns false with errno set on failure.
bool write_all(int fd, std::string_view bytes);

// Reads `fd` to its end, hashing what it reads and, when `copy` is not -1,
// writing it there too. Returns the number of bytes; false in `ok` (with
// errno set) when a read or the copy failed.
std::uint64_t hash_to_end(int fd, protocol::Sha256& hash, int copy, bool& ok);

} // namespace omnicache::cli::run
