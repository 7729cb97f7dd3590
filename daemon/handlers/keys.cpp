#include "daemon/handlers/typed.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::int64_t k_default_page = 1000;
constexpr std::int64_t k_max_page = 10000;

// What `keys -l` shows of one entry, read here so that a long listing is one
// round trip per page rather than an inspect per key. The question is the
// text a semantic entry was embedded under: for a response, its prompt.
Json
keys_summary(Context& context, const std::string& tenant, const std::string& key, std::int64_t now)
{
  const auto info = context.reader.inspect(tenant, key, now);
  if (!info) {
    return {{"key", key}, {"found", false}};
  }
  Json meta = info->meta.empty() ? Json(nullptr) : Json::parse(info->meta, nullptr, false);
  Json out{{"key", key},
           {"found", true},
           {"layer", info->layer},
           {"raw_size", info->raw_size},
           {"ttl_ms", info->expires_ms == 0 ? Json(nullptr) : Json(std::max<std::int64_t>(1, info->expires_ms - now))},
           {"hits", info->hits},
           {"meta", meta.is_discarded() ? Json(nullptr) : std::move(meta)}};
  if (const auto vector = context.reader.vector_of(info->id)) {
    out["question"] = vector->text;
  }
  return out;
}

} // namespace

protocol::ops::KeysReply
handle_keys(Context& context, const protocol::ops::KeysRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const auto selector = listing_selector_of(request.pattern, request.layer, request.tags, context.settings);
  const auto limit = page_limit_of(request.limit, k_default_page, k_max_page);
  const std::int64_t now = store::now_ms();
  auto page = context.reader.keys(tenant, selector, request.after.value_or(""), limit, now);
  protocol::ops::KeysReply reply;
  if (request.details) {
    reply.entries = Json::array();
    for (const auto& key : page.keys) {
      reply.entries->push_back(keys_summary(context, tenant, key, now));
    }
  }
  reply.keys = std::move(page.keys);
  reply.next = std::move(page.next_after);
  return reply;
}

} // namespace omnicache::daemon
