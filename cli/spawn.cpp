#include "cli/spawn.hpp"

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

// Runs omnicached, which returns once its child serves the socket (exit 0)
// or has failed (exit 1, reason on stderr). Returns the reason on failure.
std::string
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
    return fmt::format("cannot create a pipe: {}", std::strerror(errno));
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
    return fmt::format("cannot run {}: {}", args[0], std::strerror(rc));
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
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return {};
  }
  while (!reason.empty() && reason.back() == '\n') {
    reason.pop_back();
  }
  return reason.empty() ? fmt::format("{} exited with status {}", args[0], WEXITSTATUS(status)) : reason;
}

// Serialises starts; released when the returned descriptor is closed.
int
lock_spawn(const std::string& socket, clock::time_point deadline)
{
  const auto dir = std::filesystem::path(socket).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    mkdir(dir.c_str(), 0700);
  }
  const int fd = open((socket + ".start.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return -1;
  }
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (clock::now() >= deadline) {
      close(fd);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fd;
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
  const int lock = lock_spawn(settings.socket, deadline);
  std::string reason;
  auto backoff = std::chrono::milliseconds(10);
  int fd = -1;
  for (;;) {
    // Another command may have started it while we waited for the lock.
    fd = connect();
    if (fd >= 0 || clock::now() >= deadline) {
      break;
    }
    reason = run_daemon(globals, config);
    if (reason.empty()) {
      fd = connect();
      if (fd >= 0) {
        if (globals.verbose) {
          fmt::print(stderr, "omnicache: started omnicached on {}\n", settings.socket);
        }
        break;
      }
    }
    if (clock::now() + backoff >= deadline) {
      break;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  const int error = errno;
  if (lock >= 0) {
    close(lock);
  }
  if (fd < 0 && !reason.empty()) {
    fmt::print(stderr, "omnicache: starting the daemon failed: {}\n", reason);
  }
  errno = error;
  return fd;
}

} // namespace omnicache::cli
