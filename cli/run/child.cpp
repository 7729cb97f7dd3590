#include "cli/run/child.hpp"

#include "cli/exit_codes.hpp"
#include "cli/run/fd.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace omnicache::cli::run {

namespace {

constexpr int k_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr int k_shell_not_found = 127;
constexpr int k_shell_not_executable = 126;
constexpr int k_shell_signal_base = 128;

int
not_started(const std::string& program, int error)
{
  if (error == ENOENT && program.find('/') == std::string::npos) {
    fmt::print(stderr, "omnicache: {}: command not found\n", program);
  } else {
    fmt::print(stderr, "omnicache: {}: {}\n", program, std::strerror(error));
  }
  return error == ENOENT ? k_shell_not_found : k_shell_not_executable;
}

std::vector<char*>
c_argv(const std::vector<std::string>& argv)
{
  std::vector<char*> out;
  for (const auto& arg : argv) {
    out.push_back(const_cast<char*>(arg.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

// While the command runs, the signals to pass on and SIGCHLD arrive on a
// descriptor rather than ending us, and SIGPIPE is ignored: when whoever
// reads our output goes away, the command still finishes and is stored.
class SignalScope
{
public:
  SignalScope()
  {
    sigemptyset(&m_set);
    for (const int signo : k_forwarded) {
      sigaddset(&m_set, signo);
    }
    sigaddset(&m_set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &m_set, &m_old_mask);
    m_fd = Fd(signalfd(-1, &m_set, SFD_CLOEXEC));
    if (!m_fd) {
      const int error = errno;
      sigprocmask(SIG_SETMASK, &m_old_mask, nullptr);
      throw CliError(k_exit_usage, fmt::format("cannot watch for signals: {}", std::strerror(error)));
    }
    struct sigaction ignore
    {
    };
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &m_old_pipe);
  }
  ~SignalScope()
  {
    sigaction(SIGPIPE, &m_old_pipe, nullptr);
    sigprocmask(SIG_SETMASK, &m_old_mask, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

  int fd() const { return m_fd.get(); }

  // What the command starts with: the mask and SIGPIPE as we were given them.
  void apply_to(posix_spawnattr_t& attributes) const
  {
    short flags = POSIX_SPAWN_SETSIGMASK;
    posix_spawnattr_setsigmask(&attributes, &m_old_mask);
    if (m_old_pipe.sa_handler != SIG_IGN) {
      sigset_t defaults;
      sigemptyset(&defaults);
      sigaddset(&defaults, SIGPIPE);
      posix_spawnattr_setsigdefault(&attributes, &defaults);
      flags |= POSIX_SPAWN_SETSIGDEF;
    }
    posix_spawnattr_setflags(&attributes, flags);
  }

private:
  sigset_t m_set{};
  sigset_t m_old_mask{};
  struct sigaction m_old_pipe
  {
  };
  Fd m_fd;
};

std::pair<Fd, Fd>
make_pipe()
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw CliError(k_exit_usage, fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

// One of the command's output streams on its way to ours and to its spool.
struct Stream
{
  Fd pipe;
  int to = -1; // -1 once writing there failed: the reader went away
  int spool = -1;
  std::uint64_t* bytes = nullptr;
};

class Pump
{
public:
  Pump(const ChildIo& io, ChildResult& result)
    : m_io(io),
      m_result(result)
  {
  }

  // Moves one chunk along; false at the end of the stream.
  bool step(Stream& stream)
  {
    const ssize_t n = read(stream.pipe.get(), m_buffer, sizeof m_buffer);
    if (n <= 0) {
      return n < 0 && (errno == EINTR || errno == EAGAIN);
    }
    const std::string_view chunk(m_buffer, static_cast<std::size_t>(n));
    *stream.bytes += chunk.size();
    if (stream.to >= 0 && !write_all(stream.to, chunk)) {
      stream.to = -1;
    }
    if (stream.spool >= 0 && !m_result.over_limit && m_result.spool_error.empty()) {
      spool(stream.spool, chunk);
    }
    return true;
  }

private:
  void spool(int fd, std::string_view chunk)
  {
    if (chunk.size() > m_io.max_output - m_spooled) {
      // Never stored now: give the space back at once.
      m_result.over_limit = true;
      for (const int file : {m_io.stdout_spool, m_io.stderr_spool}) {
        if (file >= 0 && ftruncate(file, 0) != 0) {
          m_result.spool_error = std::strerror(errno);
        }
      }
    } else if (!write_all(fd, chunk)) {
      m_result.spool_error = std::strerror(errno);
    } else {
      m_spooled += chunk.size();
    }
  }

  const ChildIo& m_io;
  ChildResult& m_result;
  std::uint64_t m_spooled = 0;
  char m_buffer[1 << 16];
};

pid_t
spawn(const std::vector<std::string>& argv, const ChildIo& io, const SignalScope& signals, int stdout_fd,
      int stderr_fd, int& error)
{
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (io.stdin_fd != STDIN_FILENO) {
    posix_spawn_file_actions_adddup2(&actions, io.stdin_fd, STDIN_FILENO);
  }
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  if (stderr_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  signals.apply_to(attributes);
  pid_t pid = -1;
  auto args = c_argv(argv);
  error = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

} // namespace

ChildResult
run_child(const std::vector<std::string>& argv, const ChildIo& io)
{
  ChildResult result;
  // Before the command starts, so that no signal meant for it is lost.
  const SignalScope signals;
  auto [out_read, out_write] = make_pipe();
  Fd err_read;
  Fd err_write;
  if (io.stderr_spool >= 0) {
    std::tie(err_read, err_write) = make_pipe();
  }
  int error = 0;
  const pid_t pid = spawn(argv, io, signals, out_write.get(), err_write.get(), error);
  out_write.reset();
  err_write.reset();
  if (pid < 0) {
    result.status = not_started(argv[0], error);
    return result;
  }
  result.started = true;
  Stream out{std::move(out_read), STDOUT_FILENO, io.stdout_spool, &result.stdout_bytes};
  Stream err{std::move(err_read), STDERR_FILENO, io.stderr_spool, &result.stderr_bytes};
  Pump pump(io, result);
  int wait_status = 0;
  bool reaped = false;
  int late_signal = 0;
  // Once an interrupted command is gone, nothing it left behind holding its
  // output open is waited for: that output is not stored anyway.
  while (!(reaped && result.interrupted) && (!reaped || out.pipe || err.pipe)) {
    pollfd fds[] = {{signals.fd(), POLLIN, 0}, {out.pipe.get(), POLLIN, 0}, {err.pipe.get(), POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      continue; // EINTR: nothing else can fail with these arguments
    }
    signalfd_siginfo info{};
    if ((fds[0].revents & POLLIN) != 0 && read(signals.fd(), &info, sizeof info) == sizeof info) {
      const int signo = static_cast<int>(info.ssi_signo);
      if (signo == SIGCHLD) {
        reaped = reaped || waitpid(pid, &wait_status, WNOHANG) == pid;
      } else {
        result.interrupted = true;
        if (reaped) {
          late_signal = signo; // the command is gone: the signal was for us
        } else if (info.ssi_code != SI_KERNEL) { // not the terminal's, sent to the whole group
          kill(pid, signo);
        }
      }
    }
    for (auto [stream, revents] : {std::pair{&out, fds[1].revents}, std::pair{&err, fds[2].revents}}) {
      if (revents != 0 && !pump.step(*stream)) {
        stream->pipe.reset();
      }
    }
  }
  result.signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  const int status = result.signal != 0 ? k_shell_signal_base + result.signal : WEXITSTATUS(wait_status);
  result.status = late_signal != 0 ? k_shell_signal_base + late_signal : status;
  return result;
}

void
exec_command(const std::vector<std::string>& argv, int stdin_fd)
{
  if (stdin_fd != STDIN_FILENO && dup2(stdin_fd, STDIN_FILENO) < 0) {
    fmt::print(stderr, "omnicache: cannot give the command its standard input: {}\n", std::strerror(errno));
    std::exit(k_shell_not_executable);
  }
  std::fflush(stdout);
  auto args = c_argv(argv);
  execvp(args[0], args.data());
  std::exit(not_started(argv[0], errno));
}

} // namespace omnicache::cli::run
