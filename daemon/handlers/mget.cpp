// mget: the values of several keys in one round trip, as redis MGET.
#include "daemon/handlers/handler.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

// As many keys as mset takes entries would make a reply of gigabytes; a
// caller with more sends several requests.
constexpr std::size_t k_max_mget_keys = 10000;

} // namespace

protocol::Reply
handle_mget(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const auto keys = keys_of(request.header, context.settings);
  if (keys.size() > k_max_mget_keys) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} keys in one mget is over the limit of {}", keys.size(), k_max_mget_keys));
  }
  const std::string layer = layer_of(request.header, false);
  // Looks in the local store only, as `get` does before the shared tier:
  // one lookup in Redis per missed key would be as many round trips.
  const std::int64_t now = store::now_ms();
  Json results = Json::array();
  std::string values;
  for (const auto& key : keys) {
    auto hit = context.reader.get(tenant, key, layer, now);
    if (!hit) {
      results.push_back({{"found", false}});
      continue;
    }
    // hit_reply counts what the hit saved, as get does.
    auto one = hit_reply(context, request, tenant, std::move(*hit));
    one.header["size"] = one.value.size();
    values += one.value;
    results.push_back(std::move(one.header));
  }
  auto reply = ok_reply(request, {{"results", std::move(results)}});
  reply.value = std::move(values);
  return reply;
}

} // namespace omnicache::daemon
