// The shared tier's part of the daemon: made from [tier.redis] when the URL is
// set, with the store as the place other daemons' invalidations are applied.
#include "daemon/server.hpp"

#include "daemon/log.hpp"
#include "protocol/redis_url.hpp"

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
}

} // namespace omnicache::daemon
