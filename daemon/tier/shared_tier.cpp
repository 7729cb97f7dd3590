#include "daemon/tier/shared_tier.hpp"

#include "daemon/net/http.hpp"
#include "daemon/tier/follower.hpp"
#include "daemon/tier/keys.hpp"
#include "daemon/tier/link.hpp"
#include "daemon/tier/outbox.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/core.h>
#include <openssl/rand.h>

#include <deque>
#include <filesystem>

namespace omnicache::daemon::tier {

namespace {

// Writes sent to Redis before their replies come back.
constexpr std::size_t k_window = 64;
// How long an invalidation script may run in Redis: pattern invalidations and
// flushes scan the keyspace. Sent again after a timeout, it would start over.
constexpr std::chrono::seconds k_script_deadline{60};

// Error replies that say "not now" (a busy script, a failover, a full
// memory), after which the same write can succeed.
bool
transient(const RedisReply& reply)
{
  constexpr std::string_view k_not_now[] = {"BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN", "READONLY", "OOM",
                                            "CLUSTERDOWN"};
  for (const auto prefix : k_not_now) {
    if (reply.text.starts_with(prefix)) {
      return true;
    }
  }
  return false;
}

std::string
origin_word()
{
  std::uint64_t value = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value);
  return fmt::format("{:016x}", value);
}

} // namespace

class SharedTier::Impl
{
public:
  Impl(SharedTier& tier, std::function<void(const Invalidation&)> apply,
       std::function<void(std::function<void()>)> after_applied)
    : m_tier(tier),
      m_options(tier.m_options),
      m_counters(tier.m_counters),
      m_keys(m_options.prefix),
      m_tls(m_options.url.tls ? std::optional(http::make_tls_context()) : std::nullopt),
      m_reads(m_io, m_options.url, tls(), m_options.connect_timeout,
              {[this] { reads_up(); }, [this](const std::string& why) { reads_down(why); }}),
      m_writes(m_io, m_options.url, tls(), m_options.connect_timeout,
               {[this] { drain(); }, [this](const std::string&) { m_in_flight = 0; }}),
      m_left(read_outbox()),
      m_origin(m_left && !m_left->origin.empty() ? m_left->origin : origin_word()),
      m_follower(m_io, m_options, tls(), m_keys, m_origin, m_counters, tier.m_generation, std::move(apply),
                 [&tier, after_applied = std::move(after_applied)] {
                   after_applied([&tier] {
                     const std::lock_guard lock(tier.m_settled_mutex);
                     tier.m_settled = true;
                     tier.m_settled_changed.notify_all();
                   });
                 }),
      m_stop_timer(m_io)
  {
  }

  void start()
  {
    queue_left_over(); // before anything else is queued: what the last run left goes first
    m_reads.start();
    m_writes.start();
    m_follower.start();
    m_thread = std::thread([this] { m_io.run(); });
  }

  void stop(std::chrono::milliseconds drain)
  {
    m_stopping = true;
    if (!m_thread.joinable()) {
      return;
    }
    boost::asio::post(m_io, [this, deadline = std::chrono::steady_clock::now() + drain] { finish(deadline); });
    m_thread.join();
    // What was posted meanwhile (lookups that answer by posting to their
    // connection's loop) runs now, while those loops still exist.
    m_io.restart();
    m_io.poll();
  }

  void lookup(std::string tenant, std::string key, std::string layer, boost::asio::any_io_executor executor,
              std::function<void(std::optional<SharedEntry>)> done)
  {
    if (m_stopping) { // the tier's thread is gone or going: nothing would answer
      boost::asio::post(executor, [done = std::move(done)] { done(std::nullopt); });
      return;
    }
    auto command = m_keys.lookup(tenant, key);
    boost::asio::post(m_io, [this, command = std::move(command), layer = std::move(layer),
                             executor = std::move(executor), done = std::move(done)]() mutable {
      auto answer = [executor, done = std::move(done)](std::optional<SharedEntry> entry) mutable {
        boost::asio::post(executor, [done = std::move(done), entry = std::move(entry)]() mutable {
          done(std::move(entry));
        });
      };
      auto* redis = m_reads.ready();
      if (redis == nullptr) {
        ++m_counters[TierCounter::l2_errors];
        answer(std::nullopt);
        return;
      }
      if (m_own_invalidations > 0) {
        // Redis may still hold what this daemon removed: reading it back
        // would undo the removal here.
        ++m_counters[TierCounter::l2_misses];
        answer(std::nullopt);
        return;
      }
      const std::uint64_t generation = m_tier.generation();
      const std::int64_t sent_ms = store::now_ms();
      redis->send(command, m_options.timeout,
                  [this, layer = std::move(layer), generation, sent_ms,
                   answer = std::move(answer)](const std::string& error, const RedisReply& reply) mutable {
                    if (!error.empty() || reply.is_error()) {
                      ++m_counters[TierCounter::l2_errors];
                      answer(std::nullopt);
                      return;
                    }
                    auto entry = parse_lookup(reply, sent_ms);
                    if (!entry || (!layer.empty() && entry->layer != layer) || generation != m_tier.generation()) {
                      ++m_counters[TierCounter::l2_misses];
                      answer(std::nullopt);
                      return;
                    }
                    entry->generation = generation;
                    answer(std::move(entry));
                  });
    });
  }

  void queue(std::vector<RedisCommand> commands, bool invalidation, std::int64_t expires_ms = 0,
             std::string entry_key = {}, bool own_removal = false)
  {
    boost::asio::post(m_io, [this, commands = std::move(commands), invalidation, expires_ms,
                             entry_key = std::move(entry_key), own_removal]() mutable {
      if (m_queue.size() >= m_options.queue_limit) {
        drop_oldest_write();
      }
      m_queue.push_back({std::move(commands), invalidation, false, expires_ms, std::move(entry_key), own_removal});
      m_counters[TierCounter::queued] = m_queue.size();
      drain();
    });
  }

  void mirror(const store::EntryWrite& entry, std::int64_t written_ms)
  {
    // The TTL Redis gets is what is left when the write is sent, which may be
    // long after the commit while Redis is down.
    const std::int64_t expires_ms = entry.ttl_ms == 0 ? 0 : written_ms + entry.ttl_ms;
    queue({m_keys.set(entry)}, false, expires_ms, m_keys.entry(entry.tenant, entry.key));
  }
  // Runs right after the removal's commit, before its reply: from then on no
  // copy from Redis started earlier is written, and no lookup reads Redis
  // until Redis has the removal too.
  void publish(const Invalidation& change)
  {
    ++m_own_invalidations;
    ++m_tier.m_generation;
    queue(m_keys.invalidate(change, m_origin, m_options.log_length), true, 0, {}, true);
  }

  // After an overwrite: the other daemons drop their copies once Redis has
  // the new value (the record follows the mirrored set in the queue).
  void announce_overwrite(const std::string& tenant, const std::string& key)
  {
    Invalidation change;
    change.tenant = tenant;
    change.keys = {key};
    queue({m_keys.log_record(change, m_origin, m_options.log_length)}, true);
  }

private:
  struct Pending
  {
    std::vector<RedisCommand> commands;
    bool invalidation = false;
    bool sent = false;
    std::int64_t expires_ms = 0; // an entry's: when it expires (0: never)
    std::string entry_key;       // a set's: the entry's key in Redis
    bool own_removal = false;    // counted in m_own_invalidations
  };

  boost::asio::ssl::context* tls() { return m_tls ? &*m_tls : nullptr; }

  // What the last run could not send, if it was left for this prefix. A file
  // that cannot be read is set aside (a warning names it) and the daemon
  // starts without it.
  std::optional<Outbox> read_outbox()
  {
    const auto& path = m_options.outbox_file;
    if (path.empty()) {
      return std::nullopt;
    }
    std::optional<Outbox> outbox;
    try {
      outbox = load_outbox(path);
    } catch (const OutboxError& e) {
      std::error_code ec;
      std::filesystem::rename(path, path + ".broken", ec);
      m_options.warn(fmt::format("shared tier: {}; {}", e.what(),
                                 ec ? fmt::format("it could not be set aside ({}) and is ignored", ec.message())
                                    : fmt::format("set aside as {}.broken, not sent", path)));
      return std::nullopt;
    }
    if (outbox && outbox->prefix != m_options.prefix) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      m_options.warn(fmt::format("shared tier: {} was left for prefix '{}', and tier.redis.prefix is now '{}': "
                                 "not sent, removed",
                                 path, outbox->prefix, m_options.prefix));
      return std::nullopt;
    }
    return outbox;
  }

  // Queues what the last run left, ahead of anything new. The file stays
  // until Redis has acknowledged all of it, so that a crash meanwhile does
  // not lose it (an item sent twice does no harm: removals, deletes and log
  // records repeat safely).
  void queue_left_over()
  {
    if (!m_left) {
      return;
    }
    auto items = std::move(m_left->items);
    m_left.reset();
    if (items.empty()) {
      std::error_code ec;
      std::filesystem::remove(m_options.outbox_file, ec);
      return;
    }
    for (auto& item : items) {
      if (item.own_removal) {
        ++m_own_invalidations; // until Redis has it, lookups here miss
      }
      m_queue.push_back({std::move(item.commands), item.invalidation, false, 0, {}, item.own_removal});
    }
    m_replayed = items.size();
    m_counters[TierCounter::queued] = m_queue.size();
    m_options.info(fmt::format("shared tier: {} writes and invalidations left by the last run are queued for Redis",
                               items.size()));
  }

  // At stop: whatever Redis has not acknowledged goes to the outbox file. A
  // write keeps only a delete of its key: sent later, its value could land
  // after another daemon's removal, while a delete only costs a miss.
  void save_outbox()
  {
    const auto& path = m_options.outbox_file;
    if (path.empty()) {
      return;
    }
    Outbox outbox{m_options.prefix, m_origin, {}};
    outbox.items.reserve(m_queue.size());
    for (auto& pending : m_queue) {
      if (!pending.entry_key.empty()) {
        forget_value(pending);
      }
      outbox.items.push_back({pending.commands, pending.invalidation, pending.own_removal});
    }
    try {
      tier::save_outbox(path, outbox);
      m_options.warn(fmt::format("shared tier: {} writes and invalidations did not reach Redis before stopping; "
                                 "kept in {} for the next start",
                                 outbox.items.size(), path));
    } catch (const std::exception& e) {
      m_options.warn(fmt::format("shared tier: {} writes and invalidations did not reach Redis before stopping and "
                                 "are lost: {}",
                                 outbox.items.size(), e.what()));
    }
  }

  void reads_up()
  {
    m_counters.connected = true;
    m_warned_unreachable = false;
    m_options.info(fmt::format("shared tier: connected to {}", m_options.shown_url));
  }

  void reads_down(const std::string& why)
  {
    if (m_counters.connected.exchange(false)) {
      ++m_counters[TierCounter::outages];
      m_warned_unreachable = true; // said once per outage
      m_options.warn(fmt::format("shared tier: lost {} ({}); serving from the local tier, reconnecting",
                                 m_options.shown_url, why));
    } else if (!m_warned_unreachable) {
      m_warned_unreachable = true;
      m_options.warn(fmt::format("shared tier: cannot reach {} ({}); serving from the local tier, retrying",
                                 m_options.shown_url, why));
    }
  }

  // A value that does not reach Redis only costs other daemons a miss, as
  // long as Redis does not keep an older value of the key instead: a dropped
  // write becomes a delete of its key. Invalidations are never dropped.
  void drop_oldest_write()
  {
    for (auto it = m_queue.begin() + static_cast<std::ptrdiff_t>(m_in_flight); it != m_queue.end(); ++it) {
      if (!it->invalidation && !it->entry_key.empty()) {
        forget_value(*it);
        ++m_counters[TierCounter::dropped];
        return;
      }
    }
  }

  static void forget_value(Pending& item)
  {
    item.commands = {{"DEL", item.entry_key}};
    item.entry_key.clear();
    item.expires_ms = 0;
  }

  void drain()
  {
    auto* redis = m_writes.ready();
    while (redis != nullptr && m_in_flight < m_queue.size() && m_in_flight < k_window) {
      auto& item = m_queue[m_in_flight];
      if (item.expires_ms != 0) {
        const std::int64_t left = item.expires_ms - store::now_ms();
        if (left <= 0) {
          forget_value(item); // expired while it waited; an older value must not stay either
        } else {
          auto& set = item.commands.front();
          set[set.size() - Keys::k_set_ttl_from_end] = std::to_string(left);
        }
      }
      ++m_in_flight;
      if (item.sent) {
        ++m_counters[TierCounter::retries];
      }
      item.sent = true;
      const auto deadline = item.invalidation ? std::chrono::milliseconds(k_script_deadline)
                                              : m_options.timeout + m_options.connect_timeout;
      for (std::size_t i = 0; i < item.commands.size(); ++i) {
        const bool last = i + 1 == item.commands.size();
        redis->send(item.commands[i], deadline, [this, last](const std::string& error, const RedisReply& reply) {
          if (!error.empty()) {
            return; // the link's down handler puts the item back in line
          }
          if (reply.is_error() && transient(reply)) {
            // Closing puts every unacknowledged write back in line, to be
            // sent again in order once the connection is made again.
            if (!std::exchange(m_warned_refusal, true)) {
              m_options.warn(fmt::format("shared tier: Redis cannot take writes now ({}); retrying", reply.text));
            }
            if (auto* connection = m_writes.ready()) {
              connection->close(reply.text);
            }
            return;
          }
          if (reply.is_error()) {
            // Retrying cannot help a command Redis refuses for good (scripts or streams off).
            m_options.warn(fmt::format("shared tier: Redis refused a write: {}", reply.text));
          }
          if (last) {
            acknowledged(reply.is_error());
          }
        });
      }
    }
  }

  void acknowledged(bool refused)
  {
    if (m_queue.empty() || m_in_flight == 0) {
      return;
    }
    const auto& item = m_queue.front();
    m_warned_refusal = refused && m_warned_refusal;
    if (item.own_removal) {
      --m_own_invalidations;
    }
    if (!refused && !item.entry_key.empty()) {
      ++m_counters[TierCounter::mirrored];
    } else if (!refused && item.invalidation) {
      ++m_counters[TierCounter::invalidations_sent];
    }
    m_queue.pop_front();
    --m_in_flight;
    m_counters[TierCounter::queued] = m_queue.size();
    if (m_replayed > 0 && --m_replayed == 0) {
      std::error_code ec;
      std::filesystem::remove(m_options.outbox_file, ec); // all of it is in Redis now
    }
    drain();
  }

  void finish(std::chrono::steady_clock::time_point deadline)
  {
    if (!m_queue.empty() && m_writes.ready() != nullptr && std::chrono::steady_clock::now() < deadline) {
      m_stop_timer.expires_after(std::chrono::milliseconds(10));
      m_stop_timer.async_wait([this, deadline](const boost::system::error_code&) { finish(deadline); });
      return;
    }
    if (!m_queue.empty()) {
      save_outbox();
    }
    m_follower.stop();
    m_reads.stop();
    m_writes.stop();
    m_io.stop();
  }

  SharedTier& m_tier;
  const TierOptions& m_options;
  TierCounters& m_counters;
  Keys m_keys;
  boost::asio::io_context m_io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work{m_io.get_executor()};
  std::optional<boost::asio::ssl::context> m_tls;
  Link m_reads;
  Link m_writes;
  // What the last run left in the outbox file, until start() queues it.
  std::optional<Outbox> m_left;
  // Names this daemon's records in the log, so that it skips its own. Kept
  // from the last run when it left records to send: the follower then skips
  // those too once they are in the log.
  std::string m_origin;
  Follower m_follower;
  boost::asio::steady_timer m_stop_timer;
  std::deque<Pending> m_queue;
  std::size_t m_in_flight = 0;
  // Items at the head of the queue that came from the outbox file.
  std::size_t m_replayed = 0;
  bool m_warned_unreachable = false;
  bool m_warned_refusal = false; // said once until a write gets through
  // Removals this daemon made that Redis has not acknowledged yet.
  std::atomic<std::uint64_t> m_own_invalidations{0};
  std::atomic<bool> m_stopping{false};
  std::thread m_thread;
};

SharedTier::SharedTier(TierOptions options, std::function<void(const Invalidation&)> apply,
                       std::function<void(std::function<void()>)> after_applied)
  : m_options(std::move(options)),
    m_impl(std::make_unique<Impl>(*this, std::move(apply), std::move(after_applied)))
{
}

bool
SharedTier::wait_until_settled(std::chrono::milliseconds limit)
{
  std::unique_lock lock(m_settled_mutex);
  return m_settled_changed.wait_for(lock, limit, [this] { return m_settled; });
}

SharedTier::~SharedTier()
{
  stop(std::chrono::milliseconds(0));
}

void
SharedTier::start()
{
  m_impl->start();
}

void
SharedTier::stop(std::chrono::milliseconds drain)
{
  m_impl->stop(drain);
}

void
SharedTier::lookup(std::string tenant, std::string key, std::string layer, boost::asio::any_io_executor executor,
                   std::function<void(std::optional<SharedEntry>)> done)
{
  m_impl->lookup(std::move(tenant), std::move(key), std::move(layer), std::move(executor), std::move(done));
}

void
SharedTier::mirror(const store::EntryWrite& entry, std::int64_t written_ms)
{
  m_impl->mirror(entry, written_ms);
}

void
SharedTier::publish(const Invalidation& change)
{
  m_impl->publish(change);
}

void
SharedTier::announce_overwrite(const std::string& tenant, const std::string& key)
{
  m_impl->announce_overwrite(tenant, key);
}

} // namespace omnicache::daemon::tier
