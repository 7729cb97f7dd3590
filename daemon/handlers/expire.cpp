// expire and touch: change how long a live entry lives, or when it was last
// used, without sending its value again (redis EXPIRE / PERSIST / TOUCH).
#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

void
handle_expire(Context& context, const protocol::ops::ExpireRequest& request, Done<protocol::ops::ExpireReply> done)
{
  std::string tenant = tenant_of(request.tenant);
  std::string key = checked_key(request.key, context.settings);
  if (!request.ttl_ms) {
    throw Error(ErrorCode::bad_request, "field 'ttl_ms' is required (0: never expires)");
  }
  const std::int64_t ttl = checked_ttl(request.ttl_ms, context.settings, std::string(protocol::k_default_layer));
  // With a shared tier the whole entry goes to Redis again with its new TTL,
  // and the other daemons drop their copies (which hold the old one): the
  // tier's observer of commits asked the writer to record it.
  submit_typed_write(
    context,
    [tenant = std::move(tenant), key = std::move(key), ttl](store::Writer& writer) {
      protocol::ops::ExpireReply reply;
      reply.found = writer.set_ttl(tenant, key, ttl, store::now_ms());
      reply.ttl_ms = reply.found && ttl != 0 ? std::optional<std::int64_t>(ttl) : std::nullopt;
      return reply;
    },
    std::move(done));
}

void
handle_touch(Context& context, const protocol::ops::TouchRequest& request, Done<protocol::ops::TouchReply> done)
{
  // Local only: what was used last decides what this daemon evicts.
  submit_typed_write(
    context,
    [tenant = tenant_of(request.tenant), keys = checked_keys(request.keys, context.settings)](store::Writer& writer) {
      protocol::ops::TouchReply reply;
      reply.touched = writer.touch(tenant, keys, store::now_ms());
      return reply;
    },
    std::move(done));
}

} // namespace omnicache::daemon
