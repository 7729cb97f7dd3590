#include "daemon/lifetime.hpp"

#include "daemon/log.hpp"
#include "protocol/connection.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace omnicache::daemon {

namespace {

std::string
errno_text()
{
  return std::strerror(errno);
}

void
make_directory(const std::string& dir)
{
  std::error_code ec;
  const auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw StartupError(fmt::format("cannot create {}: {}", parent.string(), ec.message()));
    }
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw StartupError(fmt::format("cannot create {}: {}", dir, errno_text()));
  }
}

// A socket file some process listens on: a service manager's socket (the
// omnicached.socket unit) between two starts of its daemon, for one.
bool
has_listener(const std::string& socket_path)
{
  // A listener whose queue is full (nobody accepts) keeps the client waiting:
  // that still says one is there.
  const int fd = protocol::connect_unix(socket_path, 1);
  if (fd < 0) {
    return errno == ETIMEDOUT;
  }
  close(fd);
  return true;
}

std::optional<FileId>
lock_file_id(int fd)
{
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    return std::nullopt;
  }
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// What fail() and the waiting parent say to each other before the message:
// the failure was a lock held by another daemon.
constexpr std::string_view k_lock_held_line = "lock held\n";

bool
handling_lock_held()
{
  const auto current = std::current_exception();
  if (!current) {
    return false;
  }
  try {
    std::rethrow_exception(current);
  } catch (const LockHeld&) {
    return true;
  } catch (...) {
    return false;
  }
}

} // namespace

LockFile::LockFile(const std::string& path, const std::string& what)
  : m_path(path)
{
  // A failed start removes the file it locked (see the destructor): a lock
  // taken on a file no longer at the path excludes nobody, so take it again.
  for (;;) {
    m_fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (m_fd < 0) {
      throw StartupError(fmt::format("cannot open lock file {}: {}", path, errno_text()));
    }
    if (flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
      break;
    }
    if (file_id(path) == lock_file_id(m_fd)) {
      return;
    }
    close(m_fd);
  }
  const int error = errno;
  char pid[32] = {};
  const auto n = pread(m_fd, pid, sizeof pid - 1, 0);
  close(m_fd);
  m_fd = -1;
  if (error == EWOULDBLOCK) {
    std::string holder(pid, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
      holder.pop_back();
    }
    throw LockHeld(
      fmt::format("another omnicached{} already uses {}", holder.empty() ? "" : " (pid " + holder + ")", what));
  }
  throw StartupError(fmt::format("cannot lock {}: {}", path, std::strerror(error)));
}

LockFile::~LockFile()
{
  if (m_fd >= 0) {
    if (std::uncaught_exceptions() > 0) {
      unlink(m_path.c_str()); // still held, so no other daemon's file
    }
    close(m_fd);
  }
}

LockFile::LockFile(LockFile&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)),
    m_path(std::move(other.m_path))
{
}

LockFile&
LockFile::operator=(LockFile&& other) noexcept
{
  if (this != &other) {
    if (m_fd >= 0) {
      close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
    m_path = std::move(other.m_path);
  }
  return *this;
}

void
LockFile::write_pid()
{
  const std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(m_fd, 0) != 0 || pwrite(m_fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for messages; the lock itself is what matters.
  }
}

void
prepare_socket_directory(const std::string& socket_path)
{
  if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw StartupError(fmt::format("socket path {} is {} bytes long; Unix sockets allow at most {}", socket_path,
                                   socket_path.size(), sizeof(sockaddr_un{}.sun_path) - 1));
  }
  const std::string dir = std::filesystem::path(socket_path).parent_path().string();
  if (dir.empty()) {
    throw StartupError(fmt::format("socket path {} has no folder", socket_path));
  }
  struct stat st{};
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      throw StartupError(fmt::format("cannot examine socket folder {}: {}", dir, errno_text()));
    }
    make_directory(dir);
    if (lstat(dir.c_str(), &st) != 0) {
      throw StartupError(fmt::format("cannot examine socket folder {}: {}", dir, errno_text()));
    }
  }
  if (S_ISLNK(st.st_mode)) {
    throw StartupError(fmt::format("socket folder {} is a symbolic link; refusing to use it", dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw StartupError(fmt::format("socket folder {} is not a directory", dir));
  }
  if (st.st_uid != geteuid()) {
    throw StartupError(fmt::format("socket folder {} belongs to uid {}, not to us (uid {}); refusing to use it", dir,
                                   st.st_uid, geteuid()));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    throw StartupError(fmt::format("socket folder {} is writable by other users (mode {:o}); make it 0700",
                                   dir, st.st_mode & 07777));
  }
}

void
prepare_database_directory(const std::string& database_path)
{
  const std::string dir = std::filesystem::path(database_path).parent_path().string();
  if (dir.empty()) {
    return;
  }
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    make_directory(dir);
  }
}

void
remove_stale_socket(const std::string& socket_path)
{
  struct stat st{};
  if (lstat(socket_path.c_str(), &st) != 0) {
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw StartupError(fmt::format("{} exists and is not a socket; refusing to replace it", socket_path));
  }
  if (has_listener(socket_path)) {
    throw StartupError(fmt::format("another process listens on {} (a systemd omnicached.socket?); refusing to "
                                   "replace it: stop that process or choose another daemon.socket",
                                   socket_path));
  }
  if (unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
    throw StartupError(fmt::format("cannot remove stale socket {}: {}", socket_path, errno_text()));
  }
}

std::uint64_t
connections_within_file_limit(std::uint64_t max_connections, std::uint64_t io_threads)
{
  // About 25 with four serving threads; SQLite may open a few more for a while.
  const std::uint64_t spare = 64 + 4 * io_threads;
  const FileLimit files = raise_file_limit();
  if (files.after > files.before) {
    log::info("raised the open file limit from {} to {}", files.before, files.after);
  }
  if (files.after == 0 || files.after >= max_connections + spare) {
    return UINT64_MAX;
  }
  const std::uint64_t allowed = files.after > 2 * spare ? files.after - spare : files.after / 2;
  log::warn("the open file limit is {} (its hard limit), too low for limits.max_connections = {}: at most {} "
            "connections will be served; raise it (ulimit -n, or LimitNOFILE= under systemd)",
            files.after, max_connections, allowed);
  return allowed;
}

FileLimit
raise_file_limit()
{
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return {};
  }
  FileLimit result{limit.rlim_cur, limit.rlim_cur};
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      result.after = limit.rlim_cur;
    }
  }
  return result;
}

std::optional<FileId>
file_id(const std::string& path)
{
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

Detached
Detached::detach(const std::string& log_path)
{
  // Descriptors the caller left open (a shell's, a pipe of $(...)) must not
  // stay open for the daemon's whole life.
  close_range(3, UINT_MAX, 0);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw StartupError(fmt::format("cannot create a pipe: {}", errno_text()));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    throw StartupError(fmt::format("cannot fork: {}", errno_text()));
  }
  if (pid > 0) {
    close(fds[1]);
    std::string message;
    char buffer[512];
    ssize_t n = 0;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) {
        message.append(buffer, static_cast<std::size_t>(n));
      }
    }
    if (message == "ready\n") {
      _exit(0);
    }
    int status = 1;
    if (message.starts_with(k_lock_held_line)) {
      message.erase(0, k_lock_held_line.size());
      status = k_exit_lock_held;
    }
    if (message.empty()) {
      message = "omnicached: the daemon exited before it was ready\n";
    }
    if (write(STDERR_FILENO, message.data(), message.size()) < 0) {
      // Nothing more can be done.
    }
    _exit(status);
  }
  close(fds[0]);
  setsid();
  if (chdir("/") != 0) {
    // Staying in the old folder is harmless.
  }
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd >= 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
  } else {
    const int sink = open("/dev/null", O_WRONLY);
    dup2(sink, STDOUT_FILENO);
    dup2(sink, STDERR_FILENO);
    close(sink);
  }
  Detached detached;
  detached.m_fd = fds[1];
  return detached;
}

void
Detached::ready()
{
  if (m_fd >= 0) {
    static constexpr std::string_view k_ready = "ready\n";
    if (write(m_fd, k_ready.data(), k_ready.size()) < 0) {
      // The parent is gone; nobody is waiting.
    }
    close(m_fd);
    m_fd = -1;
  }
}

void
Detached::fail(const std::string& message)
{
  if (m_fd >= 0) {
    const std::string line =
      fmt::format("{}omnicached: {}\n", handling_lock_held() ? k_lock_held_line : "", message);
    if (write(m_fd, line.data(), line.size()) < 0) {
      // The parent is gone; the log has the message.
    }
    close(m_fd);
    m_fd = -1;
  }
}

} // namespace omnicache::daemon
