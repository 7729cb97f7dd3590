#pragma once

#include "cli/client.hpp"
#include "cli/globals.hpp"

#include <optional>
#include <string>

namespace omnicache::cli {

// The daemon on this command's socket, if one runs; never starts one
// (daemon.cpp). A config file the command cannot read is likely the one the
// daemon reads too: the daemon is then looked for on the socket named
// without the file (--socket, $OMNICACHE_SOCKET or the default), so that it
// can still be asked what it runs and say itself what is wrong.
struct RunningDaemon
{
  std::optional<Client> client;
  std::string socket;
  std::string config_error; // why this command cannot read its configuration, or empty
};

// Throws the command's own configuration error when no daemon is found.
RunningDaemon find_running_daemon(Globals& globals);

} // namespace omnicache::cli
