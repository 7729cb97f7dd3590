#include "daemon/session.hpp"

#include "daemon/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include <atomic>
#include <utility>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

namespace {

constexpr std::size_t k_read_chunk = 64 << 10;
constexpr std::size_t k_max_read_chunk = 16 << 20;
// Replies a client has not read yet, past which we stop reading its requests.
constexpr std::size_t k_max_unsent = 8 << 20;
// Values at least this large are handed over with their buffer, not copied.
constexpr std::size_t k_large_value = 1 << 20;

} // namespace

Session::Session(Socket socket, Worker& worker, Shared& shared)
  : m_socket(std::move(socket)),
    m_connection(std::make_shared<Connection>()),
    m_worker(worker),
    m_shared(shared)
{
  static std::atomic<std::uint64_t> s_next_id{1};
  m_connection->id = s_next_id.fetch_add(1);
  m_connection->executor = m_socket.get_executor();
}

Session::~Session()
{
  if (m_connection->open) {
    m_shared.leases.drop_connection(m_connection->id);
  }
  m_shared.metrics.connections.fetch_sub(1);
  m_shared.metrics.mark_activity();
}

void
Session::start()
{
  advance();
}

void
Session::drain()
{
  if (m_closed || m_eof) {
    return;
  }
  m_eof = true;
  boost::system::error_code ignored;
  // Wakes a pending read with end-of-file; replies can still be written.
  m_socket.shutdown(Socket::shutdown_receive, ignored);
  advance();
}

void
Session::advance()
{
  if (m_closed) {
    return;
  }
  take_frames();
  pump();
  flush();
  read_more();
  close_when_done();
}

void
Session::take_frames()
{
  if (m_closing) {
    return;
  }
  const auto& s = settings();
  m_frames.set_limits({static_cast<std::uint32_t>(s.max_frame_bytes), static_cast<std::uint32_t>(s.max_header_bytes)});
  // Replies made here are queued only by flush(): count their values too, so
  // that a client pipelining large gets without reading stops being served
  // at the same bound as one whose replies are already queued.
  std::size_t made = 0;
  while (m_slots.size() < s.max_in_flight && !m_closing && m_out_bytes + m_sending_bytes + made <= k_max_unsent) {
    std::optional<std::string_view> body;
    try {
      body = m_frames.next();
    } catch (const Error& e) {
      // The body was not read, so the stream cannot be followed any further.
      add_error(0, e.code(), e.what());
      m_closing = true;
      return;
    }
    if (!body) {
      return;
    }
    add_request(*body);
    made += m_slots.back().reply.value.size();
  }
}

void
Session::add_error(std::uint64_t id, ErrorCode code, std::string message)
{
  Slot failed;
  failed.state = Slot::State::done;
  failed.reply = protocol::make_error(id, code, std::move(message));
  m_slots.push_back(std::move(failed));
}

void
Session::add_request(std::string_view body)
{
  m_shared.metrics.requests.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t id = 0;
  Slot request_slot;
  request_slot.started = std::chrono::steady_clock::now();
  try {
    request_slot.request = protocol::parse_request(protocol::split_body(body, static_cast<std::uint32_t>(settings().max_header_bytes)), id);
    request_slot.op = find_op(request_slot.request.op);
    if (request_slot.op == nullptr) {
      throw Error(ErrorCode::unsupported, fmt::format("unknown operation '{}'", request_slot.request.op));
    }
  } catch (const Error& e) {
    add_error(id, e.code(), e.what());
    if (e.code() == ErrorCode::bad_frame) {
      m_closing = true;
    }
    return;
  }
  if (request_slot.request.value.size() >= k_large_value) {
    // Keep the frame's buffer rather than copying the value out of it.
    request_slot.request.value_owner = std::make_shared<const std::string>(m_frames.take_buffer());
  }
  const std::uint64_t seq = end_seq();
  m_slots.push_back(std::move(request_slot));
  pump();
  if (seq >= m_next_start && !slot(seq).request.value_owner) {
    // It has to wait its turn: keep its value past the read buffer's next move.
    Slot& waiting = slot(seq);
    waiting.owned_value.assign(waiting.request.value);
    waiting.request.value = waiting.owned_value;
  }
}

bool
Session::can_start(const Slot& candidate) const
{
  if (candidate.op->kind == OpKind::write) {
    return m_running_reads == 0;
  }
  // take_frames() cannot count the value of a reply made later: a client
  // pipelining large gets without reading their replies is held here too.
  return m_running == 0 && m_out_bytes + m_sending_bytes <= k_max_unsent;
}

void
Session::pump()
{
  while (m_next_start < end_seq()) {
    Slot& next = slot(m_next_start);
    if (next.state == Slot::State::done) { // an error answered on arrival
      ++m_next_start;
      continue;
    }
    if (!can_start(next)) {
      return;
    }
    start(m_next_start++);
  }
}

void
Session::start(std::uint64_t seq)
{
  Slot& current = slot(seq);
  current.state = Slot::State::running;
  ++m_running;
  if (current.op->kind != OpKind::write) {
    ++m_running_reads;
  }
  Context context{m_shared, *m_worker.reader, settings(), m_connection};
  try {
    if (current.op->sync != nullptr) {
      finish(seq, current.op->sync(context, current.request));
      return;
    }
    // An op that can answer at once (get without a shared tier, a hit) is
    // finished here, like a sync one; a later answer is posted back.
    struct Inline
    {
      std::atomic<int> state{0}; // 0: in start(), 1: start() returned, 2: answered within start()
      protocol::Reply reply;
    };
    auto answered = std::make_shared<Inline>();
    current.op->async(context, current.request, [self = shared_from_this(), seq, answered](protocol::Reply reply) {
      int in_start = 0;
      if (answered->state.load() == 0) {
        answered->reply = std::move(reply);
        if (answered->state.compare_exchange_strong(in_start, 2)) {
          return;
        }
        reply = std::move(answered->reply);
      }
      auto& session = *self;
      boost::asio::post(session.m_socket.get_executor(), [self = std::move(self), seq, reply = std::move(reply)]() mutable {
        self->finish(seq, std::move(reply));
        self->advance();
      });
    });
    int in_start = 0;
    if (!answered->state.compare_exchange_strong(in_start, 1)) {
      finish(seq, std::move(answered->reply));
    }
  } catch (const Error& e) {
    // A code that never goes on the wire (a file, the configuration) is the
    // daemon's failure, not the request's: it is logged as one.
    if (!protocol::is_wire_code(e.code())) {
      log::error("{} failed: {}", current.request.op, e.what());
    }
    finish(seq, protocol::make_error(current.request.id, e.code(), e.what()));
  } catch (const std::exception& e) {
    log::error("{} failed: {}", current.request.op, e.what());
    finish(seq, protocol::make_error(current.request.id, ErrorCode::internal, e.what()));
  }
}

void
Session::finish(std::uint64_t seq, protocol::Reply reply)
{
  if (m_closed) {
    return;
  }
  Slot& done = slot(seq);
  done.state = Slot::State::done;
  done.reply = std::move(reply);
  done.owned_value.clear();
  --m_running;
  if (done.op->kind != OpKind::write) {
    --m_running_reads;
  }
  m_shared.metrics.latency(op_index(*done.op)).record(std::chrono::steady_clock::now() - done.started);
}

void
Session::flush()
{
  while (!m_slots.empty() && m_slots.front().state == Slot::State::done) {
    auto& reply = m_slots.front().reply;
    if (!reply.ok) {
      m_shared.metrics.errors.fetch_add(1, std::memory_order_relaxed);
    }
    queue_reply(reply);
    m_slots.pop_front();
    ++m_first_seq;
  }
  if (m_writing || m_out.empty()) {
    return;
  }
  m_writing = true;
  std::swap(m_out, m_sending);
  m_sending_bytes = std::exchange(m_out_bytes, 0);
  std::vector<boost::asio::const_buffer> buffers;
  buffers.reserve(m_sending.size());
  for (const auto& piece : m_sending) {
    buffers.emplace_back(boost::asio::buffer(piece));
  }
  boost::asio::async_write(m_socket, buffers,
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->m_writing = false;
                             self->m_sending.clear();
                             self->m_sending_bytes = 0;
                             if (ec) {
                               self->close();
                               return;
                             }
                             self->advance();
                           });
}

void
Session::queue_reply(protocol::Reply& reply)
{
  if (m_out.empty() || m_out_tail_is_value) {
    m_out.emplace_back();
    m_out_tail_is_value = false;
  }
  std::string& piece = m_out.back();
  const std::size_t before = piece.size();
  const bool large = reply.value.size() >= k_large_value;
  if (!large) {
    protocol::append_reply(piece, reply);
  }
  const bool value_follows = large && protocol::append_reply_head(piece, reply);
  m_out_bytes += piece.size() - before;
  if (value_follows) {
    m_out_bytes += reply.value.size();
    m_out.push_back(std::move(reply.value));
    m_out_tail_is_value = true;
  }
}

void
Session::read_more()
{
  if (m_reading || m_eof || m_closing || m_closed) {
    return;
  }
  if (m_slots.size() >= settings().max_in_flight || m_out_bytes + m_sending_bytes > k_max_unsent) {
    return; // resumed when replies drain
  }
  std::size_t chunk = k_read_chunk;
  if (const auto missing = m_frames.missing(); missing > chunk) {
    chunk = std::min(missing, k_max_read_chunk);
  }
  m_reading = true;
  char* room = m_frames.prepare(chunk);
  m_socket.async_read_some(boost::asio::buffer(room, m_frames.room()),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             self->m_reading = false;
                             if (ec) {
                               if (ec != boost::asio::error::eof && ec != boost::asio::error::connection_reset
                                   && ec != boost::asio::error::operation_aborted) {
                                 log::debug("connection read failed: {}", ec.message());
                               }
                               self->m_eof = true;
                             } else {
                               self->m_frames.commit(n);
                               self->m_shared.metrics.mark_activity();
                             }
                             self->advance();
                           });
}

void
Session::close_when_done()
{
  if ((m_eof || m_closing) && m_slots.empty() && !m_writing && m_out.empty()) {
    close();
  }
}

void
Session::close()
{
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_connection->open = false;
  // A client that dies holding a lease frees it for the next one waiting.
  m_shared.leases.drop_connection(m_connection->id);
  boost::system::error_code ignored;
  m_socket.close(ignored);
  m_slots.clear();
}

} // namespace omnicache::daemon
