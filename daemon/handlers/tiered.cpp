// The shared tier seen from the handlers: lookups after a local miss.
// Committed changes reach it from the store (Server::open_shared_tier).
#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

void
look_in_shared_tier(Context& context, std::string tenant, std::string key, std::string layer,
                    std::function<void(std::optional<store::Hit>, bool from_shared_tier)> done)
{
  auto held = std::make_shared<HeldContext>(context);
  // Counts the request once, as a hit or a miss, with what the local store holds now.
  context.shared.replication->fill(tenant, key, layer, context.connection->executor,
                                   [held, tenant, key, layer, done = std::move(done)](bool copied) {
                                     done(held->reader.get(tenant, key, layer, store::now_ms()), copied);
                                   });
}

} // namespace omnicache::daemon
