#pragma once

#include "daemon/proxy/exchange.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

// One HTTP/1.1 client connection of the proxy: reads a request, hands it to
// serve(), writes its answer (whole or as a chunked stream), and reads the
// next one while the client keeps the connection alive.
namespace omnicache::daemon::proxy {

class HttpSession : public std::enable_shared_from_this<HttpSession>
{
public:
  HttpSession(boost::asio::ip::tcp::socket socket, ThreadState& state);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void start();
  // The daemon is stopping: finish the answer in progress, then close.
  void drain();

private:
  class Reply;
  friend class Reply;

  void read_next();
  void read_header();
  void read_body();
  void refuse(unsigned status, std::string_view message);
  void refuse_too_large();
  void queue(std::string bytes);
  void write_more();
  void answered(bool keep_alive);
  void close();

  boost::beast::tcp_stream m_stream;
  ThreadState& m_state;
  ProxyMetrics& m_metrics; // outlives the thread state, which the destructor must not touch
  boost::beast::flat_buffer m_buffer;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> m_parser;
  std::deque<std::string> m_out;
  bool m_writing = false;
  bool m_busy = false;           // a request is being answered
  bool m_close_after = false;    // close once what is queued is written
  bool m_draining = false;
  bool m_closed = false;
};

} // namespace omnicache::daemon::proxy
