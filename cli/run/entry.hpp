#pragma once

#include "cli/run/channel.hpp"

#include <cstdint>
#include <string>
#include <string_view>

// How a run's result is stored.
//
// The value is the command's standard output exactly, so that `omnicache get`
// prints it, unless the entry must also carry what plain bytes cannot: a
// failing exit status (--cache-failures) or standard error (--cache-stderr).
// Those, and an output that happens to begin with the marker, are framed:
//
//   value  = marker header_length:u32be header stderr[stderr_bytes] stdout
//   header = {"exit_status": N, "stderr_bytes": N}  (JSON)
//
// The marker begins with a NUL byte, which text output never does.
namespace omnicache::cli::run {

inline constexpr std::string_view k_marker{"\0OCRUN1\n", 8};

// What goes before the spooled standard error and output in the value: empty
// when the output is stored plain.
std::string value_prefix(int exit_status, std::uint64_t stderr_bytes, int stdout_spool);

// Writes a stored value (the last reply's, `size` bytes) as the command
// wrote it: the standard error part to fd 2, the output to fd 1. Returns the
// stored exit status. Throws CliError when the value is unreadable.
int replay(Channel& channel, std::uint64_t size);

} // namespace omnicache::cli::run
