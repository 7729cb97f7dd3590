#include "daemon/handlers/handler.hpp"

#include "omnicache_version.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <unistd.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

protocol::Reply
handle_hello(Context& context, const protocol::Request& request)
{
  const auto version = protocol::optional_int(request.header, "version");
  if (!version) {
    throw Error(ErrorCode::bad_request, "missing field 'version' (the client's protocol version)");
  }
  if (*version < 1) {
    throw Error(ErrorCode::unsupported, fmt::format("protocol version {} is not supported; this server speaks {}",
                                                    *version, protocol::k_protocol_version));
  }
  std::vector<std::string> missing;
  for (const auto& wanted : protocol::optional_strings(request.header, "require")) {
    if (std::find(std::begin(protocol::k_capabilities), std::end(protocol::k_capabilities), wanted)
        == std::end(protocol::k_capabilities)) {
      missing.push_back(wanted);
    }
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) {
      names += names.empty() ? "" : ", ";
      names += name;
    }
    throw Error(ErrorCode::unsupported, fmt::format("this server (omnicached {}) lacks: {}", k_version, names));
  }
  const auto& s = context.settings;
  Json capabilities = Json::array();
  for (auto name : protocol::k_capabilities) {
    capabilities.push_back(name);
  }
  auto reply = ok_reply(request, {
                             {"version", std::min<std::int64_t>(*version, protocol::k_protocol_version)},
                             {"server", "omnicached"},
                             {"server_version", k_version},
                             {"pid", getpid()},
                             {"capabilities", std::move(capabilities)},
                             {"limits",
                              {
                                {"max_frame_bytes", s.max_frame_bytes},
                                {"max_header_bytes", s.max_header_bytes},
                                {"max_key_bytes", s.max_key_bytes},
                                {"max_tags", s.max_tags},
                                {"max_tag_bytes", s.max_tag_bytes},
                                {"max_in_flight", s.max_in_flight},
                              }},
                           });
  // Where the HTTP proxy listens, for clients (and tests) that asked for any port.
  if (!context.shared.info.proxy.empty()) {
    reply.header["proxy"] = context.shared.info.proxy;
  }
  return reply;
}

} // namespace omnicache::daemon
