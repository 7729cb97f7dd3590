#include "cli/warm/exec.hpp"

#include "cli/client.hpp"
#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <functional>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

extern char** environ;

namespace omnicache::cli::warm {

namespace {

using protocol::Json;

// How long one get_or_lease waits for another process's answer at most; it
// asks again until that answer comes or the other's lease lapses.
constexpr std::int64_t k_wait_slice_ms = 20000;

class Fd
{
public:
  explicit Fd(int fd = -1)
    : m_fd(fd)
  {
  }
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
  {
  }
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }
  void reset()
  {
    if (m_fd >= 0) {
      close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd;
};

[[noreturn]] void
throw_errno(const char* what)
{
  throw CliError(k_exit_usage, fmt::format("--exec: {}: {}", what, std::strerror(errno)));
}

// Close-on-exec, so that commands started at the same time by other workers
// do not hold this one's pipes open.
std::pair<Fd, Fd>
make_pipe()
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno("cannot create a pipe");
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

pid_t
spawn_shell(const std::string& command, int stdin_fd, int stdout_fd,
            const std::vector<std::pair<std::string, std::string>>& environment)
{
  std::vector<std::string> added;
  for (const auto& [name, value] : environment) {
    added.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const std::string_view text(*variable);
    const bool replaced = std::any_of(environment.begin(), environment.end(), [text](const auto& pair) {
      return text.starts_with(pair.first) && text.size() > pair.first.size() && text[pair.first.size()] == '=';
    });
    if (!replaced) {
      envp.push_back(*variable);
    }
  }
  for (auto& variable : added) {
    envp.push_back(variable.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE); // ignored here, but not in the command
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);

  std::string shell = "sh";
  std::string flag = "-c";
  std::string text = command;
  char* argv[] = {shell.data(), flag.data(), text.data(), nullptr};
  pid_t pid = -1;
  const int error = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    errno = error;
    throw_errno("cannot start /bin/sh");
  }
  return pid;
}

// Feeds `input` and collects the output together, so that a command that
// writes much before it has read everything cannot block either side.
std::string
feed_and_collect(Fd& to_command, Fd& from_command, std::string_view input)
{
  std::string output;
  if (input.empty()) {
    to_command.reset();
  } else {
    fcntl(to_command.get(), F_SETFL, fcntl(to_command.get(), F_GETFL) | O_NONBLOCK);
  }
  char buffer[1 << 16];
  std::size_t written = 0;
  while (from_command.get() >= 0) {
    pollfd fds[2] = {{from_command.get(), POLLIN, 0}, {to_command.get(), POLLOUT, 0}};
    if (poll(fds, to_command.get() >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("waiting for the command");
    }
    if (to_command.get() >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = write(to_command.get(), input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      // A command that does not read all of its input is its own business.
      if (written == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        to_command.reset();
      }
    }
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = read(from_command.get(), buffer, sizeof buffer);
      if (n > 0) {
        output.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        from_command.reset();
      }
    }
  }
  return output;
}

int
wait_for(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw_errno("waiting for the command");
    }
  }
  return status;
}

// One row: its cached entry, someone else's answer, or ours.
void
answer_row(Client& client, const ExecOptions& options, std::int64_t wait_ms, Entry& row, Report& report)
{
  protocol::ops::GetOrLeaseRequest lease;
  lease.key = row.key;
  lease.layer = row.layer;
  lease.wait_ms = wait_ms;
  protocol::ops::ReleaseRequest release;
  release.key = row.key;
  for (;;) {
    const auto reply = client.call<protocol::ops::GetOrLease>(lease);
    if (reply.found) {
      report.add_stored(0, 1);
      return;
    }
    if (reply.lease.value_or(false)) {
      break;
    }
  }
  auto result = run_command(options.command, row.prompt, {{"OMNICACHE_WARM_MODEL", row.model}});
  report.add_executed();
  if (const auto failure = command_failure(result.wait_status)) {
    client.call<protocol::ops::Release>(release);
    report.fail(row.line, fmt::format("--exec command {}", *failure));
    return;
  }
  row.meta = RowMapper::meta_for(row.model, result.output);
  try {
    auto request = set_request(row);
    request.value.bytes = result.output;
    client.call<protocol::ops::Set>(request);
  } catch (const CliError& e) {
    if (e.exit_code() != k_exit_usage) {
      throw;
    }
    client.call<protocol::ops::Release>(release);
    report.fail(row.line, e.what());
    return;
  }
  report.add_stored(1, 0);
}

} // namespace

CommandResult
run_command(const std::string& command, std::string_view input,
            const std::vector<std::pair<std::string, std::string>>& environment)
{
  auto [stdin_read, stdin_write] = make_pipe();
  auto [stdout_read, stdout_write] = make_pipe();
  const pid_t pid = spawn_shell(command, stdin_read.get(), stdout_write.get(), environment);
  stdin_read.reset();
  stdout_write.reset();
  CommandResult result;
  try {
    result.output = feed_and_collect(stdin_write, stdout_read, input);
  } catch (...) {
    wait_for(pid);
    throw;
  }
  result.wait_status = wait_for(pid);
  return result;
}

std::optional<std::string>
command_failure(int wait_status)
{
  if (WIFEXITED(wait_status)) {
    const int code = WEXITSTATUS(wait_status);
    return code == 0 ? std::nullopt : std::optional(fmt::format("exited with status {}", code));
  }
  if (WIFSIGNALED(wait_status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(wait_status), strsignal(WTERMSIG(wait_status)));
  }
  return "ended abnormally";
}

void
answer_rows(Globals& globals, const ExecOptions& options, std::span<Entry> rows, Report& report)
{
  if (rows.empty()) {
    return;
  }
  // Writing to a command that has exited must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  const std::size_t jobs = std::min<std::size_t>(std::max(options.jobs, 1u), rows.size());
  std::vector<Client> clients;
  clients.reserve(jobs);
  for (std::size_t i = 0; i < jobs; ++i) {
    clients.push_back(Client::connect(globals));
  }
  // Each wait ends well before the client gives up on a reply.
  const std::int64_t timeout_ms = globals.config().settings().timeout_ms;
  const std::int64_t wait_ms = timeout_ms > 0 ? std::clamp<std::int64_t>(timeout_ms / 2, 1, k_wait_slice_ms)
                                              : k_wait_slice_ms;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&](Client& client) {
    try {
      for (std::size_t i = next++; i < rows.size() && !stop; i = next++) {
        answer_row(client, options, wait_ms, rows[i], report);
        report.exec_row_done();
      }
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!error) {
        error = std::current_exception();
      }
      stop = true;
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < jobs; ++i) {
    workers.emplace_back(work, std::ref(clients[i]));
  }
  work(clients[0]);
  for (auto& worker : workers) {
    worker.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

} // namespace omnicache::cli::warm
