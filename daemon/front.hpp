#pragma once

#include "daemon/session.hpp"
#include "protocol/config.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace omnicache::daemon {

// A second way in to the cache beside the Unix socket, served on the same
// threads: the HTTP proxy. The core defines it so that the Server can start
// and stop the proxy, a library above the core, without depending on it.
class Front
{
public:
  virtual ~Front() = default;

  // HOST:PORT actually bound.
  virtual const std::string& address() const = 0;
  virtual void start() = 0;
  // Stops accepting and closes every connection once its answer is done.
  virtual void stop() = 0;
  // Before the serving threads' event loops are destroyed; the front itself
  // must outlive them.
  virtual void close_upstreams() = 0;
};

// Builds the front [proxy] listen names and binds it; throws saying why it
// cannot. Given by whoever composes the daemon (daemon_main.cpp).
using MakeFront = std::function<std::unique_ptr<Front>(Shared& shared,
                                                        const std::vector<std::unique_ptr<Worker>>& workers,
                                                        const protocol::Settings& settings)>;

} // namespace omnicache::daemon
