// expire and touch: change how long a live entry lives, or when it was last
// used, without sending its value again (redis EXPIRE / PERSIST / TOUCH).
#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

void
handle_expire(Context& context, const protocol::Request& request, Completion done)
{
  std::string tenant = tenant_of(request);
  std::string key = key_of(request.header, context.settings);
  if (!request.header.contains("ttl_ms")) {
    throw Error(ErrorCode::bad_request, "field 'ttl_ms' is required (0: never expires)");
  }
  const std::int64_t ttl = ttl_of(request.header, context.settings, std::string(protocol::k_default_layer));
  // With a shared tier the whole entry goes to Redis again with its new TTL,
  // and the other daemons drop their copies (which hold the old one): the
  // tier's observer of commits asked the writer to record it.
  submit_write(
    context, request,
    [tenant = std::move(tenant), key = std::move(key), ttl](store::Writer& writer) {
      const bool found = writer.set_ttl(tenant, key, ttl, store::now_ms());
      return Json{{"found", found}, {"ttl_ms", found && ttl != 0 ? Json(ttl) : Json(nullptr)}};
    },
    std::move(done));
}

void
handle_touch(Context& context, const protocol::Request& request, Completion done)
{
  // Local only: what was used last decides what this daemon evicts.
  submit_write(context, request,
               [tenant = tenant_of(request), keys = keys_of(request.header, context.settings)](store::Writer& writer) {
                 return Json{{"touched", writer.touch(tenant, keys, store::now_ms())}};
               },
               std::move(done));
}

} // namespace omnicache::daemon
