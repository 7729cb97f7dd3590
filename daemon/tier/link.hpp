#pragma once

#include "daemon/tier/redis.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace omnicache::daemon::tier {

// A connection to Redis that is kept up: made again after each failure,
// waiting 100 ms, then twice as long each time up to 5 s (reset once a
// connection works). Used on its io_context's thread only.
class Link
{
public:
  struct Handlers
  {
    std::function<void()> up;                    // a new connection is ready
    std::function<void(const std::string&)> down; // the connection failed (or could not be made)
  };

  Link(boost::asio::io_context& io, const protocol::RedisUrl& url, boost::asio::ssl::context* tls,
       std::chrono::milliseconds connect_timeout, Handlers handlers);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  void start();
  void stop();
  // The ready connection, or nullptr.
  RedisConnection* ready() const { return m_connection && m_connection->ready() ? m_connection.get() : nullptr; }

private:
  void attempt();
  void retry_later();

  boost::asio::io_context& m_io;
  const protocol::RedisUrl& m_url;
  boost::asio::ssl::context* m_tls;
  std::chrono::milliseconds m_connect_timeout;
  Handlers m_handlers;
  std::shared_ptr<RedisConnection> m_connection;
  boost::asio::steady_timer m_retry;
  std::chrono::milliseconds m_backoff;
  // Handlers of an old connection may still be queued when it is replaced.
  std::shared_ptr<bool> m_alive = std::make_shared<bool>(true); // expires with the Link
  bool m_stopped = false;
};

} // namespace omnicache::daemon::tier
