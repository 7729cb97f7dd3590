#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Json;

void
handle_set(Context& context, const protocol::Request& request, Completion done)
{
  store::EntryWrite entry = entry_of(request.header, context.settings, tenant_of(request));
  if (request.value_owner) {
    entry.value_owner = request.value_owner;
    entry.value_view = request.value;
  } else {
    entry.value.assign(request.value);
  }
  const std::int64_t ttl_ms = entry.ttl_ms;
  submit_write(
    context, request,
    [entry = std::move(entry)](store::Writer& writer) {
      const bool replaced = writer.set(entry, store::now_ms());
      return Json{{"replaced", replaced}};
    },
    [done = std::move(done), ttl_ms, &leases = context.shared.leases, tenant = tenant_of(request),
     key = request.header["key"].get<std::string>(), connection = context.connection->id](protocol::Reply reply) {
      if (reply.ok) {
        reply.header["ttl_ms"] = ttl_ms == 0 ? Json(nullptr) : Json(ttl_ms);
      }
      // Committed (or failed): clients waiting for this key may go on.
      leases.on_set(tenant, key, connection);
      done(std::move(reply));
    });
}

} // namespace omnicache::daemon
