// One exchange with the upstream: connect (or reuse), TLS, send, read the
// head and then the body chunk by chunk, each wait bounded by proxy.timeout.
#include "daemon/proxy/upstream_detail.hpp"

#include "protocol/units.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/core.h>

#include <limits>

namespace omnicache::daemon::proxy::upstream_detail {

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

} // namespace omnicache::daemon::proxy::upstream_detail
