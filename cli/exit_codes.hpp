#pragma once

#include <stdexcept>
#include <string>

namespace omnicache::cli {

// The command's exit codes; documented in --help and the README.
enum ExitCode : int {
  k_exit_ok = 0,          // success, or a hit
  k_exit_miss = 1,        // a miss, or the thing asked about does not exist
  k_exit_usage = 2,       // bad usage or invalid input (including input the daemon refuses)
  k_exit_unreachable = 3, // no daemon answered, even after trying to start one
  k_exit_daemon = 4,      // the daemon reported an error
  k_exit_damaged = 5,     // omnicache doctor found a problem with the database
};

// The one exception type of the command: main prints the message and exits
// with the code. It is the command's edge, not a protocol::Error: the command
// catches protocol::Error where a library call rejects its input (a key, a
// request file) to make it a CliError with the right exit code, and a
// CliError that were also a protocol::Error would be caught there too and
// leave with another code.
class CliError : public std::runtime_error
{
public:
  CliError(int exit_code, const std::string& message)
    : std::runtime_error(message),
      m_exit_code(exit_code)
  {
  }
  int exit_code() const { return m_exit_code; }

private:
  int m_exit_code;
};

} // namespace omnicache::cli
