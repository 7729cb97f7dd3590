// export: a page of whole entries (metadata and values) in key order, so that
// `omnicache export` needs one round trip per page instead of two per key.
#include "daemon/handlers/typed.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::int64_t k_export_default_page = 100;
constexpr std::int64_t k_export_max_page = 1000;
// A page stops growing once its values pass this size (it always holds at
// least one entry): a client keeps one page in memory at a time.
constexpr std::size_t k_export_page_bytes = std::size_t{8} << 20;

Json
export_deps(const std::vector<store::Dependency>& deps)
{
  Json out = Json::array();
  for (const auto& dep : deps) {
    // A bare name depends on whatever version is recorded, as it was set.
    out.push_back(dep.version.empty() ? Json(dep.name) : Json{{"name", dep.name}, {"version", dep.version}});
  }
  return out;
}

// The entry's fields as `mset` takes them back (TTL left, not the TTL it
// was set with), or null when it expired since the key was listed.
Json
export_entry(Context& context, const std::string& tenant, const std::string& key, std::int64_t now,
             std::string& values)
{
  const auto info = context.reader.inspect(tenant, key, now);
  if (!info) {
    return nullptr;
  }
  // Not counted in the stats as a hit or a miss: a copy is not a lookup.
  // (The store still touches the entry, as it does for every read.)
  auto hit = context.reader.get(tenant, key, info->layer, now, false);
  if (!hit) {
    return nullptr;
  }
  Json meta = nullptr;
  if (!info->meta.empty()) {
    meta = Json::parse(info->meta, nullptr, false);
  }
  Json ttl = nullptr;
  if (info->expires_ms != 0) {
    ttl = std::max<std::int64_t>(info->expires_ms - now, 1);
  }
  Json entry{{"key", key},   {"layer", info->layer},         {"ttl_ms", std::move(ttl)},
             {"tags", info->tags}, {"deps", export_deps(info->deps)}, {"meta", meta.is_discarded() ? Json() : meta},
             {"size", hit->value.size()}};
  values += hit->value;
  return entry;
}

} // namespace

protocol::ops::ExportReply
handle_export(Context& context, const protocol::ops::ExportRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const auto selector = listing_selector_of(request.pattern, request.layer, request.tags, context.settings);
  const auto limit = page_limit_of(request.limit, k_export_default_page, k_export_max_page);
  const std::int64_t now = store::now_ms();
  auto page = context.reader.keys(tenant, selector, request.after.value_or(""), limit, now);
  protocol::ops::ExportReply reply;
  reply.next = page.next_after;
  for (const auto& key : page.keys) {
    auto entry = export_entry(context, tenant, key, now, reply.value);
    if (!entry.is_null()) {
      reply.entries.push_back(std::move(entry));
    }
    if (reply.value.size() >= k_export_page_bytes && &key != &page.keys.back()) {
      reply.next = key;
      break;
    }
  }
  return reply;
}

} // namespace omnicache::daemon
