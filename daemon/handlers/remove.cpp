#include "daemon/handlers/handler.hpp"

// The operations that remove entries: del, invalidate, flush. Each replies
// with the number of live entries it actually removed.
namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

void
handle_del(Context& context, const protocol::Request& request, Completion done)
{
  auto tenant = tenant_of(request);
  auto keys = keys_of(request, context.settings);
  submit_write(
    context, request,
    [tenant = std::move(tenant), keys = std::move(keys)](store::Writer& writer) {
      return Json{{"removed", writer.remove_keys(tenant, keys, store::now_ms())}};
    },
    std::move(done));
}

void
handle_invalidate(Context& context, const protocol::Request& request, Completion done)
{
  auto tenant = tenant_of(request);
  store::Selector selector;
  selector.tags = tags_of(request, context.settings);
  selector.pattern = pattern_of(request);
  selector.layer = layer_of(request, false);
  if (selector.empty()) {
    throw Error(ErrorCode::bad_request, "invalidate needs 'tags', 'pattern' or 'layer' (to remove everything, use flush)");
  }
  submit_write(
    context, request,
    [tenant = std::move(tenant), selector = std::move(selector)](store::Writer& writer) {
      return Json{{"removed", writer.invalidate(tenant, selector, store::now_ms())}};
    },
    std::move(done));
}

void
handle_flush(Context& context, const protocol::Request& request, Completion done)
{
  auto tenant = tenant_of(request);
  const bool all = protocol::optional_bool(request.header, "all_tenants", false);
  submit_write(
    context, request,
    [tenant = std::move(tenant), all](store::Writer& writer) {
      const auto removed = all ? writer.flush(std::nullopt, store::now_ms())
                               : writer.flush(std::string_view(tenant), store::now_ms());
      return Json{{"removed", removed}};
    },
    std::move(done));
}

} // namespace omnicache::daemon
