#pragma once

#include "protocol/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace omnicache::protocol {

// Where a Redis server is and how to log in, from the forms redis-cli and the
// client libraries accept:
//   redis://[[user]:password@]host[:port][/db]
//   rediss://...                                 (TLS)
//   unix://[[user]:password@]/path/redis.sock[?db=N]
struct RedisUrl
{
  bool tls = false;
  std::string host;       // empty for a Unix socket
  std::uint16_t port = 6379;
  std::string socket;     // a Unix socket's path
  std::string user;       // empty: the default user
  std::string password;   // empty: no AUTH
  std::uint32_t db = 0;
};

// The parsed URL, or an Error (code config) whose message says what is wrong.
Expected<RedisUrl> parse_redis_url(std::string_view text);

// The URL with its password replaced by ****, for logs, stats and config show.
std::string mask_redis_url(std::string_view text);

} // namespace omnicache::protocol
