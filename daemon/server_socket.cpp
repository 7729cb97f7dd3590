// The server's listening socket: one it binds on daemon.socket, or one a
// service manager passed at start (socket activation).
#include "daemon/server.hpp"

#include "daemon/log.hpp"
#include "daemon/systemd.hpp"

#include <fmt/core.h>

#include <sys/stat.h>
#include <unistd.h>

namespace omnicache::daemon {

// The socket served, as clients name it: the passed socket's own address
// when there is one, since that is where the manager's clients connect.
std::string
Server::served_socket() const
{
  const std::string& configured = m_config->settings().socket;
  if (m_inherited_fd < 0) {
    return configured;
  }
  std::string path = systemd::bound_path(m_inherited_fd);
  if (path.empty()) {
    throw StartupError("the socket passed by the service manager (LISTEN_FDS) is not bound to an address");
  }
  if (path != configured) {
    log::warn("daemon.socket ({}) is not used: the service manager passed {}, so commands configured with "
              "daemon.socket will not reach this daemon",
              configured, path);
  }
  return path;
}

// Where the socket's lock file goes: beside the socket file, or beside
// daemon.socket for an abstract socket, which has no folder.
std::string
Server::socket_lock_base() const
{
  return m_info.socket.starts_with('@') ? m_config->settings().socket : m_info.socket;
}

Server::Acceptor
Server::open_socket()
{
  if (m_inherited_fd >= 0) {
    return adopt_socket();
  }
  remove_stale_socket(m_info.socket);
  return listen_on_socket();
}

// The manager keeps its own descriptor of the socket and listens on it
// again once we exit: what arrives after our last accept waits there for
// the next start. So the file is never unlinked nor replaced by us.
Server::Acceptor
Server::adopt_socket()
{
  Acceptor acceptor(main_worker().io);
  boost::system::error_code ec;
  acceptor.assign(boost::asio::local::stream_protocol(), m_inherited_fd, ec);
  if (ec) {
    throw StartupError(fmt::format("cannot use the socket passed by the service manager: {}", ec.message()));
  }
  m_inherited = true;
  m_inherited_fd = -1; // the acceptor owns it now
  m_socket_id = file_id(m_info.socket);
  log::info("serving the socket passed by the service manager: {}", m_info.socket);
  return acceptor;
}

// Binds and listens on daemon.socket, which must not exist, and remembers
// which file that is, so that check_socket() can tell it was removed.
Server::Acceptor
Server::listen_on_socket()
{
  const std::string& path = m_info.socket;
  Acceptor acceptor(main_worker().io);
  acceptor.open();
  const mode_t old_mask = umask(0177); // the socket is created 0600
  boost::system::error_code ec;
  acceptor.bind(boost::asio::local::stream_protocol::endpoint(path), ec);
  umask(old_mask);
  if (ec) {
    throw StartupError(fmt::format("cannot listen on {}: {}", path, ec.message()));
  }
  m_listening = true;
  m_socket_id = file_id(path);
  chmod(path.c_str(), 0600);
  acceptor.listen(boost::asio::socket_base::max_listen_connections);
  return acceptor;
}

// A socket file removed under a running daemon (a cleanup of /run or /tmp,
// a careless rm) would leave it serving nobody while the command starts a
// second daemon that cannot take the database: listen again instead.
void
Server::check_socket()
{
  const auto now = std::chrono::steady_clock::now();
  if (m_stopping || now < m_next_socket_check) {
    return;
  }
  m_next_socket_check = now + std::chrono::seconds(1);
  const auto current = file_id(m_info.socket);
  if (m_inherited) {
    // Only the manager can listen on that path again without losing the
    // connections waiting in its socket.
    if (current != m_socket_id && !m_socket_warned) {
      log::warn("the socket {} was {}; it belongs to the service manager: restart omnicached.socket "
                "(systemctl --user restart omnicached.socket)",
                m_info.socket, current ? "replaced" : "removed");
      m_socket_warned = true;
    }
    return;
  }
  if (current && current == m_socket_id) {
    return;
  }
  try {
    prepare_socket_directory(m_info.socket);
    remove_stale_socket(m_info.socket); // we hold the socket's lock: no other daemon's
    Acceptor fresh = listen_on_socket();
    boost::system::error_code ignored;
    m_acceptor->close(ignored); // its pending accept ends with operation_aborted
    m_acceptor.emplace(std::move(fresh));
    ++m_listener_generation;
    accept();
    log::warn("the socket {} was {}; listening on a new one", m_info.socket, current ? "replaced" : "removed");
    m_socket_warned = false;
  } catch (const std::exception& e) {
    if (!m_socket_warned) {
      log::warn("the socket {} was {} and cannot be created again: {}", m_info.socket,
                current ? "replaced" : "removed", e.what());
      m_socket_warned = true;
    }
  }
}

// Removes the socket file only if it is still the one this daemon created.
void
Server::unlink_own_socket()
{
  if (m_listening && !m_inherited && m_socket_id && file_id(m_info.socket) == m_socket_id) {
    unlink(m_info.socket.c_str());
  }
  m_listening = false;
}

} // namespace omnicache::daemon
