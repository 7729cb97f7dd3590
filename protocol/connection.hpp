#pragma once

#include "protocol/error.hpp"
#include "protocol/frame.hpp"
#include "protocol/message.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

// The one client of the protocol: a blocking connection to omnicached over a
// Unix socket (PROTOCOL.md, "Writing a client"). The command, `run`, `warm`,
// the benchmarks and the daemon's own probe all speak through it.
namespace omnicache::protocol {

// A failure of the connection itself rather than an error reply: the daemon
// is gone or silent (code unavailable), or it sent bytes that are not a reply
// (bad_frame, too_large).
class ConnectionError : public Error
{
public:
  using Error::Error;
};

// An error reply, or a hello that the client must refuse (a capability it
// requires is missing): the daemon said no. A plain Error from a Connection
// is the caller's own mistake, found before anything was sent.
class ReplyError : public Error
{
public:
  using Error::Error;
};

// Connects to the Unix socket at `path`, giving up after `timeout_ms` (0: no
// bound) while the listener's queue is full. Returns a blocking, close-on-exec
// socket, or -1 with errno set (ETIMEDOUT when the time ran out).
int connect_unix(const std::string& path, std::int64_t timeout_ms);

// Throws ReplyError with the code and message of an error reply.
void throw_if_error(const Reply& reply);

// Replies are not limited by the request limits (PROTOCOL.md 2.4): by default
// a reply may be as long as a frame can say, and a large value need not be
// held in memory at all (receive_head() and stream_value()).
inline constexpr FrameLimits k_reply_limits{0xFFFFFFFFu, 0xFFFFFFFFu};

class Connection
{
public:
  // Takes over a connected socket. `timeout_ms` bounds each wait for a reply
  // and each blocked send (0: no bound).
  explicit Connection(int fd, std::int64_t timeout_ms = 0, FrameLimits limits = k_reply_limits);
  // Connects (bounded by `timeout_ms` too). Throws ConnectionError(unavailable).
  static Connection open(const std::string& path, std::int64_t timeout_ms, FrameLimits limits = k_reply_limits);

  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return m_fd; }
  // Hands the socket over to a caller that goes on by itself (a
  // non-blocking load generator after its hello); nothing may be in flight.
  int release();
  std::int64_t timeout_ms() const { return m_timeout_ms; }
  void set_timeout(std::int64_t timeout_ms);
  // Refuses to send a request frame whose body is over `max_frame_bytes`
  // (Error(too_large), nothing sent): the daemon would close the connection.
  void set_request_limit(std::uint64_t max_frame_bytes) { m_request_limit = max_frame_bytes; }

  // Queues a hello that goes out in the same write as the next request, so
  // that greeting costs no round trip; its reply is read (and checked) before
  // that request's. `required` names capabilities the client cannot do
  // without: a server lacking one is refused with ReplyError(unsupported).
  void queue_hello(std::string_view client, std::vector<std::string> required = {});
  // A hello on its own, answered before it returns.
  const Json& hello(std::string_view client, std::vector<std::string> required = {});
  bool greeted() const { return !m_server.is_null(); }
  // The hello reply's header (server, capabilities, limits), once read.
  const Json& server() const { return m_server; }

  // Sends a request (after a queued hello) and returns its id; the value is
  // written from the caller's memory, never copied into the frame. Throws
  // Error(bad_request) when a name in `fields` is not valid UTF-8 and
  // Error(too_large) over the request limit (nothing is sent then),
  // ReplyError when the daemon closed the connection with a reason (BUSY),
  // else ConnectionError.
  std::uint64_t send(std::string_view op, Json fields, std::string_view value = {});
  // Sends a request's frame up to its value; `value_size` bytes must follow
  // through write() or, from a file, through fd().
  std::uint64_t send_head(std::string_view op, Json fields, std::uint64_t value_size);
  void write(std::string_view bytes);
  // What send() does when the socket fails while sending: throws the reason
  // the daemon gave, else ConnectionError naming `error` (an errno).
  [[noreturn]] void fail_send(int error);

  // The next reply, in request order (its id is checked), value included.
  // Error replies are returned, not thrown.
  Reply receive();
  // The next reply without its value, which is left to read_value() or
  // stream_value(); what is left unread is skipped by the next receive.
  Reply receive_head();
  std::uint64_t value_left() const { return m_value_left + m_value_here.size(); }
  // Up to `n` bytes of the value; 0 once it is all read.
  std::size_t read_value(char* data, std::size_t n);
  // Hands the rest of the value to `sink` in pieces of at most 64 KiB.
  void stream_value(const std::function<void(std::string_view)>& sink);

  // send(), then receive(); an error reply throws ReplyError.
  Reply call(std::string_view op, Json fields = Json::object(), std::string_view value = {});

  std::size_t in_flight() const { return m_in_flight.size(); }

private:
  std::uint64_t queue_request(std::string_view op, Json fields, std::uint64_t value_size);
  std::string encode_head(std::uint64_t id, std::string_view op, Json fields, std::uint64_t value_size);
  void write_all(std::string_view first, std::string_view second);
  void read_hello();
  Reply read_reply_head();
  std::size_t read_some(char* data, std::size_t n);
  void read_exact(char* data, std::size_t n);
  void skip_value();
  void close_socket();

  int m_fd = -1;
  std::int64_t m_timeout_ms = 0;
  std::uint64_t m_request_limit = k_max_body_bytes;
  FrameLimits m_limits;
  FrameReader m_reader;
  std::uint64_t m_next_id = 1;
  std::deque<std::uint64_t> m_in_flight;
  std::string m_out; // a queued hello
  std::uint64_t m_hello_id = 0;
  std::vector<std::string> m_required;
  Json m_server;
  std::string_view m_value_here; // the part of a value already read, in m_reader
  std::uint64_t m_value_left = 0; // the part still on the socket
};

} // namespace omnicache::protocol
