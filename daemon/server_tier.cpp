// The shared tier's part of the daemon: made from [tier.redis] when the URL is
// set, with the store as the place other daemons' invalidations are applied.
#include "daemon/server.hpp"

#include "daemon/log.hpp"
#include "protocol/redis_url.hpp"

#include <boost/asio/post.hpp>

#include <memory>
#include <optional>

namespace omnicache::daemon {

namespace {

// What this daemon's clients changed goes on to Redis and the other daemons,
// in commit order, before the replies; what came from there (or is kept for
// this daemon alone) does not. The tier queues it for its own thread.
store::CommitObserver
replicate_to(tier::SharedTier& tier)
{
  return [&tier](const store::Commit& commit) {
    for (const auto& change : commit.changes) {
      if (!change.origin.replicate) {
        continue;
      }
      switch (change.kind) {
      case store::Change::Kind::set:
      case store::Change::Kind::ttl:
        // Semantic indexes stay local: other daemons find the answer by its key.
        tier.mirror(*change.entry, change.written_ms);
        if (change.replaced) {
          tier.announce_overwrite(change.entry->tenant, change.entry->key);
        }
        break;
      case store::Change::Kind::removal:
        tier.publish(change.removal);
        break;
      }
    }
  };
}

// What the handlers may ask of the tier (daemon/replication.hpp).
class TierReplication final : public Replication
{
public:
  TierReplication(tier::SharedTier& tier, store::Store& store)
    : m_tier(tier),
      m_store(store)
  {
  }

  void fill(const std::string& tenant, const std::string& key, const std::string& layer,
            boost::asio::any_io_executor executor, std::function<void(bool copied)> done) override
  {
    m_tier.lookup(tenant, key, layer, executor,
                  [this, tenant, key, executor, done = std::move(done)](std::optional<tier::SharedEntry> found) {
                    if (!found) {
                      done(false);
                      return;
                    }
                    copy(tenant, key, std::move(*found), executor, std::move(done));
                  });
  }

  void count_hit(bool from_shared_tier) override
  {
    ++m_tier.counters()[from_shared_tier ? protocol::TierCounter::l2_hits : protocol::TierCounter::l1_hits];
  }

  protocol::Json figures() const override
  {
    const auto& counters = m_tier.counters();
    protocol::Json out = {
      {"enabled", true},
      {"url", m_tier.options().shown_url},
      {"connected", counters.connected.load()},
    };
    for (const auto& counter : protocol::k_tier_counters) {
      out[std::string(counter.name)] = counters.value(counter.id);
    }
    return out;
  }

private:
  // Writes the entry Redis had into the local store, unless the store has
  // moved on since the lookup; `done(copied)` on the connection's thread.
  void copy(const std::string& tenant, const std::string& key, tier::SharedEntry found,
            boost::asio::any_io_executor executor, std::function<void(bool)> done)
  {
    store::EntryWrite entry;
    entry.tenant = tenant;
    entry.layer = std::move(found.layer);
    entry.key = key;
    entry.value = std::move(found.value);
    entry.tags = std::move(found.tags);
    entry.deps = std::move(found.deps);
    entry.meta = std::move(found.meta);
    const std::int64_t expires_ms = found.expires_ms;
    const std::uint64_t generation = found.generation;
    auto copied = std::make_shared<bool>(false);
    m_store.submit(store::WriteJob{
      [entry = std::move(entry), expires_ms, generation, copied, &tier = m_tier](store::Writer& writer) mutable {
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
      [executor, copied, done = std::move(done)](std::exception_ptr) {
        boost::asio::post(executor, [copied, done] { done(*copied); });
      },
    });
  }

  tier::SharedTier& m_tier;
  store::Store& m_store;
};

} // namespace

void
Server::open_shared_tier()
{
  const auto& s = m_config->settings();
  if (s.redis_url.empty()) {
    return;
  }
  tier::TierOptions options;
  options.url = *protocol::parse_redis_url(s.redis_url); // checked when the config was read
  options.shown_url = protocol::mask_redis_url(s.redis_url);
  options.prefix = s.redis_prefix;
  options.connect_timeout = std::chrono::milliseconds(s.redis_connect_timeout_ms);
  options.timeout = std::chrono::milliseconds(s.redis_timeout_ms);
  options.queue_limit = s.redis_queue;
  options.log_length = s.redis_log_length;
  options.position_file = m_info.database + ".tier";
  options.outbox_file = m_info.database + ".tier-outbox";
  options.warn = [](const std::string& message) { log::warn("{}", message); };
  options.info = [](const std::string& message) { log::info("{}", message); };
  // Another daemon's invalidation: applied here like a local one, but not sent back.
  auto apply = [&store = *m_store](const tier::Invalidation& change) {
    store.submit(store::WriteJob{
      [change](store::Writer& writer) { writer.remove(change, store::now_ms()); },
      [](std::exception_ptr error) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            log::error("shared tier: an invalidation from another daemon failed here: {}", e.what());
          }
        }
      },
    });
  };
  // The writer commits jobs in order: once this one is done, so are the invalidations before it.
  auto after_applied = [&store = *m_store](std::function<void()> then) {
    store.submit(store::WriteJob{[](store::Writer&) {}, [then = std::move(then)](std::exception_ptr) { then(); }});
  };
  m_tier = std::make_unique<tier::SharedTier>(std::move(options), std::move(apply), std::move(after_applied));
  // Expire and persist send the whole entry again: the writer reads it back.
  m_store->observe(replicate_to(*m_tier), true);
  m_replication = std::make_unique<TierReplication>(*m_tier, *m_store);
}

} // namespace omnicache::daemon
