#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Running the wrapped command.
namespace omnicache::cli::run {

struct ChildIo
{
  int stdin_fd = 0;
  int stdout_spool = -1; // its output is copied here as it streams to ours
  int stderr_spool = -1; // -1: its standard error is ours, untouched
  std::uint64_t max_output = UINT64_MAX; // spooled bytes (both streams) past which nothing is kept
};

struct ChildResult
{
  int status = 0;           // as a shell reports it: the exit code, 128+signal, 126/127 when it could not start
  bool started = false;
  bool interrupted = false; // we were sent SIGINT, SIGTERM, SIGHUP or SIGQUIT while it ran
  int signal = 0;           // the signal it died of
  std::uint64_t stdout_bytes = 0;
  std::uint64_t stderr_bytes = 0;
  bool over_limit = false;  // the spools were dropped at max_output
  std::string spool_error;  // the spools failed (a full disk): why
};

// Runs `argv` (PATH searched), streaming its output to ours chunk by chunk as
// it arrives while spooling it. SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
// us are passed on to it (not those the terminal sent to the whole process
// group, which it had already). Reports a command that cannot start on
// stderr, as a shell would.
ChildResult run_child(const std::vector<std::string>& argv, const ChildIo& io);

// Replaces this process with `argv`, `stdin_fd` as its standard input.
// Exits 127 or 126 (with a message) when it cannot.
[[noreturn]] void exec_command(const std::vector<std::string>& argv, int stdin_fd);

} // namespace omnicache::cli::run
