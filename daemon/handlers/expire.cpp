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
  // and the other daemons drop their copies (which hold the old one).
  auto changed = std::make_shared<std::optional<store::EntryWrite>>();
  auto changed_ms = std::make_shared<std::int64_t>(0);
  submit_write(
    context, request,
    [tenant = std::move(tenant), key = std::move(key), ttl, changed, changed_ms,
     mirrored = context.shared.tier != nullptr](store::Writer& writer) {
      const std::int64_t now = store::now_ms();
      const bool found = writer.set_ttl(tenant, key, ttl, now);
      if (found && mirrored) {
        *changed = writer.live_entry(tenant, key, now);
        *changed_ms = now;
      }
      return Json{{"found", found}, {"ttl_ms", found && ttl != 0 ? Json(ttl) : Json(nullptr)}};
    },
    [done = std::move(done), &shared = context.shared, changed, changed_ms](protocol::Reply reply) {
      if (reply.ok && *changed) {
        mirror_entry(shared, **changed, *changed_ms, true);
      }
      done(std::move(reply));
    });
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
