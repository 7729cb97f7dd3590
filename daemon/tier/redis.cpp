#include "daemon/tier/redis.hpp"

#include "daemon/net/http.hpp"
#include "protocol/error.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>
#include <hiredis/hiredis.h>

namespace omnicache::daemon::tier {

using boost::system::error_code;

namespace {

redisReader*
reader_of(void* reader)
{
  return static_cast<redisReader*>(reader);
}

RedisReply
copy_reply(const redisReply& reply)
{
  RedisReply out;
  switch (reply.type) {
  case REDIS_REPLY_STRING:
    out.type = RedisReply::Type::string;
    out.text.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_STATUS:
    out.type = RedisReply::Type::status;
    out.text.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_ERROR:
    out.type = RedisReply::Type::error;
    out.text.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_INTEGER:
    out.type = RedisReply::Type::integer;
    out.integer = reply.integer;
    break;
  case REDIS_REPLY_ARRAY:
    out.type = RedisReply::Type::array;
    out.elements.reserve(reply.elements);
    for (std::size_t i = 0; i < reply.elements; ++i) {
      out.elements.push_back(copy_reply(*reply.element[i]));
    }
    break;
  default:
    break; // nil
  }
  return out;
}

} // namespace

std::string
format_command(const RedisCommand& command)
{
  std::vector<const char*> words;
  std::vector<std::size_t> sizes;
  words.reserve(command.size());
  sizes.reserve(command.size());
  for (const auto& word : command) {
    words.push_back(word.data());
    sizes.push_back(word.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(words.size()), words.data(), sizes.data());
  if (length < 0) {
    throw std::bad_alloc();
  }
  std::string out(formatted, static_cast<std::size_t>(length));
  redisFreeCommand(formatted);
  return out;
}

std::vector<RedisReply>
parse_replies(std::string_view bytes)
{
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(), &redisReaderFree);
  if (reader == nullptr || redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) {
    throw std::bad_alloc();
  }
  std::vector<RedisReply> replies;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      throw protocol::Error(protocol::ErrorCode::bad_file,
                            fmt::format("not RESP after {} complete values: {}", replies.size(), reader->errstr));
    }
    if (raw == nullptr) {
      break;
    }
    replies.push_back(copy_reply(*static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  if (reader->pos != reader->len) {
    throw protocol::Error(protocol::ErrorCode::bad_file,
                          fmt::format("cut short after {} complete values", replies.size()));
  }
  return replies;
}

RedisConnection::RedisConnection(boost::asio::io_context& io, const protocol::RedisUrl& url,
                                 boost::asio::ssl::context* tls)
  : m_io(io),
    m_url(url),
    m_tls_context(tls),
    m_resolver(io),
    m_deadline(io),
    m_reader(redisReaderCreate())
{
  if (m_reader == nullptr) {
    throw std::bad_alloc();
  }
}

RedisConnection::~RedisConnection()
{
  redisReaderFree(reader_of(m_reader));
}

template <typename Handler>
void
RedisConnection::async_write(Handler&& handler)
{
  std::visit(
    [&](auto& stream) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>) {
        boost::asio::async_write(stream, boost::asio::buffer(m_writing), std::forward<Handler>(handler));
      }
    },
    m_stream);
}

template <typename Handler>
void
RedisConnection::async_read(Handler&& handler)
{
  std::visit(
    [&](auto& stream) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>) {
        stream.async_read_some(boost::asio::buffer(m_buffer), std::forward<Handler>(handler));
      }
    },
    m_stream);
}

void
RedisConnection::connect(std::chrono::milliseconds timeout, std::function<void()> ready,
                         std::function<void(const std::string&)> closed)
{
  m_ready_handler = std::move(ready);
  m_closed_handler = std::move(closed);
  m_deadline.expires_after(timeout);
  m_deadline.async_wait([self = shared_from_this(), timeout](const error_code& ec) {
    if (!ec && !self->m_ready) {
      self->fail(fmt::format("no connection within {} ms", timeout.count()));
    }
  });
  if (!m_url.socket.empty()) {
    auto& socket = m_stream.emplace<Local::socket>(m_io);
    socket.async_connect(Local::endpoint(m_url.socket), [self = shared_from_this()](const error_code& ec) {
      if (ec) {
        self->fail(fmt::format("cannot connect to {}: {}", self->m_url.socket, ec.message()));
        return;
      }
      self->transport_ready();
    });
    return;
  }
  m_resolver.async_resolve(m_url.host, std::to_string(m_url.port),
                           [self = shared_from_this()](const error_code& ec, Tcp::resolver::results_type endpoints) {
                             if (ec) {
                               self->fail(fmt::format("cannot resolve {}: {}", self->m_url.host, ec.message()));
                               return;
                             }
                             self->resolved(std::move(endpoints));
                           });
}

void
RedisConnection::resolved(Tcp::resolver::results_type endpoints)
{
  if (m_closed) {
    return;
  }
  auto connected = [self = shared_from_this()](const error_code& ec, const Tcp::endpoint&) {
    if (ec) {
      self->fail(fmt::format("cannot connect to {}:{}: {}", self->m_url.host, self->m_url.port, ec.message()));
      return;
    }
    if (auto* tls = std::get_if<boost::asio::ssl::stream<Tcp::socket>>(&self->m_stream)) {
      tls->async_handshake(boost::asio::ssl::stream_base::client, [self](const error_code& handshake) {
        if (handshake) {
          self->fail(fmt::format("TLS with {} failed: {}", self->m_url.host, handshake.message()));
          return;
        }
        self->transport_ready();
      });
      return;
    }
    self->transport_ready();
  };
  if (m_url.tls) {
    auto& tls = m_stream.emplace<boost::asio::ssl::stream<Tcp::socket>>(m_io, *m_tls_context);
    http::expect_peer(tls, m_url.host);
    boost::asio::async_connect(tls.next_layer(), endpoints, std::move(connected));
  } else {
    auto& socket = m_stream.emplace<Tcp::socket>(m_io);
    boost::asio::async_connect(socket, endpoints, std::move(connected));
  }
}

void
RedisConnection::transport_ready()
{
  if (m_closed) {
    return;
  }
  error_code ignored; // without it, small commands wait for earlier ones' acknowledgements
  if (auto* socket = std::get_if<Tcp::socket>(&m_stream)) {
    socket->set_option(Tcp::no_delay(true), ignored);
  } else if (auto* tls = std::get_if<boost::asio::ssl::stream<Tcp::socket>>(&m_stream)) {
    tls->next_layer().set_option(Tcp::no_delay(true), ignored);
  }
  read_more();
  log_in();
}

void
RedisConnection::log_in()
{
  // The connect deadline covers these too: their own deadlines are not armed yet.
  constexpr auto k_unarmed = std::chrono::hours(1);
  auto check = [self = shared_from_this()](const std::string& error, const RedisReply& reply) {
    if (error.empty() && reply.is_error()) {
      self->fail(fmt::format("Redis refused the connection's set-up: {}", reply.text));
    }
  };
  if (!m_url.password.empty()) {
    RedisCommand auth{"AUTH"};
    if (!m_url.user.empty()) {
      auth.push_back(m_url.user);
    }
    auth.push_back(m_url.password);
    send(auth, k_unarmed, check);
  }
  if (m_url.db != 0) {
    send({"SELECT", std::to_string(m_url.db)}, k_unarmed, check);
  }
  send({"PING"}, k_unarmed, [self = shared_from_this()](const std::string& error, const RedisReply& reply) {
    if (!error.empty() || self->m_closed) {
      return; // fail() has told the owner
    }
    if (reply.is_error()) {
      self->fail(fmt::format("Redis refused the connection's set-up: {}", reply.text));
      return;
    }
    self->m_ready = true;
    self->m_deadline.cancel();
    if (auto ready = std::exchange(self->m_ready_handler, nullptr)) {
      ready();
    }
    self->arm_deadline();
  });
}

void
RedisConnection::send(const RedisCommand& command, std::chrono::milliseconds timeout, RedisDone done)
{
  if (m_closed) {
    boost::asio::post(m_io, [done = std::move(done)] { done("not connected", {}); });
    return;
  }
  m_outbox += format_command(command);
  const bool was_idle = m_waiting.empty();
  m_waiting.push_back({std::move(done), std::chrono::steady_clock::now() + timeout});
  if (was_idle) {
    arm_deadline();
  }
  if (m_writing.empty() && !std::holds_alternative<std::monostate>(m_stream)) {
    write_more();
  }
}

void
RedisConnection::write_more()
{
  if (m_closed || m_outbox.empty() || !m_writing.empty()) {
    return;
  }
  m_writing.swap(m_outbox);
  async_write([self = shared_from_this()](const error_code& ec, std::size_t) {
    if (ec) {
      self->fail(fmt::format("writing to Redis failed: {}", ec.message()));
      return;
    }
    self->m_writing.clear();
    self->write_more();
  });
}

void
RedisConnection::read_more()
{
  async_read([self = shared_from_this()](const error_code& ec, std::size_t bytes) {
    if (ec) {
      self->fail(ec == boost::asio::error::eof ? std::string("Redis closed the connection")
                                               : fmt::format("reading from Redis failed: {}", ec.message()));
      return;
    }
    self->received(bytes);
  });
}

void
RedisConnection::received(std::size_t bytes)
{
  if (m_closed) {
    return;
  }
  auto* reader = reader_of(m_reader);
  if (redisReaderFeed(reader, m_buffer.data(), bytes) != REDIS_OK) {
    fail("out of memory reading a Redis reply");
    return;
  }
  // Keep ourselves alive: a callback may drop the owner's last reference.
  const auto self = shared_from_this();
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
      fail(fmt::format("a malformed reply from Redis: {}", reader->errstr));
      return;
    }
    if (raw == nullptr) {
      break;
    }
    auto reply = copy_reply(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    if (m_waiting.empty()) {
      fail("a reply from Redis that nothing asked for");
      return;
    }
    auto waiting = std::move(m_waiting.front());
    m_waiting.pop_front();
    waiting.done("", std::move(reply));
    if (m_closed) {
      return;
    }
  }
  arm_deadline();
  read_more();
}

void
RedisConnection::arm_deadline()
{
  if (!m_ready || m_closed) {
    return;
  }
  if (m_waiting.empty()) {
    m_deadline.cancel();
    return;
  }
  m_deadline.expires_at(m_waiting.front().deadline);
  m_deadline.async_wait([weak = weak_from_this()](const error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->m_waiting.empty()) {
      return;
    }
    if (std::chrono::steady_clock::now() >= self->m_waiting.front().deadline) {
      self->fail("Redis did not answer in time");
    }
  });
}

void
RedisConnection::close(const std::string& why)
{
  fail(why);
}

void
RedisConnection::fail(const std::string& why)
{
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_ready = false;
  m_deadline.cancel();
  m_resolver.cancel();
  error_code ignored;
  std::visit(
    [&](auto& stream) {
      using Stream = std::decay_t<decltype(stream)>;
      if constexpr (std::is_same_v<Stream, boost::asio::ssl::stream<Tcp::socket>>) {
        stream.next_layer().close(ignored);
      } else if constexpr (!std::is_same_v<Stream, std::monostate>) {
        stream.close(ignored);
      }
    },
    m_stream);
  const auto self = shared_from_this();
  auto waiting = std::move(m_waiting);
  m_waiting.clear();
  m_ready_handler = nullptr;
  for (auto& one : waiting) {
    one.done(why, {});
  }
  if (auto closed = std::exchange(m_closed_handler, nullptr)) {
    closed(why);
  }
}

} // namespace omnicache::daemon::tier
