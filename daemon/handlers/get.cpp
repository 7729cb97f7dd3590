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

void
handle_get_tiered(Context& context, const protocol::Request& request, Completion done)
{
  if (context.shared.tier == nullptr) {
    done(handle_get(context, request));
    return;
  }
  std::string tenant = tenant_of(request);
  std::string key = key_of(request.header, context.settings);
  std::string layer = layer_of(request.header, false);
  // A miss is counted once the shared tier has answered too.
  auto hit = context.reader.get(tenant, key, layer, store::now_ms(), false);
  if (hit) {
    context.shared.store.stats().count(tenant, hit->layer, store::Counter::hits);
    done(hit_reply(context, request, tenant, std::move(*hit)));
    return;
  }
  auto held = std::make_shared<HeldContext>(context);
  look_in_shared_tier(context, tenant, std::move(key), std::move(layer),
                      [held, request_id = request.id, tenant, done = std::move(done)](std::optional<store::Hit> found,
                                                                                      bool from_shared_tier) {
                        protocol::Request answering;
                        answering.id = request_id;
                        if (!found) {
                          done(ok_reply(answering, {{"found", false}}));
                          return;
                        }
                        auto later = held->context();
                        done(hit_reply(later, answering, tenant, std::move(*found), from_shared_tier));
                      });
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
  return ok_reply(request, {{"found", true}, {"entry", std::move(entry)}});
}

} // namespace omnicache::daemon
