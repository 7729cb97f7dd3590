#include "daemon/handlers/typed.hpp"

#include "omnicache_version.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <unistd.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

protocol::ops::HelloReply
handle_hello(Context& context, const protocol::ops::HelloRequest& request)
{
  if (!request.version) {
    throw Error(ErrorCode::bad_request, "missing field 'version' (the client's protocol version)");
  }
  if (*request.version < 1) {
    throw Error(ErrorCode::unsupported, fmt::format("protocol version {} is not supported; this server speaks {}",
                                                    *request.version, protocol::k_protocol_version));
  }
  std::string missing;
  for (const auto& wanted : request.require) {
    if (!protocol::ops::has_capability(wanted)) {
      missing += missing.empty() ? "" : ", ";
      missing += wanted;
    }
  }
  if (!missing.empty()) {
    throw Error(ErrorCode::unsupported, fmt::format("this server (omnicached {}) lacks: {}", k_version, missing));
  }
  const auto& s = context.settings;
  protocol::ops::HelloReply reply;
  reply.version = std::min<std::int64_t>(*request.version, protocol::k_protocol_version);
  reply.server = "omnicached";
  reply.server_version = k_version;
  reply.pid = getpid();
  for (const auto name : protocol::ops::capabilities()) {
    reply.capabilities.emplace_back(name);
  }
  reply.limits = {
    {"max_frame_bytes", s.max_frame_bytes}, {"max_header_bytes", s.max_header_bytes},
    {"max_key_bytes", s.max_key_bytes},     {"max_tags", s.max_tags},
    {"max_tag_bytes", s.max_tag_bytes},     {"max_in_flight", s.max_in_flight},
  };
  // Where the HTTP proxy listens, for clients (and tests) that asked for any port.
  if (!context.shared.info.proxy.empty()) {
    reply.proxy = context.shared.info.proxy;
  }
  return reply;
}

} // namespace omnicache::daemon
