#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

// only_missing (set --nx) and only_present (set --xx); the writer checks
// them, so that two clients racing to set a missing key cannot both win.
store::SetCondition
set_condition_of(bool only_missing, bool only_present)
{
  if (only_missing && only_present) {
    throw Error(ErrorCode::bad_request, "'only_missing' and 'only_present' cannot both be true");
  }
  if (only_missing) {
    return store::SetCondition::if_absent;
  }
  return only_present ? store::SetCondition::if_present : store::SetCondition::always;
}

void
handle_set(Context& context, const protocol::ops::SetRequest& request, Done<protocol::ops::SetReply> done)
{
  auto entry = std::make_shared<store::EntryWrite>(entry_of(request, context.settings, tenant_of(request.tenant)));
  const auto condition = set_condition_of(request.only_missing, request.only_present);
  if (request.value.owner) {
    entry->value_owner = request.value.owner;
    entry->value_view = request.value.bytes;
  } else {
    entry->value.assign(request.value.bytes);
  }
  store::TenantKeys settles{entry->tenant, {entry->key}};
  submit_typed_write(
    context,
    [entry, condition](store::Writer& writer) {
      const auto replaced = writer.set_if(*entry, condition, store::now_ms());
      protocol::ops::SetReply reply;
      reply.stored = replaced.has_value();
      reply.replaced = replaced.value_or(false);
      if (reply.stored) {
        reply.ttl_ms = entry->ttl_ms == 0 ? std::nullopt : std::optional<std::int64_t>(entry->ttl_ms);
      }
      return reply;
    },
    std::move(done), std::move(settles));
}

} // namespace omnicache::daemon
