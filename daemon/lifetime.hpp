#pragma once

#include "protocol/error.hpp"

#include <cstdint>
#include <optional>
#include <string>

// Process-level concerns of the daemon: lock files, the socket's folder,
// detaching from the terminal, file descriptor limits.
namespace omnicache::daemon {

// A failure to start, with a message for the person who started us: an
// Error with the code io (the system refused a folder, lock or socket), named
// so that the many places that can stop a start read as what they are.
class StartupError : public protocol::Error
{
public:
  explicit StartupError(const std::string& message)
    : protocol::Error(protocol::ErrorCode::io, message)
  {
  }
};

// Another daemon holds a lock we need: it may be starting or stopping, so a
// command that started us may wait for it rather than give up. A type of its
// own because it changes the exit status (k_exit_lock_held).
class LockHeld : public StartupError
{
public:
  using StartupError::StartupError;
};

// The exit status of a background start that failed on a LockHeld (any other
// failure exits 1). The command's spawn waits and connects again on it.
constexpr int k_exit_lock_held = 75;

// An exclusive flock() held for the life of the process. The file records the
// holder's pid so that a second daemon can say who is in the way. A lock
// given up while an exception unwinds (a start that failed) removes its file,
// so that a failed start leaves no lock file behind.
class LockFile
{
public:
  LockFile() = default;
  // Throws LockHeld naming `what` when another process holds the lock,
  // StartupError when the file cannot be opened.
  LockFile(const std::string& path, const std::string& what);
  ~LockFile();
  LockFile(LockFile&& other) noexcept;
  LockFile& operator=(LockFile&& other) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  void write_pid();

private:
  int m_fd = -1;
  std::string m_path;
};

// Creates the socket's folder (0700) when missing; refuses one that is a
// symlink, not a directory, owned by another user, or writable by others.
void prepare_socket_directory(const std::string& socket_path);

// Creates the database's folder (0700) when missing.
void prepare_database_directory(const std::string& database_path);

// Removes a stale socket file left by a daemon that died. Refuses to remove
// anything that is not a socket, or a socket some process listens on.
void remove_stale_socket(const std::string& socket_path);

// Raises the soft limit on open files to the hard limit, so that
// limits.max_connections can be reached.
struct FileLimit
{
  std::uint64_t before = 0;
  std::uint64_t after = 0;
};
FileLimit raise_file_limit();

// Raises the limit as above and returns how many connections it leaves room
// for (UINT64_MAX when limits.max_connections fits), logging what it did.
// Each connection takes a descriptor; the database and its readers, the
// locks, the listener and the event loops take some more. Past the limit,
// clients get BUSY rather than wait in the backlog of a daemon that cannot
// accept them.
std::uint64_t connections_within_file_limit(std::uint64_t max_connections, std::uint64_t io_threads);

// What a path names, to tell whether it is still the file we created.
struct FileId
{
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileId&) const = default;
};
// nullopt when nothing is at `path` (it is not followed if a symlink).
std::optional<FileId> file_id(const std::string& path);

// Background start: forks. The parent waits until the child calls
// Detached::ready() (exit 0) or Detached::fail(message) (prints it, exit 1,
// or k_exit_lock_held when fail() is called while handling a LockHeld).
// The child starts a new session, moves to /, and sends stdin to /dev/null
// and stdout and stderr to `log_path`.
class Detached
{
public:
  static Detached detach(const std::string& log_path);
  void ready();
  void fail(const std::string& message);

private:
  int m_fd = -1;
};

} // namespace omnicache::daemon
