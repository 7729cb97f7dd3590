#include "daemon/handlers/handler.hpp"

// The operations that remove entries: del, invalidate, flush. Each replies
// with the number of live entries it actually removed.
namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

// invalidate with deps: removes what depends on each and records its new version.
void
invalidate_dependencies(Context& context, const protocol::Request& request, std::string tenant, Completion done)
{
  std::vector<std::string> names;
  for (auto& dep : deps_of(request.header, context.settings)) {
    if (!dep.version.empty()) {
      throw Error(ErrorCode::bad_request, "invalidate takes dependency names; give the new version as 'version'");
    }
    names.push_back(std::move(dep.name));
  }
  if (names.empty()) {
    throw Error(ErrorCode::bad_request, "field 'deps' must name at least one dependency");
  }
  if (request.header.contains("tags") || request.header.contains("pattern") || request.header.contains("layer")) {
    throw Error(ErrorCode::bad_request, "'deps' cannot be combined with 'tags', 'pattern' or 'layer'");
  }
  auto version = protocol::optional_string(request.header, "version").value_or("");
  if (version.size() > context.settings.max_tag_bytes) {
    throw Error(ErrorCode::too_large, "field 'version' is over limits.max_tag_bytes");
  }
  submit_write(
    context, request,
    [tenant = std::move(tenant), names = std::move(names), version = std::move(version)](store::Writer& writer) {
      return Json{{"removed", writer.invalidate_dependencies(tenant, names, version, store::now_ms())}};
    },
    std::move(done));
}

} // namespace

void
handle_del(Context& context, const protocol::Request& request, Completion done)
{
  auto tenant = tenant_of(request);
  auto keys = keys_of(request.header, context.settings);
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
  if (const auto deps = request.header.find("deps"); deps != request.header.end() && !deps->is_null()) {
    invalidate_dependencies(context, request, std::move(tenant), std::move(done));
    return;
  }
  store::Selector selector;
  selector.tags = tags_of(request.header, context.settings);
  selector.pattern = pattern_of(request.header);
  selector.layer = layer_of(request.header, false);
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
