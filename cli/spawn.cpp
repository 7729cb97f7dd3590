#include "cli/spawn.hpp"

#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace omnicache::cli {

namespace {

using clock = std::chrono::steady_clock;

// omnicached's exit status when another daemon holds the database's or the
// socket's lock (daemon/lifetime.hpp): that one may be about to serve, or be
// on its way out, so connecting again is worth it. Any other failure is
// final and is reported at once.
constexpr int k_daemon_exit_lock_held = 75;

struct DaemonStart
{
  bool serving = false;
  bool lock_held = false;
  std::string reason; // why not, as the daemon said it
};

std::string
trimmed_reason(std::string reason)
{
  while (!reason.empty() && reason.back() == '\n') {
    reason.pop_back();
  }
  constexpr std::string_view k_prefix = "omnicached: ";
  if (reason.starts_with(k_prefix)) {
    reason.erase(0, k_prefix.size());
  }
  return reason;
}

// Runs omnicached, which returns once its child serves the socket (exit 0)
// or has failed (exit 1, or 75 for a lock held by another daemon, the reason
// on stderr). Waiting for that exit, rather than polling the socket, is what
// lets a start that cannot succeed say why at once.
DaemonStart
run_daemon(const Globals& globals, const protocol::Config& config)
{
  std::vector<std::string> args{daemon_program(), "--socket", config.settings().socket};
  if (globals.config_file) {
    args.push_back("--config");
    args.push_back(config.file());
  }
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return {false, false, fmt::format("cannot create a pipe: {}", std::strerror(errno))};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return {false, false, fmt::format("cannot run {}: {}", args[0], std::strerror(rc))};
  }
  std::string reason;
  char buffer[512];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) {
      reason.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool exited = WIFEXITED(status);
  if (exited && WEXITSTATUS(status) == 0) {
    return {true, false, {}};
  }
  reason = trimmed_reason(std::move(reason));
  if (reason.empty()) {
    reason = exited ? fmt::format("{} exited with status {}", args[0], WEXITSTATUS(status))
                    : fmt::format("{} died of signal {}", args[0], WTERMSIG(status));
  }
  return {false, exited && WEXITSTATUS(status) == k_daemon_exit_lock_held, std::move(reason)};
}

// Serialises starts, so that racing commands start one daemon. The file is
// removed on release, so that no start leaves it behind; a command that
// opened it just before then finds its lock on a file no longer at the path,
// and takes the lock again on the new one.
class StartLock
{
public:
  StartLock(const std::string& socket, clock::time_point deadline);
  ~StartLock();
  StartLock(const StartLock&) = delete;
  StartLock& operator=(const StartLock&) = delete;

private:
  int m_fd = -1;
  std::string m_path;
};

bool
still_at_path(int fd, const std::string& path)
{
  struct stat held
  {
  };
  struct stat named
  {
  };
  return fstat(fd, &held) == 0 && lstat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev
         && held.st_ino == named.st_ino;
}

StartLock::StartLock(const std::string& socket, clock::time_point deadline)
  : m_path(socket + ".start.lock")
{
  const auto dir = std::filesystem::path(socket).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    mkdir(dir.c_str(), 0700);
  }
  for (;;) {
    const int fd = open(m_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return; // the daemon will say what is wrong with the folder
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (still_at_path(fd, m_path)) {
        m_fd = fd;
        return;
      }
      close(fd);
      continue;
    }
    close(fd);
    if (clock::now() >= deadline) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

StartLock::~StartLock()
{
  if (m_fd >= 0) {
    const int error = errno; // the caller reports the last connect's
    unlink(m_path.c_str());  // while still held: see the class
    close(m_fd);
    errno = error;
  }
}

} // namespace

std::string
daemon_program()
{
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto sibling = self.parent_path() / "omnicached";
    if (access(sibling.c_str(), X_OK) == 0) {
      return sibling.string();
    }
  }
  return "omnicached";
}

int
start_daemon_and_connect(Globals& globals, const std::function<int()>& connect)
{
  const auto& config = globals.config();
  const auto& settings = config.settings();
  const auto deadline = clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(settings.start_timeout_ms, 100));
  const StartLock lock(settings.socket, deadline);
  std::string reason;
  auto backoff = std::chrono::milliseconds(10);
  int fd = -1;
  for (;;) {
    // Another command may have started it while we waited for the lock.
    fd = connect();
    if (fd >= 0 || clock::now() >= deadline) {
      break;
    }
    const auto start = run_daemon(globals, config);
    if (start.serving) {
      fd = connect();
      if (fd >= 0) {
        if (globals.verbose) {
          fmt::print(stderr, "omnicache: started omnicached on {}\n", settings.socket);
        }
        break;
      }
    } else if (!start.lock_held) {
      throw CliError(k_exit_unreachable, fmt::format("starting the daemon failed: {}", start.reason));
    }
    reason = start.reason;
    if (clock::now() + backoff >= deadline) {
      break;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  if (fd < 0 && !reason.empty()) {
    throw CliError(k_exit_unreachable, fmt::format("starting the daemon failed: {}", reason));
  }
  return fd;
}

} // namespace omnicache::cli
