#pragma once

// The parts of an Upstream (upstream.hpp) its files share: the pool of kept
// connections (upstream_connection.cpp) and one exchange on one of them
// (upstream_call.cpp). Not for use outside the Upstream.
#include "daemon/proxy/upstream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace omnicache::daemon::proxy {

// Named, not anonymous: Upstream::Impl holds a State, and a class with
// external linkage may not hold a member of an anonymous namespace's type.
namespace upstream_detail {

namespace beast_http = boost::beast::http;
using boost::system::error_code;
using Tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_max_idle = 16;
constexpr auto k_max_idle_age = std::chrono::seconds(60);
constexpr std::uint32_t k_max_response_header_bytes = 64u << 10;
constexpr std::size_t k_chunk_bytes = 16u << 10;

using Request = beast_http::request<beast_http::string_body>;
using Parser = beast_http::response_parser<beast_http::buffer_body>;

// Case-insensitive, as HTTP field names compare.
bool iequals(std::string_view a, std::string_view b);
// The answer's end-to-end fields: without the hop-by-hop ones and those its
// Connection header names.
http::Headers end_to_end_headers(const beast_http::fields& fields);

struct State;

class Connection
{
public:
  explicit Connection(State& state);
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  template<typename F>
  void
  with_stream(F&& f)
  {
    if (m_tls) {
      f(*m_tls);
    } else {
      f(*m_plain);
    }
  }

  Tcp::socket& socket() { return m_tls ? m_tls->next_layer() : *m_plain; }
  bool is_tls() const { return m_tls.has_value(); }
  auto& tls() { return *m_tls; }
  void opened();
  void close();
  // An idle connection has nothing to read: a byte or an end of stream means
  // the peer gave up on it (closed, or answered a request nobody sent).
  bool looks_alive();

  boost::beast::flat_buffer buffer;
  Clock::time_point idle_since;

private:
  State& m_state;
  std::optional<Tcp::socket> m_plain;
  std::optional<boost::asio::ssl::stream<Tcp::socket>> m_tls;
  bool m_counted = false;
};

class CallState;

// Shared by the Upstream and its exchanges, so an exchange whose Upstream is
// gone can still unwind its cancelled operations.
struct State
{
  State(boost::asio::io_context& io_context, http::Url base) : io(io_context), url(std::move(base)) {}

  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> connection);
  void drop_expired();

  boost::asio::io_context& io;
  http::Url url;
  std::optional<boost::asio::ssl::context> tls_context;
  std::size_t open = 0;
  bool closed = false;
  std::unordered_set<CallState*> live;
  std::vector<std::unique_ptr<Connection>> idle; // oldest first
};

// One exchange: takes a kept connection or opens one, sends the request and
// hands the answer to the handlers as it arrives.
class CallState final : public UpstreamCall, public std::enable_shared_from_this<CallState>
{
public:
  CallState(std::shared_ptr<State> state, Request request, std::chrono::milliseconds timeout,
            UpstreamHandlers handlers)
    : m_state(std::move(state)),
      m_request(std::move(request)),
      m_timeout(timeout),
      m_handlers(std::move(handlers)),
      m_resolver(m_state->io),
      m_timer(m_state->io)
  {
  }
  ~CallState() override { m_state->live.erase(this); }

  void start();
  void cancel() override;

private:
  void connect();
  void handshake();
  void write();
  void read_head();
  void head_read(const error_code& ec);
  void read_body();
  void body_read(error_code ec);
  void failed(std::string_view what, const error_code& ec);
  void complete();
  void finish(std::string error, bool timed_out);
  void wait_for_deadline();
  void close_connection();
  void release_handlers();
  bool nothing_received() const;

  std::shared_ptr<State> m_state;
  Request m_request;
  std::chrono::milliseconds m_timeout;
  UpstreamHandlers m_handlers;
  Tcp::resolver m_resolver;
  boost::asio::steady_timer m_timer;
  Clock::time_point m_deadline;
  std::unique_ptr<Connection> m_connection;
  std::optional<Parser> m_parser;
  std::array<char, k_chunk_bytes> m_chunk{};
  bool m_reused = false; // the connection came from the idle pool
  bool m_head_seen = false;
  bool m_done = false; // ended or cancelled: no handler runs any more
  int m_calling = 0;   // depth of handler calls in progress
};

} // namespace upstream_detail

} // namespace omnicache::daemon::proxy
