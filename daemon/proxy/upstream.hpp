#pragma once

#include "daemon/net/http.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

// The proxy's client to one upstream base URL (http or https): forwards a
// request and hands back the answer as it arrives, so a streamed answer can
// be passed on event by event. Keeps idle connections for reuse. One per
// serving thread and upstream; used on its io_context's thread only.
namespace omnicache::daemon::proxy {

struct UpstreamHead
{
  unsigned status = 0;
  std::string reason;
  http::Headers headers; // end-to-end headers only (no Connection, Transfer-Encoding, Content-Length, Keep-Alive)
};

struct UpstreamHandlers
{
  std::function<void(UpstreamHead)> head;       // once, before any data
  std::function<void(std::string_view)> data;   // body bytes (de-chunked) as they arrive
  // Once, last. `error` empty: the whole body arrived. Otherwise what went
  // wrong; `timed_out` when it was proxy.timeout; `before_head` when no head
  // had arrived (connect, TLS, send or head failure).
  std::function<void(std::string error, bool timed_out, bool before_head)> end;
};

// Cancels an exchange when the client went away: its handlers are not called
// again and its connection is closed.
class UpstreamCall
{
public:
  virtual ~UpstreamCall() = default;
  virtual void cancel() = 0;
};

class Upstream
{
public:
  // Throws protocol::Error (bad_request) for a bad URL.
  Upstream(boost::asio::io_context& io, std::string_view base_url);
  // Calls still in flight are cancelled: their handlers are not called. Destroy it before the io_context.
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const http::Url& url() const;

  // Sends `method target` (path and query as the client sent them; the base
  // URL's path is put in front, without repeating a leading /v1 the base
  // already ends in) with `headers` (the proxy has removed hop-by-hop ones;
  // Host and Content-Length are set here) and `body`. `timeout` bounds the
  // wait for the head and then each wait for more of the body (zero: no
  // bound). Handlers run on the io_context's thread. Several calls may be in
  // flight at once, each on its own connection; a kept connection is reused,
  // and a request the server dropped on one is sent once more on a new one.
  std::shared_ptr<UpstreamCall> send(boost::beast::http::verb method, std::string target, http::Headers headers,
                                     std::string body, std::chrono::milliseconds timeout, UpstreamHandlers handlers);

  // Connections open now (in use and idle), for /metrics.
  std::size_t open_connections() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// The full target for `target` on `url`: url.path + target, dropping the
// target's leading "/v1" when url.path ends in "/v1".
std::string upstream_target(const http::Url& url, std::string_view target);

} // namespace omnicache::daemon::proxy
