#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A small HTTP/1.1 client for one endpoint: http:// or https:// (the peer's
// certificate checked against the system's store and the host name), one
// exchange at a time on a kept-alive connection, each bounded by a deadline.
namespace omnicache::daemon::http {

struct Url
{
  bool tls = false;
  std::string host; // without the brackets of an IPv6 address
  std::string port;
  std::string path; // without a trailing slash; may be empty
  std::string text; // as given, without a trailing slash

  // The Host header: host, and the port when it is not the scheme's own.
  std::string authority() const;
};

// Throws protocol::Error (bad_request) saying what is wrong with `text`.
Url parse_url(std::string_view text);

// A client context that checks the peer against the system's store
// (SSL_CERT_FILE and SSL_CERT_DIR override it) and wants TLS 1.2 or later.
boost::asio::ssl::context make_tls_context();
// Makes `stream` send `host` as SNI (when it is a name) and check that the
// peer's certificate is for it.
void expect_peer(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, const std::string& host);

struct Response
{
  unsigned status = 0;
  std::string reason;
  std::string body;
};

// `error` empty: `response` holds what the server answered, whatever its status.
struct Result
{
  std::string error;
  Response response;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Used on its io_context's thread only.
class Client
{
public:
  Client(boost::asio::io_context& io, Url url);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs `body` to `target`. `done` runs on the io_context's thread, once,
  // unless the io_context stops first. One exchange at a time.
  void post(std::string target, const Headers& headers, std::string body, std::chrono::milliseconds timeout,
            std::function<void(Result)> done);

  // Drops the connection; an exchange in flight ends with an error.
  void close();

private:
  using Tcp = boost::asio::ip::tcp;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Parser = boost::beast::http::response_parser<boost::beast::http::string_body>;

  struct Exchange
  {
    Request request;
    std::optional<Parser> parser;
    std::function<void(Result)> done;
    std::chrono::milliseconds timeout{0};
    bool reused = false;    // sent on a connection kept from an earlier exchange
    bool timed_out = false;
    std::uint64_t id = 0;
  };

  using Endpoints = Tcp::resolver::results_type;

  void connect(std::shared_ptr<Exchange> exchange);
  void open_to(Endpoints endpoints, std::shared_ptr<Exchange> exchange);
  void handshake(std::shared_ptr<Exchange> exchange);
  void send(std::shared_ptr<Exchange> exchange);
  template<typename Stream>
  void send_on(Stream& stream, std::shared_ptr<Exchange> exchange);
  void received(std::shared_ptr<Exchange> exchange, std::string_view what, const boost::system::error_code& ec);
  void fail(std::shared_ptr<Exchange> exchange, std::string_view what, const boost::system::error_code& ec);
  void finish(std::shared_ptr<Exchange> exchange, Result result);
  void reset_connection();
  Tcp::socket& socket();

  boost::asio::io_context& m_io;
  Url m_url;
  std::optional<boost::asio::ssl::context> m_tls_context;
  Tcp::resolver m_resolver;
  boost::asio::steady_timer m_deadline;
  std::optional<Tcp::socket> m_socket;
  std::optional<boost::asio::ssl::stream<Tcp::socket>> m_tls;
  boost::beast::flat_buffer m_buffer;
  bool m_connected = false;
  std::shared_ptr<Exchange> m_current;
  std::uint64_t m_next_id = 1;
};

} // namespace omnicache::daemon::http
