// get_or_lease and release: one client computes a missing value while the
// others wait for it (stampede protection for `omnicache run` and any client).
#include "daemon/handlers/typed.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/core.h>

#include <atomic>
#include <memory>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::int64_t k_default_lease_ms = 10 * 60 * 1000;
constexpr std::int64_t k_default_wait_ms = 10 * 60 * 1000;
constexpr std::int64_t k_max_ms = 7 * 24 * 3600 * 1000LL;

std::int64_t
duration_field(std::optional<std::int64_t> given, const char* field, std::int64_t fallback)
{
  const auto value = given.value_or(fallback);
  if (value < 1 || value > k_max_ms) {
    throw Error(ErrorCode::bad_request, fmt::format("field '{}' must be from 1 to {}, got {}", field, k_max_ms, value));
  }
  return value;
}

// One waiting request. Lives on its connection's thread: every step (the
// first try, a wake-up, a timer) runs there, so no step races another.
class Wait : public std::enable_shared_from_this<Wait>
{
public:
  Wait(Context& context, const protocol::ops::GetOrLeaseRequest& request, Done<protocol::ops::GetOrLeaseReply> done)
    : m_shared(context.shared),
      m_reader(context.reader),
      m_settings(std::make_shared<protocol::Settings>(context.settings)),
      m_connection(context.connection),
      m_tenant(tenant_of(request.tenant)),
      m_key(checked_key(request.key, context.settings)),
      m_layer(checked_layer(request.layer, false)),
      m_lease_ms(duration_field(request.lease_ms, "lease_ms", k_default_lease_ms)),
      m_deadline(LeaseTable::Clock::now()
                 + std::chrono::milliseconds(duration_field(request.wait_ms, "wait_ms", k_default_wait_ms))),
      m_timer(context.connection->executor),
      m_done(std::move(done))
  {
    static std::atomic<std::uint64_t> s_next_waiter{1};
    m_waiter = s_next_waiter.fetch_add(1);
  }

  void attempt()
  {
    if (m_finished || !m_connection->open) {
      return;
    }
    // Only the first look counts (as a hit or a miss); a waiter's later
    // looks are not new lookups. With a shared tier, a miss is counted once
    // Redis has answered too.
    const bool first = m_tries++ == 0;
    auto hit = m_reader.get(m_tenant, m_key, m_layer, store::now_ms(), first && m_shared.replication == nullptr);
    Context context{m_shared, m_reader, *m_settings, m_connection};
    if (hit) {
      if (first && m_shared.replication != nullptr) {
        m_shared.store.stats().count(m_tenant, hit->layer, store::Counter::hits);
      }
      served(context, std::move(*hit), false);
      return;
    }
    if (first && m_shared.replication != nullptr) {
      look_in_shared_tier(context, m_tenant, m_key, m_layer,
                          [self = shared_from_this()](std::optional<store::Hit> found, bool from_shared_tier) {
                            if (self->m_finished || !self->m_connection->open) {
                              return;
                            }
                            if (!found) {
                              self->attempt(); // on to the lease
                              return;
                            }
                            Context later{self->m_shared, self->m_reader, *self->m_settings, self->m_connection};
                            self->served(later, std::move(*found), from_shared_tier);
                          });
      return;
    }
    const auto outcome = m_shared.leases.acquire(m_tenant, m_key, m_connection->id,
                                                 std::chrono::milliseconds(m_lease_ms), m_waiter, wake());
    if (outcome.granted) {
      protocol::ops::GetOrLeaseReply reply;
      reply.lease = true;
      reply.lease_ms = m_lease_ms;
      reply.waited = m_waited;
      finish(std::move(reply));
      return;
    }
    if (LeaseTable::Clock::now() >= m_deadline) {
      m_shared.leases.cancel_wait(m_tenant, m_key, m_waiter);
      protocol::ops::GetOrLeaseReply reply;
      reply.lease = false;
      reply.waited = true;
      reply.timed_out = true;
      finish(std::move(reply));
      return;
    }
    m_waited = true;
    // Wake up at the deadline, or when the holder's lease lapses, whichever
    // comes first; a set or a release wakes us sooner.
    m_timer.expires_at(std::min(m_deadline, outcome.expires + std::chrono::milliseconds(1)));
    m_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        self->attempt();
      }
    });
  }

private:
  LeaseTable::Wake wake()
  {
    return [weak = weak_from_this(), executor = m_connection->executor] {
      boost::asio::post(executor, [weak] {
        if (auto self = weak.lock()) {
          self->m_timer.cancel();
          self->attempt();
        }
      });
    };
  }

  void served(Context& context, store::Hit hit, bool from_shared_tier)
  {
    auto hit_reply = hit_of(context, m_tenant, std::move(hit), from_shared_tier);
    protocol::ops::GetOrLeaseReply reply;
    reply.found = true;
    reply.waited = m_waited;
    reply.layer = std::move(hit_reply.layer);
    reply.expires_ms = hit_reply.expires_ms;
    reply.meta = std::move(hit_reply.meta);
    reply.tier = std::move(hit_reply.tier);
    reply.value = std::move(hit_reply.value);
    finish(std::move(reply));
  }

  void finish(protocol::ops::GetOrLeaseReply reply)
  {
    m_finished = true;
    m_timer.cancel();
    m_done(std::move(reply));
  }

  Shared& m_shared;
  store::Reader& m_reader;
  std::shared_ptr<const protocol::Settings> m_settings;
  std::shared_ptr<Connection> m_connection;
  std::string m_tenant;
  std::string m_key;
  std::string m_layer;
  std::int64_t m_lease_ms;
  LeaseTable::Clock::time_point m_deadline;
  boost::asio::steady_timer m_timer;
  Done<protocol::ops::GetOrLeaseReply> m_done;
  std::uint64_t m_waiter = 0;
  unsigned m_tries = 0;
  bool m_waited = false;
  bool m_finished = false;
};

} // namespace

void
handle_get_or_lease(Context& context, const protocol::ops::GetOrLeaseRequest& request,
                    Done<protocol::ops::GetOrLeaseReply> done)
{
  auto wait = std::make_shared<Wait>(context, request, std::move(done));
  wait->attempt();
}

protocol::ops::ReleaseReply
handle_release(Context& context, const protocol::ops::ReleaseRequest& request)
{
  return {context.shared.leases.release(tenant_of(request.tenant), checked_key(request.key, context.settings),
                                        context.connection->id)};
}

} // namespace omnicache::daemon
