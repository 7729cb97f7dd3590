#include "daemon/handlers/handler.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <atomic>

// The operations that remove entries: del, invalidate, flush. Each replies
// with the number of live entries it actually removed.
namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

// Applies `change` here; once committed, the store tells its observers (the
// shared tier among them) what was asked.
void
submit_removal(Context& context, const protocol::Request& request, store::Removal change, Completion done)
{
  submit_write(
    context, request,
    [change = std::move(change)](store::Writer& writer) { return Json{{"removed", writer.remove(change, store::now_ms())}}; },
    std::move(done));
}

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
  store::Removal change;
  change.kind = store::Removal::Kind::deps;
  change.tenant = std::move(tenant);
  change.deps = std::move(names);
  // Without a version of its own the dependency gets a fresh one, chosen
  // here so that every daemon of a shared tier records the same.
  static std::atomic<std::uint64_t> s_fresh{0};
  change.version = version.empty() ? fmt::format("#{}.{}.{}", store::now_ms(), getpid(), ++s_fresh) : std::move(version);
  submit_removal(context, request, std::move(change), std::move(done));
}

} // namespace

void
handle_del(Context& context, const protocol::Request& request, Completion done)
{
  store::Removal change;
  change.kind = store::Removal::Kind::keys;
  change.tenant = tenant_of(request);
  change.keys = keys_of(request.header, context.settings);
  submit_removal(context, request, std::move(change), std::move(done));
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
  store::Removal change;
  change.kind = store::Removal::Kind::selector;
  change.tenant = std::move(tenant);
  change.selector = std::move(selector);
  submit_removal(context, request, std::move(change), std::move(done));
}

void
handle_flush(Context& context, const protocol::Request& request, Completion done)
{
  store::Removal change;
  change.kind = store::Removal::Kind::flush;
  change.tenant = tenant_of(request);
  change.all_tenants = protocol::optional_bool(request.header, "all_tenants", false);
  submit_removal(context, request, std::move(change), std::move(done));
}

} // namespace omnicache::daemon
