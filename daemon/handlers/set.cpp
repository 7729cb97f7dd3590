#include "daemon/handlers/handler.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

void
handle_set(Context& context, const protocol::Request& request, Completion done)
{
  store::EntryWrite entry;
  entry.tenant = tenant_of(request);
  entry.key = key_of(request, context.settings);
  entry.layer = layer_of(request, true);
  entry.tags = tags_of(request, context.settings);
  const auto ttl = protocol::optional_int(request.header, "ttl_ms");
  if (ttl && (*ttl < 0 || *ttl > protocol::k_max_ttl_ms)) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'ttl_ms' must be 0 (never) or from 1 to {}, got {}",
                                                    protocol::k_max_ttl_ms, *ttl));
  }
  entry.ttl_ms = ttl ? *ttl : context.settings.default_ttl_ms(entry.layer);
  if (const auto meta = request.header.find("meta"); meta != request.header.end() && !meta->is_null()) {
    if (!meta->is_object()) {
      throw Error(ErrorCode::bad_request, fmt::format("field 'meta' must be an object, got {}", meta->type_name()));
    }
    entry.meta = meta->dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  entry.value.assign(request.value);
  const std::int64_t ttl_ms = entry.ttl_ms;
  submit_write(
    context, request,
    [entry = std::move(entry)](store::Writer& writer) {
      const bool replaced = writer.set(entry, store::now_ms());
      return Json{{"replaced", replaced}};
    },
    [done = std::move(done), ttl_ms](protocol::Reply reply) {
      if (reply.ok) {
        reply.header["ttl_ms"] = ttl_ms == 0 ? Json(nullptr) : Json(ttl_ms);
      }
      done(std::move(reply));
    });
}

} // namespace omnicache::daemon
