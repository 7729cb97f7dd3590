#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Json;

namespace {

Json
expiry(std::int64_t expires_ms)
{
  return expires_ms == 0 ? Json(nullptr) : Json(expires_ms);
}

Json
deps_json(const std::vector<store::Dependency>& deps)
{
  Json out = Json::array();
  for (const auto& dep : deps) {
    out.push_back({{"name", dep.name}, {"version", dep.version}});
  }
  return out;
}

} // namespace

protocol::Reply
handle_get(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const std::string key = key_of(request.header, context.settings);
  const std::string layer = layer_of(request.header, false);
  auto hit = context.reader.get(tenant, key, layer, store::now_ms());
  if (!hit) {
    return ok_reply(request, {{"found", false}});
  }
  return hit_reply(context, request, tenant, std::move(*hit));
}

protocol::Reply
handle_exists(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const std::string key = key_of(request.header, context.settings);
  return ok_reply(request, {{"found", context.reader.exists(tenant, key, store::now_ms())}});
}

protocol::Reply
handle_inspect(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const std::string key = key_of(request.header, context.settings);
  const std::int64_t now = store::now_ms();
  const auto info = context.reader.inspect(tenant, key, now);
  if (!info) {
    return ok_reply(request, {{"found", false}});
  }
  Json meta = nullptr;
  if (!info->meta.empty()) {
    meta = Json::parse(info->meta, nullptr, false);
  }
  return ok_reply(request, {{"found", true},
                            {"entry",
                             {
                               {"tenant", info->tenant},
                               {"layer", info->layer},
                               {"key", info->key},
                               {"raw_size", info->raw_size},
                               {"stored_size", info->stored_size},
                               {"compressed", info->compressed},
                               {"created_ms", info->created_ms},
                               {"expires_ms", expiry(info->expires_ms)},
                               {"ttl_ms", info->expires_ms == 0 ? Json(nullptr) : Json(info->expires_ms - now)},
                               {"access_ms", info->access_ms},
                               {"hits", info->hits},
                               {"tags", info->tags},
                               {"deps", deps_json(info->deps)},
                               {"meta", std::move(meta)},
                             }}});
}

} // namespace omnicache::daemon
