#pragma once

#include "cli/globals.hpp"

#include <functional>
#include <string>

namespace omnicache::cli {

// Starts omnicached in the background for the configured socket, then
// connects with `connect` (which returns a socket or -1). A lock beside the
// socket makes racing commands start one daemon between them. A daemon that
// cannot start says why and the call throws CliError(k_exit_unreachable)
// with that reason at once; only while another daemon holds the locks (one
// starting or stopping) does it retry, with a doubling backoff until
// client.start_timeout. Returns the connected socket, or -1 with errno from
// the last attempt.
int start_daemon_and_connect(Globals& globals, const std::function<int()>& connect);

// omnicached beside this executable, else the one on PATH.
std::string daemon_program();

} // namespace omnicache::cli
