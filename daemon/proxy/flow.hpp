#pragma once

#include "daemon/handlers/typed.hpp"
#include "daemon/proxy/exchange.hpp"
#include "daemon/proxy/provider.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The parts of an exchange that the cached endpoints share (exchange.cpp),
// and the endpoints themselves (cached.cpp, embeddings.cpp).
namespace omnicache::daemon::proxy {

// What the request's X-Omnicache-* and Cache-Control headers ask.
struct Controls
{
  bool lookup = true; // Cache-Control: no-cache or no-store turn it off
  bool store = true;  // Cache-Control: no-store turns it off
  std::optional<std::int64_t> ttl_ms;
  std::vector<std::string> tags;
  std::vector<std::string> deps;
  std::optional<bool> semantic;
  std::optional<double> threshold;
};

// An upstream answer read whole.
struct Fetched
{
  std::string error; // empty: `head` and `body` hold the answer, whatever its status
  bool timed_out = false;
  UpstreamHead head;
  std::string body;
  std::chrono::nanoseconds to_head{0};
};

class Exchange : public std::enable_shared_from_this<Exchange>
{
public:
  Exchange(ThreadState& state, HttpRequest request, std::shared_ptr<Responder> responder);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  void run();

  ThreadState& state() { return m_state; }
  const HttpRequest& request() const { return m_request; }
  const protocol::Settings& settings() const { return m_config->settings(); }
  const std::string& tenant() const { return m_tenant; }
  const Controls& controls() const { return m_controls; }
  Api api() const { return m_api; }
  bool gone() const { return m_responder->gone(); }
  // For the handlers: this thread's reader, the settings of this request, and
  // a connection of its own, so that a lease it takes is its own.
  Context context() { return Context{m_state.shared, *m_state.worker.reader, settings(), m_connection}; }
  protocol::Json with_tenant(protocol::Json fields) const;

  // The X-Omnicache headers every answer of a cached endpoint carries.
  void set_cache_headers(HttpResponse& response, std::string_view verdict, std::string_view key) const;
  void respond(HttpResponse response, Outcome outcome);
  void respond_json(unsigned status, std::string body, Outcome outcome);
  // An error of our own, in the provider's shape.
  void fail(unsigned status, std::string_view type, std::string_view code, std::string_view message,
            Outcome outcome = Outcome::error);
  Responder& responder() { return *m_responder; }
  // Records the request in the metrics; once.
  void finish(Outcome outcome);

  // Upstream calls. `body` replaces the request's body (embeddings send
  // fewer inputs); the method, target and end-to-end headers are the client's.
  void fetch(std::string body, std::function<void(Fetched)> done);
  // Passes the upstream's answer to the client as it arrives. `tap` sees the
  // body bytes; `done` is told whether it all arrived, and the status, and
  // must call `close` (which ends the client's body) once it has done what
  // must precede that.
  // `filter`, when given, decides what of the body the client gets (called
  // with `end` true once more at the end, to flush what it held back).
  using StreamDone = std::function<void(bool complete, unsigned status, std::function<void()> close)>;
  using Filter = std::function<std::string(std::string_view bytes, bool end)>;
  void pass_through(std::string body, std::string_view verdict, std::string_view key,
                    std::function<void(std::string_view)> tap, Filter filter, StreamDone done, Outcome outcome);
  // Answers an upstream failure (no head): 502, or 504 when it timed out.
  void upstream_failed(const std::string& error, bool timed_out);

private:
  bool authorize();
  bool read_controls();
  http::Headers upstream_headers() const;
  Upstream& upstream();
  void forward();

  ThreadState& m_state;
  Shared& m_shared; // outlives the thread state, which the destructor must not touch
  HttpRequest m_request;
  std::shared_ptr<Responder> m_responder;
  std::shared_ptr<const protocol::Config> m_config;
  std::shared_ptr<Connection> m_connection;
  std::chrono::steady_clock::time_point m_started;
  std::string m_tenant;
  Controls m_controls;
  Api m_api = Api::chat;
  Endpoint m_endpoint = Endpoint::other;
  bool m_cached_endpoint = false;
  bool m_finished = false;
  bool m_local_token = false; // the client authenticated with a [proxy.tokens] token
  std::shared_ptr<UpstreamCall> m_call;
};

// The cached endpoints.
void serve_response(std::shared_ptr<Exchange> exchange, CacheRequest request);
void serve_embeddings(std::shared_ptr<Exchange> exchange, EmbeddingsRequest request);

// A request to a handler of the daemon, as a client would send it.
protocol::Request handler_request(std::string_view op, protocol::Json fields);

} // namespace omnicache::daemon::proxy
