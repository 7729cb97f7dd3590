#pragma once

#include "protocol/redis_url.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

// A Redis client on Asio: hiredis formats the commands and parses the
// replies (RESP2); the sockets, TLS and timeouts are Asio's, so a slow or
// absent Redis never blocks a thread.
namespace omnicache::daemon::tier {

// One reply, copied out of hiredis's reader.
struct RedisReply
{
  enum class Type { nil, string, status, error, integer, array };
  Type type = Type::nil;
  std::string text; // string, status and error
  std::int64_t integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
  bool is_nil() const { return type == Type::nil; }
};

// A command's words, as redis-cli would take them.
using RedisCommand = std::vector<std::string>;
// The command in RESP, as it goes to Redis (hiredis formats it).
std::string format_command(const RedisCommand& command);
// Every value in `bytes`, which holds RESP and nothing else (a file of
// commands, say). Throws protocol::Error (bad_file) naming how far it got
// when the bytes are not RESP or end inside a value.
std::vector<RedisReply> parse_replies(std::string_view bytes);

// `error` is empty when Redis answered (the reply may still be an error
// reply); otherwise it says why the connection failed and `reply` is nil.
using RedisDone = std::function<void(const std::string& error, RedisReply reply)>;

// One connection. Commands are pipelined and answered in order. Any failure
// (refused, closed, a reply later than its deadline) closes the connection
// and fails every command still waiting; the owner makes a new one. Used on
// its io_context's thread only.
class RedisConnection : public std::enable_shared_from_this<RedisConnection>
{
public:
  RedisConnection(boost::asio::io_context& io, const protocol::RedisUrl& url, boost::asio::ssl::context* tls);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects, logs in (AUTH) and selects the database within `timeout`,
  // then calls `ready`. `closed` is called once when the connection fails
  // (before or after it was ready), after every waiting command was failed.
  void connect(std::chrono::milliseconds timeout, std::function<void()> ready,
               std::function<void(const std::string& why)> closed);
  // Sends `command`; its reply must come within `timeout`.
  void send(const RedisCommand& command, std::chrono::milliseconds timeout, RedisDone done);
  void close(const std::string& why = "closed");

  bool ready() const { return m_ready; }
  std::size_t waiting() const { return m_waiting.size(); }

private:
  using Tcp = boost::asio::ip::tcp;
  using Local = boost::asio::local::stream_protocol;
  struct Waiting
  {
    RedisDone done;
    std::chrono::steady_clock::time_point deadline;
  };

  void resolved(Tcp::resolver::results_type endpoints);
  void transport_ready();
  void log_in();
  void write_more();
  void read_more();
  void received(std::size_t bytes);
  void arm_deadline();
  void fail(const std::string& why);
  template <typename Handler> void async_write(Handler&& handler);
  template <typename Handler> void async_read(Handler&& handler);

  boost::asio::io_context& m_io;
  protocol::RedisUrl m_url;
  boost::asio::ssl::context* m_tls_context;
  std::variant<std::monostate, Tcp::socket, Local::socket, boost::asio::ssl::stream<Tcp::socket>> m_stream;
  Tcp::resolver m_resolver;
  boost::asio::steady_timer m_deadline;
  std::function<void()> m_ready_handler;
  std::function<void(const std::string&)> m_closed_handler;
  void* m_reader = nullptr; // redisReader
  std::deque<Waiting> m_waiting;
  std::string m_outbox;  // formatted commands not yet written
  std::string m_writing; // the bytes of the write in flight
  std::array<char, 64 * 1024> m_buffer{};
  bool m_ready = false;
  bool m_closed = false;
};

} // namespace omnicache::daemon::tier
