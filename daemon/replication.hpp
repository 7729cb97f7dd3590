#pragma once

#include "protocol/message.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <string>

// The shared tier as the handlers see it: what they may ask of it, and
// nothing of Redis. What clients change reaches it from the store's observer
// of commits (server_tier.cpp), not from the handlers.
namespace omnicache::daemon {

class Replication
{
public:
  virtual ~Replication() = default;

  // After a local miss: copies the entry the shared tier holds under the key
  // into the local store (never over a live local entry, never to outlive
  // the one in Redis), then calls `done(copied)` on `executor`. An
  // unreachable or slow tier is a miss, never an error.
  virtual void fill(const std::string& tenant, const std::string& key, const std::string& layer,
                    boost::asio::any_io_executor executor, std::function<void(bool copied)> done) = 0;

  // Counts a hit, answered by the local store (L1) or by a fill (L2).
  virtual void count_hit(bool from_shared_tier) = 0;

  // The `tier` object of the stats reply (PROTOCOL.md 5.7).
  virtual protocol::Json figures() const = 0;
};

} // namespace omnicache::daemon
