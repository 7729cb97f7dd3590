#include "daemon/handlers/handler.hpp"

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

protocol::Reply
handle_keys(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const auto selector = listing_selector_of(request.header, context.settings);
  const std::string after = protocol::optional_string(request.header, "after").value_or("");
  const auto limit = page_limit_of(request.header, k_default_page, k_max_page);
  const bool details = protocol::optional_bool(request.header, "details", false);
  const std::int64_t now = store::now_ms();
  auto page = context.reader.keys(tenant, selector, after, limit, now);
  Json entries = Json::array();
  if (details) {
    for (const auto& key : page.keys) {
      entries.push_back(keys_summary(context, tenant, key, now));
    }
  }
  auto reply = ok_reply(request, {{"keys", std::move(page.keys)}});
  if (details) {
    reply.header["entries"] = std::move(entries);
  }
  if (page.next_after) {
    reply.header["next"] = *page.next_after;
  }
  return reply;
}

} // namespace omnicache::daemon
