#include "daemon/proxy/server.hpp"

#include "daemon/log.hpp"
#include "daemon/proxy/session.hpp"
#include "protocol/error.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <fmt/core.h>

namespace omnicache::daemon::proxy {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;

namespace {

// "127.0.0.1:8411", "[::1]:8411", "localhost:8411" (config.cpp has checked the form).
std::pair<std::string, std::string>
split_host_port(const std::string& address)
{
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw protocol::Error(protocol::ErrorCode::config, fmt::format("proxy.listen '{}' is not HOST:PORT", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, address.substr(colon + 1)};
}

std::unique_ptr<Upstream>
make_upstream(asio::io_context& io, const std::string& url, std::string_view setting)
{
  try {
    return std::make_unique<Upstream>(io, url);
  } catch (const protocol::Error& e) {
    throw protocol::Error(protocol::ErrorCode::config, fmt::format("{} '{}': {}", setting, url, e.what()));
  }
}

} // namespace

ProxyServer::ProxyServer(Shared& shared, const std::vector<std::unique_ptr<Worker>>& workers,
                         const protocol::Settings& settings)
{
  for (const auto& worker : workers) {
    Thread thread;
    thread.state.reset(new ThreadState{shared, *worker, m_metrics,
                                       make_upstream(worker->io, settings.proxy_upstream, "proxy.upstream"),
                                       make_upstream(worker->io, settings.proxy_anthropic_upstream,
                                                     "proxy.anthropic_upstream")});
    m_threads.push_back(std::move(thread));
  }
}

ProxyServer::~ProxyServer() = default;

void
ProxyServer::close_upstreams()
{
  for (auto& thread : m_threads) {
    thread.state->openai.reset();
    thread.state->anthropic.reset();
  }
}

void
ProxyServer::listen(const std::string& address)
{
  auto& io = m_threads.front().state->worker.io;
  const auto [host, port] = split_host_port(address);
  Tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto endpoints = resolver.resolve(host, port, Tcp::resolver::passive | Tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    throw protocol::Error(protocol::ErrorCode::io,
                          fmt::format("cannot resolve proxy.listen '{}': {}", address, ec.message()));
  }
  const Tcp::endpoint endpoint = endpoints.begin()->endpoint();
  Tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw protocol::Error(protocol::ErrorCode::io,
                          fmt::format("cannot listen on proxy.listen '{}': {}", address, ec.message()));
  }
  const auto bound = acceptor.local_endpoint();
  m_address = bound.address().is_v6() ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                       : fmt::format("{}:{}", bound.address().to_string(), bound.port());
  if (!bound.address().is_loopback()) {
    log::warn("the proxy listens on {}, which is not a loopback address: whoever can reach it can use it "
              "unless [proxy.tokens] is set", m_address);
  }
  m_acceptor.emplace(std::move(acceptor));
}

void
ProxyServer::start()
{
  accept();
}

void
ProxyServer::accept()
{
  if (m_stopped || !m_acceptor) {
    return;
  }
  Thread& thread = m_threads[m_next];
  m_next = (m_next + 1) % m_threads.size();
  auto& io = thread.state->worker.io;
  m_acceptor->async_accept(io, [this, &thread](const boost::system::error_code& ec, Tcp::socket socket) {
    if (m_stopped) {
      return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      // Out of file descriptors and the like: try again shortly rather than spin.
      log::warn("proxy: accept failed: {}", ec.message());
      m_retry.emplace(m_threads.front().state->worker.io, std::chrono::milliseconds(100));
      m_retry->async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec) {
          accept();
        }
      });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(Tcp::no_delay(true), ignored);
    // The socket is bound to its thread's io_context; the session starts there.
    asio::post(thread.state->worker.io, [&thread, socket = std::move(socket)]() mutable {
      auto session = std::make_shared<HttpSession>(std::move(socket), *thread.state);
      std::erase_if(thread.sessions, [](const auto& weak) { return weak.expired(); });
      thread.sessions.push_back(session);
      session->start();
    });
    accept();
  });
}

void
ProxyServer::stop()
{
  m_stopped = true;
  boost::system::error_code ignored;
  if (m_acceptor) {
    m_acceptor->close(ignored);
  }
  if (m_retry) {
    m_retry->cancel();
  }
  for (auto& thread : m_threads) {
    asio::post(thread.state->worker.io, [&thread] {
      for (const auto& weak : thread.sessions) {
        if (auto session = weak.lock()) {
          session->drain();
        }
      }
    });
  }
}

} // namespace omnicache::daemon::proxy
