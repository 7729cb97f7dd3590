#pragma once

#include "daemon/handlers/handler.hpp"
#include "daemon/proxy/prometheus.hpp"
#include "daemon/proxy/upstream.hpp"
#include "daemon/session.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <string>

// One HTTP request to the proxy, from routing to the last byte of its answer:
// the cache lookups, the upstream call and the store. Runs on the thread of
// the connection it came on.
namespace omnicache::daemon::proxy {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Where an answer goes: the client connection the request came on.
class Responder
{
public:
  virtual ~Responder() = default;
  // A complete answer (Content-Length is set here).
  virtual void respond(HttpResponse response) = 0;
  // Status and headers of an answer whose body follows in pieces.
  virtual void begin_stream(HttpResponse head) = 0;
  virtual void stream(std::string bytes) = 0;
  // `complete` false: the body is cut short and the connection closed, so
  // the client sees the stream break as the upstream's did.
  virtual void end_stream(bool complete) = 0;
  // The client has gone away; nothing more can reach it.
  virtual bool gone() const = 0;
};

// What the exchanges of one serving thread share.
struct ThreadState
{
  Shared& shared;
  Worker& worker;
  ProxyMetrics& metrics;
  // Closed before the serving threads' event loops are destroyed (their
  // sockets belong to those loops); nothing is served after that.
  std::unique_ptr<Upstream> openai;
  std::unique_ptr<Upstream> anthropic;
};

void serve(ThreadState& state, HttpRequest request, std::shared_ptr<Responder> responder);

} // namespace omnicache::daemon::proxy
