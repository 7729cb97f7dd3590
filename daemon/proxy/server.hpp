#pragma once

#include "daemon/front.hpp"
#include "daemon/proxy/exchange.hpp"
#include "daemon/proxy/prometheus.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

// The HTTP caching proxy's listener ([proxy] listen). Accepts on the first
// serving thread and spreads connections over all of them, like the Unix
// socket; each thread has its own upstream connections.
namespace omnicache::daemon::proxy {

class HttpSession;

class ProxyServer final : public Front
{
public:
  // Parses the upstream URLs; throws protocol::Error (config) naming the
  // setting for a bad one.
  ProxyServer(Shared& shared, const std::vector<std::unique_ptr<Worker>>& workers, const protocol::Settings& settings);
  ~ProxyServer() override;
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Binds proxy.listen. Throws protocol::Error saying why it cannot.
  void listen(const std::string& address);
  // HOST:PORT actually bound (the port chosen when proxy.listen asked for 0).
  const std::string& address() const override { return m_address; }
  void start() override;
  // Stops accepting and closes every connection once its answer is done.
  void stop() override;

  ProxyMetrics& metrics() { return m_metrics; }

  // Before the serving threads' event loops are destroyed: the upstream
  // connections belong to them. The proxy itself must outlive the loops,
  // whose pending work still refers to it.
  void close_upstreams() override;

private:
  struct Thread
  {
    std::unique_ptr<ThreadState> state;
    std::vector<std::weak_ptr<HttpSession>> sessions;
  };

  void accept();

  ProxyMetrics m_metrics;
  std::vector<Thread> m_threads;
  std::optional<boost::asio::ip::tcp::acceptor> m_acceptor;
  std::optional<boost::asio::steady_timer> m_retry;
  std::string m_address;
  std::size_t m_next = 0;
  bool m_stopped = false;
};

} // namespace omnicache::daemon::proxy
