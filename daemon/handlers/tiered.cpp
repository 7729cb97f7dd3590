// The shared tier seen from the handlers: lookups after a local miss.
// Committed changes reach it from the store (Server::open_shared_tier).
#include "daemon/handlers/handler.hpp"

#include <boost/asio/post.hpp>

namespace omnicache::daemon {

void
look_in_shared_tier(Context& context, std::string tenant, std::string key, std::string layer,
                    std::function<void(std::optional<store::Hit>, bool from_shared_tier)> done)
{
  auto held = std::make_shared<HeldContext>(context);
  auto& tier = *context.shared.tier;
  // Counts the request once, as a hit or a miss, with what the local store holds now.
  auto look_again = [held, tenant, key, layer, done](bool copied) {
    done(held->reader.get(tenant, key, layer, store::now_ms()), copied);
  };
  tier.lookup(tenant, key, layer, context.connection->executor,
              [held, tenant, key, look_again = std::move(look_again), &tier](std::optional<tier::SharedEntry> found) {
                if (!found || !held->connection->open) {
                  look_again(false);
                  return;
                }
                store::EntryWrite entry;
                entry.tenant = tenant;
                entry.layer = std::move(found->layer);
                entry.key = key;
                entry.value = std::move(found->value);
                const std::int64_t expires_ms = found->expires_ms;
                entry.tags = std::move(found->tags);
                entry.deps = std::move(found->deps);
                entry.meta = std::move(found->meta);
                const std::uint64_t generation = found->generation;
                auto copied = std::make_shared<bool>(false);
                held->shared.store.submit(store::WriteJob{
                  [entry = std::move(entry), expires_ms, generation, copied, &tier](store::Writer& writer) mutable {
                    // An invalidation that arrived since the lookup may concern this entry; and one
                    // written under another version of a dependency is stale here (or this daemon is).
                    const auto now = store::now_ms();
                    if (tier.generation() != generation || !writer.dependencies_current(entry)
                        || writer.exists(entry.tenant, entry.key, now)) { // a fill never overwrites
                      return;
                    }
                    // The copy never outlives the entry in Redis.
                    entry.ttl_ms = expires_ms == 0 ? 0 : expires_ms - now;
                    if (expires_ms != 0 && entry.ttl_ms <= 0) {
                      return;
                    }
                    writer.set(entry, now);
                    *copied = true;
                  },
                  [held, copied, look_again](std::exception_ptr) {
                    boost::asio::post(held->connection->executor, [look_again, copied] { look_again(*copied); });
                  },
                });
              });
}

} // namespace omnicache::daemon
