#include "daemon/proxy/upstream.hpp"

#include "daemon/proxy/upstream_detail.hpp"

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;

using upstream_detail::CallState;
using upstream_detail::iequals;
using upstream_detail::Request;
using upstream_detail::State;

struct Upstream::Impl
{
  std::shared_ptr<State> state;
};

Upstream::Upstream(boost::asio::io_context& io, std::string_view base_url)
  : m_impl(std::make_unique<Impl>())
{
  m_impl->state = std::make_shared<State>(io, http::parse_url(base_url));
  if (m_impl->state->url.tls) {
    m_impl->state->tls_context.emplace(http::make_tls_context());
  }
}

Upstream::~Upstream()
{
  auto& state = *m_impl->state;
  state.closed = true;
  const std::vector<CallState*> live(state.live.begin(), state.live.end());
  for (auto* exchange : live) {
    exchange->cancel();
  }
  state.idle.clear();
}

const http::Url&
Upstream::url() const
{
  return m_impl->state->url;
}

std::shared_ptr<UpstreamCall>
Upstream::send(boost::beast::http::verb method, std::string target, http::Headers headers, std::string body,
               std::chrono::milliseconds timeout, UpstreamHandlers handlers)
{
  const auto& url = m_impl->state->url;
  Request request(method, upstream_target(url, target), 11);
  request.set(beast_http::field::host, url.authority());
  for (auto& [name, value] : headers) {
    if (!iequals(name, "Host") && !iequals(name, "Content-Length") && !iequals(name, "Transfer-Encoding")) {
      request.insert(name, value);
    }
  }
  request.body() = std::move(body);
  request.prepare_payload();
  auto exchange = std::make_shared<CallState>(m_impl->state, std::move(request), timeout, std::move(handlers));
  exchange->start();
  return exchange;
}

std::size_t
Upstream::open_connections() const
{
  return m_impl->state->open;
}

std::string
upstream_target(const http::Url& url, std::string_view target)
{
  const bool versioned = target == "/v1" || target.starts_with("/v1/") || target.starts_with("/v1?");
  if (url.path.ends_with("/v1") && versioned) {
    target.remove_prefix(3);
  }
  auto full = url.path + std::string(target);
  if (full.empty() || full.front() == '?') {
    full.insert(0, "/");
  }
  return full;
}

} // namespace omnicache::daemon::proxy
