// mget: the values of several keys in one round trip, as redis MGET.
#include "daemon/handlers/typed.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

namespace {

// As many keys as mset takes entries would make a reply of gigabytes; a
// caller with more sends several requests.
constexpr std::size_t k_max_mget_keys = 10000;

} // namespace

protocol::ops::MgetReply
handle_mget(Context& context, const protocol::ops::MgetRequest& request)
{
  const std::string tenant = tenant_of(request.tenant);
  const auto& keys = checked_keys(request.keys, context.settings);
  if (keys.size() > k_max_mget_keys) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} keys in one mget is over the limit of {}", keys.size(), k_max_mget_keys));
  }
  const std::string layer = checked_layer(request.layer, false);
  // Looks in the local store only, as `get` does before the shared tier:
  // one lookup in Redis per missed key would be as many round trips.
  const std::int64_t now = store::now_ms();
  protocol::ops::MgetReply reply;
  for (const auto& key : keys) {
    auto hit = context.reader.get(tenant, key, layer, now);
    if (!hit) {
      reply.results.push_back({{"found", false}});
      continue;
    }
    // hit_of counts what the hit saved, as get does.
    auto one = hit_of(context, tenant, std::move(*hit));
    auto fields = protocol::ops::to_reply_header(one);
    fields["size"] = one.value.size();
    reply.value += one.value;
    reply.results.push_back(std::move(fields));
  }
  return reply;
}

} // namespace omnicache::daemon
