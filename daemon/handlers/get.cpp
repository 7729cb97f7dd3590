#include "daemon/handlers/typed.hpp"

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

protocol::ops::GetReply
handle_get(Context& context, const protocol::ops::GetRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const std::string& key = checked_key(request.key, context.settings);
  const std::string layer = checked_layer(request.layer, false);
  auto hit = context.reader.get(tenant, key, layer, store::now_ms());
  if (!hit) {
    return {};
  }
  return hit_of(context, tenant, std::move(*hit));
}

void
handle_get_tiered(Context& context, const protocol::ops::GetRequest& request, Done<protocol::ops::GetReply> done)
{
  if (context.shared.replication == nullptr) {
    done(handle_get(context, request));
    return;
  }
  std::string tenant = tenant_of(request.tenant);
  std::string key = checked_key(request.key, context.settings);
  std::string layer = checked_layer(request.layer, false);
  // A miss is counted once the shared tier has answered too.
  auto hit = context.reader.get(tenant, key, layer, store::now_ms(), false);
  if (hit) {
    context.shared.store.stats().count(tenant, hit->layer, store::Counter::hits);
    done(hit_of(context, tenant, std::move(*hit)));
    return;
  }
  auto held = std::make_shared<HeldContext>(context);
  look_in_shared_tier(context, tenant, std::move(key), std::move(layer),
                      [held, tenant, done = std::move(done)](std::optional<store::Hit> found, bool from_shared_tier) {
                        if (!found) {
                          done({});
                          return;
                        }
                        auto later = held->context();
                        done(hit_of(later, tenant, std::move(*found), from_shared_tier));
                      });
}

protocol::ops::ExistsReply
handle_exists(Context& context, const protocol::ops::ExistsRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const std::string& key = checked_key(request.key, context.settings);
  return {context.reader.exists(tenant, key, store::now_ms())};
}

protocol::ops::InspectReply
handle_inspect(Context& context, const protocol::ops::InspectRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const std::string& key = checked_key(request.key, context.settings);
  const std::int64_t now = store::now_ms();
  const auto info = context.reader.inspect(tenant, key, now);
  if (!info) {
    return {};
  }
  Json meta = nullptr;
  if (!info->meta.empty()) {
    meta = Json::parse(info->meta, nullptr, false);
  }
  Json entry{
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
  };
  // The text a semantic entry was embedded under: a response's prompt, a
  // run's --semantic-text.
  if (const auto vector = context.reader.vector_of(info->id)) {
    entry["question"] = vector->text;
  }
  return {true, std::move(entry)};
}

} // namespace omnicache::daemon
