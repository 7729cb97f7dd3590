#include "daemon/proxy/upstream.hpp"

#include "protocol/units.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/core.h>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>
#include <optional>
#include <unordered_set>
#include <vector>

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;
using boost::system::error_code;
using Tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Named, not anonymous: Upstream::Impl holds a State, and a class with
// external linkage may not hold a member of an anonymous namespace's type
// once the file is compiled inside a unity batch.
namespace upstream_detail {

constexpr std::size_t k_max_idle = 16;
constexpr auto k_max_idle_age = std::chrono::seconds(60);
constexpr std::uint32_t k_max_response_header_bytes = 64u << 10;
constexpr std::size_t k_chunk_bytes = 16u << 10;

using Request = beast_http::request<beast_http::string_body>;
using Parser = beast_http::response_parser<beast_http::buffer_body>;

bool
iequals(std::string_view a, std::string_view b)
{
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}

bool
is_hop_by_hop(std::string_view name)
{
  return iequals(name, "Connection") || iequals(name, "Keep-Alive") || iequals(name, "Transfer-Encoding")
         || iequals(name, "Content-Length") || iequals(name, "TE") || iequals(name, "Trailer")
         || iequals(name, "Upgrade") || (name.size() >= 6 && iequals(name.substr(0, 6), "Proxy-"));
}

// Hop-by-hop fields, plus those the answer's Connection header names.
http::Headers
end_to_end_headers(const beast_http::fields& fields)
{
  std::vector<std::string_view> listed;
  for (const auto token : beast_http::token_list{fields[beast_http::field::connection]}) {
    listed.emplace_back(token.data(), token.size());
  }
  http::Headers headers;
  for (const auto& field : fields) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    const bool named = std::any_of(listed.begin(), listed.end(), [&](auto token) {
      return iequals(token, name);
    });
    if (!is_hop_by_hop(name) && !named) {
      headers.emplace_back(std::string(name), std::string(field.value()));
    }
  }
  return headers;
}

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

Connection::Connection(State& state) : m_state(state)
{
  // Beast reads at most what the buffer can hold without growing, 512 bytes when empty.
  buffer.reserve(k_chunk_bytes);
  if (!state.url.tls) {
    m_plain.emplace(state.io);
    return;
  }
  m_tls.emplace(state.io, *state.tls_context);
  http::expect_peer(*m_tls, state.url.host);
}

void
Connection::opened()
{
  if (!m_counted) {
    m_counted = true;
    ++m_state.open;
  }
  error_code ignored;
  socket().set_option(Tcp::no_delay(true), ignored);
}

void
Connection::close()
{
  error_code ignored;
  socket().close(ignored);
  if (m_counted) {
    m_counted = false;
    --m_state.open;
  }
}

bool
Connection::looks_alive()
{
  char byte = 0;
  const auto got = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void
State::drop_expired()
{
  const auto now = Clock::now();
  std::size_t expired = 0;
  while (expired < idle.size() && now - idle[expired]->idle_since > k_max_idle_age) {
    ++expired;
  }
  idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(expired));
}

std::unique_ptr<Connection>
State::take_idle()
{
  drop_expired();
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (connection->looks_alive()) {
      return connection;
    }
  }
  return nullptr;
}

void
State::give_back(std::unique_ptr<Connection> connection)
{
  drop_expired();
  if (idle.size() >= k_max_idle) {
    idle.erase(idle.begin());
  }
  connection->idle_since = Clock::now();
  idle.push_back(std::move(connection));
}

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

void
CallState::start()
{
  m_state->live.insert(this);
  if (m_timeout.count() > 0) {
    m_deadline = Clock::now() + m_timeout;
    wait_for_deadline();
  }
  m_connection = m_state->take_idle();
  if (m_connection) {
    m_reused = true;
    write();
  } else {
    connect();
  }
}

void
CallState::cancel()
{
  if (m_done) {
    return;
  }
  m_done = true;
  m_state->live.erase(this);
  m_timer.cancel();
  m_resolver.cancel();
  close_connection();
  release_handlers();
}

void
CallState::connect()
{
  m_connection = std::make_unique<Connection>(*m_state);
  const auto& url = m_state->url;
  m_resolver.async_resolve(url.host, url.port, [self = shared_from_this()](const error_code& ec, auto endpoints) {
    if (self->m_done) {
      return;
    }
    if (ec) {
      self->failed(fmt::format("resolving {}", self->m_state->url.host), ec);
      return;
    }
    auto& socket = self->m_connection->socket();
    boost::asio::async_connect(socket, endpoints, [self](const error_code& connect_ec, const Tcp::endpoint&) {
      if (self->m_done) {
        return;
      }
      if (connect_ec) {
        self->failed(fmt::format("connecting to {}", self->m_state->url.authority()), connect_ec);
        return;
      }
      self->m_connection->opened();
      if (self->m_connection->is_tls()) {
        self->handshake();
      } else {
        self->write();
      }
    });
  });
}

void
CallState::handshake()
{
  auto done = [self = shared_from_this()](const error_code& ec) {
    if (self->m_done) {
      return;
    }
    if (ec) {
      self->failed("the TLS handshake", ec);
      return;
    }
    self->write();
  };
  m_connection->tls().async_handshake(boost::asio::ssl::stream_base::client, std::move(done));
}

void
CallState::write()
{
  m_connection->with_stream([this](auto& stream) {
    beast_http::async_write(stream, m_request, [self = shared_from_this()](const error_code& ec, std::size_t) {
      if (self->m_done) {
        return;
      }
      if (ec) {
        self->failed("sending the request", ec);
        return;
      }
      self->read_head();
    });
  });
}

void
CallState::read_head()
{
  m_parser.emplace();
  // Answers are passed on as they come, never held whole, so any size will do. Not boost::none: Boost 1.74
  // compares a Content-Length with that as greater and fails every sized body.
  m_parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  m_parser->header_limit(k_max_response_header_bytes);
  m_parser->skip(m_request.method() == beast_http::verb::head);
  m_connection->with_stream([this](auto& stream) {
    beast_http::async_read_header(stream, m_connection->buffer, *m_parser,
                                  [self = shared_from_this()](const error_code& ec, std::size_t) {
                                    self->head_read(ec);
                                  });
  });
}

void
CallState::head_read(const error_code& ec)
{
  if (m_done) {
    return;
  }
  if (ec) {
    failed("reading the answer's head", ec);
    return;
  }
  const auto& message = m_parser->get();
  const auto status = message.result_int();
  if (status >= 100 && status < 200 && status != 101) { // an interim answer; the real one follows
    read_head();
    return;
  }
  m_head_seen = true;
  if (m_timeout.count() > 0) {
    m_deadline = Clock::now() + m_timeout;
  }
  UpstreamHead head;
  head.status = status;
  head.reason = std::string(message.reason());
  head.headers = end_to_end_headers(message.base());
  if (m_handlers.head) {
    ++m_calling;
    m_handlers.head(std::move(head));
    --m_calling;
  }
  if (m_done) {
    release_handlers();
    return;
  }
  if (m_parser->is_done()) {
    complete();
  } else {
    read_body();
  }
}

void
CallState::read_body()
{
  auto& body = m_parser->get().body();
  body.data = m_chunk.data();
  body.size = m_chunk.size();
  // One read at a time, not until the chunk is full: each event goes on as it arrives.
  m_connection->with_stream([this](auto& stream) {
    beast_http::async_read_some(stream, m_connection->buffer, *m_parser,
                                [self = shared_from_this()](const error_code& ec, std::size_t) {
                                  self->body_read(ec);
                                });
  });
}

void
CallState::body_read(error_code ec)
{
  if (m_done) {
    return;
  }
  if (ec == beast_http::error::need_buffer) {
    ec = {};
  }
  if (m_timeout.count() > 0) {
    m_deadline = Clock::now() + m_timeout;
  }
  const auto got = m_chunk.size() - m_parser->get().body().size;
  if (got > 0 && m_handlers.data) {
    ++m_calling;
    m_handlers.data(std::string_view(m_chunk.data(), got));
    --m_calling;
    if (m_done) {
      release_handlers();
      return;
    }
  }
  if (ec) {
    close_connection();
    finish(fmt::format("reading the answer failed: {}", ec.message()), false);
  } else if (m_parser->is_done()) {
    complete();
  } else {
    read_body();
  }
}

bool
CallState::nothing_received() const
{
  return (!m_parser || !m_parser->got_some()) && m_connection->buffer.size() == 0;
}

void
CallState::failed(std::string_view what, const error_code& ec)
{
  // A kept connection the server closed while it sat idle: the request never
  // reached it, so it goes once more on a fresh connection.
  if (m_reused && nothing_received()) {
    m_reused = false;
    m_parser.reset();
    close_connection();
    connect();
    return;
  }
  close_connection();
  finish(fmt::format("{} failed: {}", what, ec.message()), false);
}

void
CallState::complete()
{
  const bool reusable = m_parser->get().keep_alive() && m_connection->buffer.size() == 0 && !m_state->closed;
  if (reusable) {
    m_state->give_back(std::move(m_connection));
  } else {
    close_connection();
  }
  finish({}, false);
}

void
CallState::finish(std::string error, bool timed_out)
{
  if (m_done) {
    return;
  }
  m_done = true;
  m_state->live.erase(this);
  m_timer.cancel();
  auto end = std::move(m_handlers.end);
  m_handlers.end = nullptr;
  release_handlers();
  if (end) {
    end(std::move(error), timed_out, !m_head_seen);
  }
}

void
CallState::wait_for_deadline()
{
  m_timer.expires_at(m_deadline);
  m_timer.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->m_done) {
      return;
    }
    if (Clock::now() < self->m_deadline) { // data came meanwhile and moved the deadline
      self->wait_for_deadline();
      return;
    }
    self->m_resolver.cancel();
    self->close_connection();
    const auto within = protocol::format_duration_ms(self->m_timeout.count());
    self->finish(self->m_head_seen ? fmt::format("no more of the answer within {}", within)
                                   : fmt::format("no answer within {}", within),
                 true);
  });
}

void
CallState::close_connection()
{
  if (m_connection) {
    m_connection->close(); // pending operations end with operation_aborted
  }
}

void
CallState::release_handlers()
{
  // Not while one of them runs: the proxy may cancel from inside a handler.
  if (m_calling == 0) {
    m_handlers = {};
  }
}

} // namespace upstream_detail

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
