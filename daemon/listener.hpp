#pragma once

#include "daemon/lifetime.hpp"
#include "daemon/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace omnicache::daemon {

// The daemon's listening Unix socket: one it binds on daemon.socket, or one
// a service manager passed at start (socket activation). Accepts on one
// event loop and hands each connection to the serving threads in turn; binds
// again when the socket file is removed under it. Used on the accepting
// thread only.
class Listener
{
public:
  using Socket = boost::asio::local::stream_protocol::socket;
  // Called for each connection accepted, with the serving thread it goes to.
  using Admit = std::function<void(Socket socket, Worker& worker)>;

  // `configured`: daemon.socket. `inherited_fd`: the socket a service
  // manager passed (-1: none).
  Listener(std::string configured, int inherited_fd);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The socket served, as clients name it: the passed socket's own address
  // when there is one. Throws StartupError. Call it first.
  const std::string& resolve();
  const std::string& path() const { return m_path; }
  // Where the socket's lock file goes (without ".lock").
  std::string lock_base() const;
  // Binds or adopts the socket on `io`. Throws StartupError.
  void open(boost::asio::io_context& io);
  // Accepts until close(). `refused` counts a connection the process had no
  // descriptor for.
  void start(const std::vector<std::unique_ptr<Worker>>& workers, Admit admit, std::function<void()> refused);
  // Once a tick: listens again when the socket file was removed.
  void check();
  // Stops accepting; a socket file of ours is removed, so that new clients
  // find none rather than one nobody answers.
  void close();
  // Before the event loop is destroyed.
  void release();
  // Removes the socket file only if it is still the one this daemon created.
  void unlink_own_socket();
  // Serving a socket the service manager owns.
  bool inherited() const { return m_inherited; }

private:
  using Acceptor = boost::asio::local::stream_protocol::acceptor;

  Acceptor adopt_socket();
  Acceptor listen_on_socket();
  void accept();
  void accept_later();

  std::string m_configured;
  std::string m_path;
  boost::asio::io_context* m_io = nullptr;
  const std::vector<std::unique_ptr<Worker>>* m_workers = nullptr;
  Admit m_admit;
  std::function<void()> m_refused;
  std::optional<Acceptor> m_acceptor;
  std::optional<boost::asio::steady_timer> m_accept_timer;
  std::size_t m_next_worker = 0;
  int m_inherited_fd = -1;           // passed by a service manager, until adopted
  bool m_inherited = false;          // serving a socket the service manager owns
  std::optional<FileId> m_socket_id; // the socket file we created, or the one passed
  std::uint64_t m_generation = 0;    // of the acceptor, replaced by check()
  bool m_warned = false;             // about a socket we cannot re-create
  std::chrono::steady_clock::time_point m_next_check;
  bool m_listening = false;
  bool m_closed = false;
};

} // namespace omnicache::daemon
