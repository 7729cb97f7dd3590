#include "daemon/tier/link.hpp"

namespace omnicache::daemon::tier {

namespace {

constexpr std::chrono::milliseconds k_first_backoff{100};
constexpr std::chrono::milliseconds k_max_backoff{5000};

} // namespace

Link::Link(boost::asio::io_context& io, const protocol::RedisUrl& url, boost::asio::ssl::context* tls,
           std::chrono::milliseconds connect_timeout, Handlers handlers)
  : m_io(io),
    m_url(url),
    m_tls(tls),
    m_connect_timeout(connect_timeout),
    m_handlers(std::move(handlers)),
    m_retry(io),
    m_backoff(k_first_backoff)
{
}

Link::~Link()
{
  stop();
}

void
Link::start()
{
  m_stopped = false;
  attempt();
}

void
Link::stop()
{
  m_stopped = true;
  m_retry.cancel();
  if (auto connection = std::exchange(m_connection, nullptr)) {
    connection->close("stopping");
  }
}

void
Link::attempt()
{
  if (m_stopped) {
    return;
  }
  auto connection = std::make_shared<RedisConnection>(m_io, m_url, m_tls);
  m_connection = connection;
  std::weak_ptr<bool> alive = m_alive;
  RedisConnection* raw = connection.get();
  connection->connect(
    m_connect_timeout,
    [this, alive, raw] {
      if (alive.expired() || m_connection.get() != raw) {
        return;
      }
      m_backoff = k_first_backoff;
      m_handlers.up();
    },
    [this, alive, raw](const std::string& why) {
      if (alive.expired() || m_stopped || m_connection.get() != raw) {
        return;
      }
      m_connection.reset();
      m_handlers.down(why);
      retry_later();
    });
}

void
Link::retry_later()
{
  m_retry.expires_after(m_backoff);
  m_backoff = std::min(m_backoff * 2, k_max_backoff);
  std::weak_ptr<bool> alive = m_alive;
  m_retry.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) {
      attempt();
    }
  });
}

} // namespace omnicache::daemon::tier
