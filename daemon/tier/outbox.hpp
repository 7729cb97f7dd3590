#pragma once

#include "daemon/tier/redis.hpp"
#include "protocol/error.hpp"

#include <optional>
#include <string>
#include <vector>

// The writes and invalidations a daemon could not send to Redis before it
// stopped, kept in a file beside its database (DATABASE.tier-outbox) and sent
// first when it starts again, so that a removal made while Redis was away
// still reaches the other daemons.
//
// The file is RESP, the bytes Redis itself reads: a header array
// ["omnicache-tier-outbox", "1", PREFIX, ORIGIN], then one array per item
// holding an integer of flags and the item's commands, each an array of bulk
// strings.
namespace omnicache::daemon::tier {

struct OutboxItem
{
  std::vector<RedisCommand> commands;
  bool invalidation = false; // a removal or a log record, not a write
  bool own_removal = false;  // a removal this daemon made: lookups here miss until Redis has it
};

// The file is there but cannot be read: not RESP, cut short, not ours. An
// Error with the code bad_file; a type of its own because the tier answers
// exactly this by setting the file aside, where a failure to write one is
// only logged.
class OutboxError : public protocol::Error
{
public:
  explicit OutboxError(const std::string& message)
    : protocol::Error(protocol::ErrorCode::bad_file, message)
  {
  }
};

struct Outbox
{
  std::string prefix; // the tier's key prefix the commands were made for
  std::string origin; // the name the daemon gave its records in the invalidation log
  std::vector<OutboxItem> items;
};

// Writes `outbox` to `path` whole or not at all (a temporary file, then a
// rename). Throws protocol::Error (io) naming the file.
void save_outbox(const std::string& path, const Outbox& outbox);

// What `path` holds; nullopt when there is no such file. Throws OutboxError
// naming the file and the item that is wrong.
std::optional<Outbox> load_outbox(const std::string& path);

} // namespace omnicache::daemon::tier
