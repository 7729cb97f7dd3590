#include "daemon/net/http.hpp"

#include "omnicache_version.hpp"
#include "protocol/error.hpp"
#include "protocol/units.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/core.h>
#include <openssl/ssl.h>

namespace omnicache::daemon::http {

namespace beast_http = boost::beast::http;
using boost::system::error_code;

namespace {

// What is wrong with a URL a setting gives.
protocol::Error
url_error(const std::string& message)
{
  return protocol::Error(protocol::ErrorCode::bad_request, message);
}

// An answer holds a vector of a few thousand numbers per text.
constexpr std::uint64_t k_max_body_bytes = 256u << 20;
constexpr std::uint32_t k_max_header_bytes = 64u << 10;

bool
is_port(std::string_view text)
{
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  const auto port = std::stoul(std::string(text));
  return port >= 1 && port <= 65535;
}

// The server closed a kept-alive connection before reading the request: it
// is worth one more try on a fresh connection.
bool
is_stale(const error_code& ec)
{
  return ec == beast_http::error::end_of_stream || ec == boost::asio::error::eof
         || ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe
         || ec == boost::asio::ssl::error::stream_truncated;
}

} // namespace

boost::asio::ssl::context
make_tls_context()
{
  boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
  context.set_default_verify_paths();
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  return context;
}

void
expect_peer(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, const std::string& host)
{
  error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  if (not_ip) { // SNI carries names only
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  }
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(host));
}

std::string
Url::authority() const
{
  const std::string name = host.find(':') == std::string::npos ? host : "[" + host + "]";
  const bool usual = port == (tls ? "443" : "80");
  return usual ? name : name + ":" + port;
}

Url
parse_url(std::string_view text)
{
  Url url;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
    url.port = "80";
  } else if (text.starts_with("https://")) {
    url.tls = true;
    rest = text.substr(8);
    url.port = "443";
  } else {
    throw url_error("it must start with http:// or https://");
  }
  const auto end = rest.find_first_of("/?#");
  const auto authority = rest.substr(0, end);
  auto path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.find_first_of("?#") != std::string_view::npos) {
    throw url_error("a query or fragment is not supported");
  }
  if (authority.find('@') != std::string_view::npos) {
    throw url_error("credentials in the URL are not supported (the API key comes from the environment)");
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      throw url_error("an IPv6 address lacks its closing ]");
    }
    url.host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      throw url_error("unexpected text after the IPv6 address");
    }
    port = after.empty() ? after : after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
  }
  if (url.host.empty()) {
    throw url_error("it names no host");
  }
  if (!port.empty() || authority.ends_with(':')) {
    if (!is_port(port)) {
      throw url_error(fmt::format("'{}' is not a port from 1 to 65535", port));
    }
    url.port = port;
  }
  while (path.ends_with('/')) {
    path.remove_suffix(1);
  }
  url.path = path;
  url.text = fmt::format("{}://{}{}", url.tls ? "https" : "http", authority, url.path);
  return url;
}

Client::Client(boost::asio::io_context& io, Url url)
  : m_io(io),
    m_url(std::move(url)),
    m_resolver(io),
    m_deadline(io)
{
  if (m_url.tls) {
    m_tls_context.emplace(make_tls_context());
  }
}

void
Client::post(std::string target, const Headers& headers, std::string body, std::chrono::milliseconds timeout,
             std::function<void(Result)> done)
{
  auto exchange = std::make_shared<Exchange>();
  auto& request = exchange->request;
  request.method(beast_http::verb::post);
  request.target(target);
  request.version(11);
  request.set(beast_http::field::host, m_url.authority());
  request.set(beast_http::field::user_agent, fmt::format("omnicached/{}", k_version));
  request.set(beast_http::field::content_type, "application/json");
  request.set(beast_http::field::accept, "application/json");
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  request.body() = std::move(body);
  request.prepare_payload();
  exchange->done = std::move(done);
  exchange->timeout = timeout;
  exchange->id = m_next_id++;
  m_current = exchange;

  m_deadline.expires_after(timeout);
  m_deadline.async_wait([this, id = exchange->id](const error_code& ec) {
    if (ec || !m_current || m_current->id != id) {
      return;
    }
    // Whatever is pending ends with operation_aborted, then fail() says why.
    m_current->timed_out = true;
    m_resolver.cancel();
    reset_connection();
  });
  if (m_connected) {
    exchange->reused = true;
    send(std::move(exchange));
  } else {
    connect(std::move(exchange));
  }
}

void
Client::close()
{
  m_resolver.cancel();
  reset_connection();
}

void
Client::connect(std::shared_ptr<Exchange> exchange)
{
  m_resolver.async_resolve(m_url.host, m_url.port, [this, exchange](const error_code& ec, Endpoints endpoints) {
    if (ec) {
      fail(exchange, fmt::format("resolving {}", m_url.host), ec);
      return;
    }
    open_to(std::move(endpoints), exchange);
  });
}

void
Client::open_to(Endpoints endpoints, std::shared_ptr<Exchange> exchange)
{
  m_buffer.clear();
  if (m_url.tls) {
    m_tls.emplace(m_io, *m_tls_context);
    expect_peer(*m_tls, m_url.host);
  } else {
    m_socket.emplace(m_io);
  }
  boost::asio::async_connect(socket(), endpoints, [this, exchange](const error_code& ec, const Tcp::endpoint&) {
    if (ec) {
      fail(exchange, fmt::format("connecting to {}", m_url.authority()), ec);
      return;
    }
    m_connected = true;
    if (m_url.tls) {
      handshake(exchange);
    } else {
      send(exchange);
    }
  });
}

void
Client::handshake(std::shared_ptr<Exchange> exchange)
{
  m_tls->async_handshake(boost::asio::ssl::stream_base::client, [this, exchange](const error_code& ec) {
    if (ec) {
      fail(exchange, "the TLS handshake", ec);
      return;
    }
    send(exchange);
  });
}

void
Client::send(std::shared_ptr<Exchange> exchange)
{
  exchange->parser.emplace();
  exchange->parser->body_limit(k_max_body_bytes);
  exchange->parser->header_limit(k_max_header_bytes);
  if (m_url.tls) {
    send_on(*m_tls, std::move(exchange));
  } else {
    send_on(*m_socket, std::move(exchange));
  }
}

template<typename Stream>
void
Client::send_on(Stream& stream, std::shared_ptr<Exchange> exchange)
{
  beast_http::async_write(stream, exchange->request, [this, &stream, exchange](const error_code& ec, std::size_t) {
    if (ec) {
      received(exchange, "sending the request", ec);
      return;
    }
    auto read = [this, exchange](const error_code& read_ec, std::size_t) {
      received(exchange, "reading the answer", read_ec);
    };
    beast_http::async_read(stream, m_buffer, *exchange->parser, std::move(read));
  });
}

void
Client::received(std::shared_ptr<Exchange> exchange, std::string_view what, const error_code& ec)
{
  if (ec) {
    if (exchange->reused && !exchange->timed_out && is_stale(ec)) {
      reset_connection();
      exchange->reused = false;
      connect(std::move(exchange));
      return;
    }
    fail(exchange, what, ec);
    return;
  }
  auto message = exchange->parser->release();
  if (!message.keep_alive()) {
    reset_connection();
  }
  Result result;
  result.response.status = message.result_int();
  result.response.reason = std::string(message.reason());
  result.response.body = std::move(message.body());
  finish(std::move(exchange), std::move(result));
}

void
Client::fail(std::shared_ptr<Exchange> exchange, std::string_view what, const error_code& ec)
{
  reset_connection();
  Result result;
  result.error = exchange->timed_out
                   ? fmt::format("no answer within {}", protocol::format_duration_ms(exchange->timeout.count()))
                   : fmt::format("{} failed: {}", what, ec.message());
  finish(std::move(exchange), std::move(result));
}

void
Client::finish(std::shared_ptr<Exchange> exchange, Result result)
{
  if (m_current == exchange) {
    m_current.reset();
    m_deadline.cancel();
  }
  if (auto done = std::move(exchange->done)) {
    exchange->done = nullptr;
    done(std::move(result));
  }
}

void
Client::reset_connection()
{
  error_code ignored;
  if (m_socket) {
    m_socket->close(ignored);
  }
  if (m_tls) {
    m_tls->next_layer().close(ignored);
  }
  m_connected = false;
}

Client::Tcp::socket&
Client::socket()
{
  return m_url.tls ? m_tls->next_layer() : *m_socket;
}

} // namespace omnicache::daemon::http
