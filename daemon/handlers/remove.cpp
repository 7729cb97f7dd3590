#include "daemon/handlers/typed.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <atomic>

// The operations that remove entries: del, invalidate, flush. Each replies
// with the number of live entries it actually removed.
namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
namespace ops = protocol::ops;

namespace {

// Applies `change` here; once committed, the store tells its observers (the
// shared tier among them) what was asked.
void
submit_removal(Context& context, store::Removal change, Done<ops::RemovedReply> done)
{
  submit_typed_write(
    context,
    [change = std::move(change)](store::Writer& writer) {
      ops::RemovedReply reply;
      reply.removed = writer.remove(change, store::now_ms());
      return reply;
    },
    std::move(done));
}

// invalidate with deps: removes what depends on each and records its new version.
void
invalidate_dependencies(Context& context, const ops::InvalidateRequest& request, std::string tenant,
                        Done<ops::RemovedReply> done)
{
  std::vector<std::string> names;
  for (auto& dep : checked_deps(request.deps, context.settings)) {
    if (!dep.version.empty()) {
      throw Error(ErrorCode::bad_request, "invalidate takes dependency names; give the new version as 'version'");
    }
    names.push_back(std::move(dep.name));
  }
  if (names.empty()) {
    throw Error(ErrorCode::bad_request, "field 'deps' must name at least one dependency");
  }
  if (request.tags || request.pattern || request.layer) {
    throw Error(ErrorCode::bad_request, "'deps' cannot be combined with 'tags', 'pattern' or 'layer'");
  }
  auto version = request.version.value_or("");
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
  submit_removal(context, std::move(change), std::move(done));
}

} // namespace

void
handle_del(Context& context, const ops::DelRequest& request, Done<ops::RemovedReply> done)
{
  store::Removal change;
  change.kind = store::Removal::Kind::keys;
  change.tenant = tenant_of(request.tenant);
  change.keys = checked_keys(request.keys, context.settings);
  submit_removal(context, std::move(change), std::move(done));
}

void
handle_invalidate(Context& context, const ops::InvalidateRequest& request, Done<ops::RemovedReply> done)
{
  auto tenant = tenant_of(request.tenant);
  if (!request.deps.is_null()) {
    invalidate_dependencies(context, request, std::move(tenant), std::move(done));
    return;
  }
  store::Selector selector;
  selector.tags = checked_tags(request.tags.value_or(std::vector<std::string>{}), context.settings);
  selector.pattern = request.pattern.value_or(std::string());
  selector.layer = checked_layer(request.layer, false);
  if (selector.empty()) {
    throw Error(ErrorCode::bad_request, "invalidate needs 'tags', 'pattern' or 'layer' (to remove everything, use flush)");
  }
  store::Removal change;
  change.kind = store::Removal::Kind::selector;
  change.tenant = std::move(tenant);
  change.selector = std::move(selector);
  submit_removal(context, std::move(change), std::move(done));
}

void
handle_flush(Context& context, const ops::FlushRequest& request, Done<ops::RemovedReply> done)
{
  store::Removal change;
  change.kind = store::Removal::Kind::flush;
  change.tenant = tenant_of(request.tenant);
  change.all_tenants = request.all_tenants;
  submit_removal(context, std::move(change), std::move(done));
}

} // namespace omnicache::daemon
