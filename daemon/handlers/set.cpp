#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Json;

void
handle_set(Context& context, const protocol::Request& request, Completion done)
{
  auto entry = std::make_shared<store::EntryWrite>(entry_of(request.header, context.settings, tenant_of(request)));
  if (request.value_owner) {
    entry->value_owner = request.value_owner;
    entry->value_view = request.value;
  } else {
    entry->value.assign(request.value);
  }
  auto written_ms = std::make_shared<std::int64_t>(0);
  submit_write(
    context, request,
    [entry, written_ms](store::Writer& writer) {
      *written_ms = store::now_ms();
      const bool replaced = writer.set(*entry, *written_ms);
      return Json{{"replaced", replaced}};
    },
    [done = std::move(done), entry, written_ms, &shared = context.shared, connection = context.connection->id](
      protocol::Reply reply) {
      if (reply.ok) {
        reply.header["ttl_ms"] = entry->ttl_ms == 0 ? Json(nullptr) : Json(entry->ttl_ms);
        mirror_entry(shared, *entry, *written_ms, reply.header.value("replaced", false));
      }
      // Committed (or failed): clients waiting for this key may go on.
      shared.leases.on_set(entry->tenant, entry->key, connection);
      done(std::move(reply));
    });
}

} // namespace omnicache::daemon
