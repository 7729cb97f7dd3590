#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

// only_missing (set --nx) and only_present (set --xx); the writer checks
// them, so that two clients racing to set a missing key cannot both win.
store::SetCondition
set_condition_of(const Json& fields)
{
  const bool only_missing = protocol::optional_bool(fields, "only_missing", false);
  const bool only_present = protocol::optional_bool(fields, "only_present", false);
  if (only_missing && only_present) {
    throw Error(ErrorCode::bad_request, "'only_missing' and 'only_present' cannot both be true");
  }
  if (only_missing) {
    return store::SetCondition::if_absent;
  }
  return only_present ? store::SetCondition::if_present : store::SetCondition::always;
}

} // namespace

void
handle_set(Context& context, const protocol::Request& request, Completion done)
{
  auto entry = std::make_shared<store::EntryWrite>(entry_of(request.header, context.settings, tenant_of(request)));
  const auto condition = set_condition_of(request.header);
  if (request.value_owner) {
    entry->value_owner = request.value_owner;
    entry->value_view = request.value;
  } else {
    entry->value.assign(request.value);
  }
  store::TenantKeys settles{entry->tenant, {entry->key}};
  submit_write(
    context, request,
    [entry, condition](store::Writer& writer) {
      const auto replaced = writer.set_if(*entry, condition, store::now_ms());
      return Json{{"stored", replaced.has_value()}, {"replaced", replaced.value_or(false)}};
    },
    [done = std::move(done), entry](protocol::Reply reply) {
      if (reply.ok && reply.header.value("stored", false)) {
        reply.header["ttl_ms"] = entry->ttl_ms == 0 ? Json(nullptr) : Json(entry->ttl_ms);
      }
      done(std::move(reply));
    },
    std::move(settles));
}

} // namespace omnicache::daemon
