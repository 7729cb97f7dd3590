#include "daemon/proxy/session.hpp"

#include "daemon/log.hpp"
#include "daemon/proxy/provider.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/core.h>

#include <sstream>

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;

namespace {

constexpr std::uint32_t k_max_request_header_bytes = 64 << 10;

std::string
head_text(const HttpResponse& response)
{
  std::ostringstream out;
  out << response.base();
  return out.str();
}

} // namespace

// The Responder an exchange writes to. It keeps its session alive while the
// answer is being made: nothing may be pending on the socket meanwhile.
class HttpSession::Reply : public Responder
{
public:
  Reply(std::shared_ptr<HttpSession> session, bool keep_alive)
    : m_session(std::move(session)),
      m_keep_alive(keep_alive)
  {
  }

  void respond(HttpResponse response) override
  {
    auto* session = m_session.get();
    if (session->m_closed || m_done) {
      return;
    }
    m_done = true;
    response.keep_alive(m_keep_alive && response.keep_alive());
    response.prepare_payload();
    const bool keep = response.keep_alive();
    session->m_state.metrics.bytes_out.fetch_add(response.body().size(), std::memory_order_relaxed);
    std::string bytes = head_text(response);
    bytes += response.body();
    session->queue(std::move(bytes));
    session->answered(keep);
  }

  void begin_stream(HttpResponse head) override
  {
    auto* session = m_session.get();
    if (session->m_closed || m_done || m_streaming) {
      return;
    }
    m_streaming = true;
    head.keep_alive(m_keep_alive);
    head.chunked(true);
    session->queue(head_text(head));
  }

  void stream(std::string bytes) override
  {
    auto* session = m_session.get();
    if (session->m_closed || m_done || !m_streaming || bytes.empty()) {
      return;
    }
    session->m_state.metrics.bytes_out.fetch_add(bytes.size(), std::memory_order_relaxed);
    std::string chunk = fmt::format("{:x}\r\n", bytes.size());
    chunk += bytes;
    chunk += "\r\n";
    session->queue(std::move(chunk));
  }

  void end_stream(bool complete) override
  {
    auto* session = m_session.get();
    if (session->m_closed || m_done) {
      return;
    }
    m_done = true;
    if (complete && m_streaming) {
      session->queue("0\r\n\r\n");
      session->answered(m_keep_alive);
      return;
    }
    // No last chunk: the client sees a body that did not end.
    session->answered(false);
  }

  bool gone() const override
  {
    return m_session->m_closed;
  }

private:
  std::shared_ptr<HttpSession> m_session;
  bool m_keep_alive;
  bool m_streaming = false;
  bool m_done = false;
};

HttpSession::HttpSession(boost::asio::ip::tcp::socket socket, ThreadState& state)
  : m_stream(std::move(socket)),
    m_state(state),
    m_metrics(state.metrics)
{
  m_state.metrics.connections.fetch_add(1, std::memory_order_relaxed);
  m_state.metrics.connections_total.fetch_add(1, std::memory_order_relaxed);
}

HttpSession::~HttpSession()
{
  m_metrics.connections.fetch_sub(1, std::memory_order_relaxed);
}

void
HttpSession::start()
{
  read_next();
}

void
HttpSession::drain()
{
  m_draining = true;
  if (!m_busy && !m_writing) {
    close();
  }
}

void
HttpSession::read_next()
{
  if (m_closed || m_draining) {
    close();
    return;
  }
  m_parser.emplace();
  m_parser->header_limit(k_max_request_header_bytes);
  m_parser->body_limit(m_state.worker.config->settings().proxy_max_body_bytes);
  m_stream.expires_after(std::chrono::milliseconds(m_state.worker.config->settings().proxy_idle_timeout_ms));
  read_header();
}

void
HttpSession::read_header()
{
  beast_http::async_read_header(m_stream, m_buffer, *m_parser,
                                [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
                                  if (ec) {
                                    if (ec == beast_http::error::header_limit) {
                                      self->refuse(431, "the request's headers are larger than 64 KiB");
                                    } else if (ec == beast_http::error::body_limit) {
                                      // Content-Length already says it is too large.
                                      self->refuse_too_large();
                                    } else if (ec != beast_http::error::end_of_stream && ec != boost::asio::error::eof
                                               && ec != boost::beast::error::timeout
                                               && ec != boost::asio::error::operation_aborted
                                               && ec != boost::asio::error::connection_reset) {
                                      self->refuse(400, fmt::format("malformed HTTP request: {}", ec.message()));
                                    } else {
                                      self->close();
                                    }
                                    return;
                                  }
                                  // curl and others wait for this before sending a large body.
                                  const auto& head = self->m_parser->get();
                                  if (head[beast_http::field::expect] == "100-continue" && !self->m_parser->is_done()) {
                                    self->queue("HTTP/1.1 100 Continue\r\n\r\n");
                                  }
                                  self->read_body();
                                });
}

void
HttpSession::read_body()
{
  beast_http::async_read(m_stream, m_buffer, *m_parser, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec == beast_http::error::body_limit) {
        self->refuse_too_large();
      } else if (ec == boost::beast::error::timeout || ec == beast_http::error::end_of_stream
                 || ec == boost::asio::error::eof || ec == boost::asio::error::operation_aborted) {
        self->close();
      } else {
        self->refuse(400, fmt::format("malformed HTTP request: {}", ec.message()));
      }
      return;
    }
    self->m_stream.expires_never();
    self->m_busy = true;
    HttpRequest request = self->m_parser->release();
    self->m_state.metrics.bytes_in.fetch_add(request.body().size(), std::memory_order_relaxed);
    const bool keep_alive = request.keep_alive() && !self->m_draining;
    serve(self->m_state, std::move(request), std::make_shared<Reply>(self, keep_alive));
  });
}

void
HttpSession::refuse_too_large()
{
  refuse(413, fmt::format("the request body is larger than proxy.max_body ({} bytes)",
                          m_state.worker.config->settings().proxy_max_body_bytes));
}

// A request we cannot read to its end: answer in OpenAI's error shape (the
// API is not known yet) and close, since the rest of the stream cannot be
// trusted to start at a request boundary.
void
HttpSession::refuse(unsigned status, std::string_view message)
{
  HttpResponse response{static_cast<beast_http::status>(status), 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = error_body(Api::chat, "invalid_request_error", "bad_request", message);
  response.keep_alive(false);
  response.prepare_payload();
  std::string bytes = head_text(response);
  bytes += response.body();
  m_busy = true;
  queue(std::move(bytes));
  answered(false);
}

void
HttpSession::queue(std::string bytes)
{
  if (m_closed) {
    return;
  }
  m_out.push_back(std::move(bytes));
  if (!m_writing) {
    write_more();
  }
}

void
HttpSession::write_more()
{
  if (m_out.empty()) {
    m_writing = false;
    if (!m_busy) {
      if (m_close_after) {
        close();
      } else {
        read_next();
      }
    }
    return;
  }
  m_writing = true;
  // Stay bounded if the client stops reading.
  m_stream.expires_after(std::chrono::milliseconds(m_state.worker.config->settings().proxy_idle_timeout_ms));
  boost::asio::async_write(m_stream, boost::asio::buffer(m_out.front()),
                           [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
                             if (ec) {
                               self->close();
                               return;
                             }
                             self->m_out.pop_front();
                             self->write_more();
                           });
}

// The answer to the current request is complete (queued, maybe not yet
// written): read the next request once it is written, or close.
void
HttpSession::answered(bool keep_alive)
{
  m_busy = false;
  if (!keep_alive || m_draining) {
    m_close_after = true;
  }
  if (!m_writing) {
    write_more();
  }
}

void
HttpSession::close()
{
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_out.clear();
  boost::beast::error_code ignored;
  m_stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  m_stream.close();
}

} // namespace omnicache::daemon::proxy
