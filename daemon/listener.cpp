#include "daemon/listener.hpp"

#include "daemon/log.hpp"
#include "daemon/systemd.hpp"

#include <fmt/core.h>

#include <sys/stat.h>
#include <unistd.h>

namespace omnicache::daemon {

Listener::Listener(std::string configured, int inherited_fd)
  : m_configured(std::move(configured)),
    m_inherited_fd(inherited_fd)
{
}

const std::string&
Listener::resolve()
{
  if (m_inherited_fd < 0) {
    m_path = m_configured;
    return m_path;
  }
  std::string path = systemd::bound_path(m_inherited_fd);
  if (path.empty()) {
    throw StartupError("the socket passed by the service manager (LISTEN_FDS) is not bound to an address");
  }
  if (path != m_configured) {
    log::warn("daemon.socket ({}) is not used: the service manager passed {}, so commands configured with "
              "daemon.socket will not reach this daemon",
              m_configured, path);
  }
  m_path = std::move(path);
  return m_path;
}

// Beside the socket file, or beside daemon.socket for an abstract socket,
// which has no folder.
std::string
Listener::lock_base() const
{
  return m_path.starts_with('@') ? m_configured : m_path;
}

void
Listener::open(boost::asio::io_context& io)
{
  m_io = &io;
  if (m_inherited_fd >= 0) {
    m_acceptor.emplace(adopt_socket());
    return;
  }
  remove_stale_socket(m_path);
  m_acceptor.emplace(listen_on_socket());
}

// The manager keeps its own descriptor of the socket and listens on it
// again once we exit: what arrives after our last accept waits there for
// the next start. So the file is never unlinked nor replaced by us.
Listener::Acceptor
Listener::adopt_socket()
{
  Acceptor acceptor(*m_io);
  boost::system::error_code ec;
  acceptor.assign(boost::asio::local::stream_protocol(), m_inherited_fd, ec);
  if (ec) {
    throw StartupError(fmt::format("cannot use the socket passed by the service manager: {}", ec.message()));
  }
  m_inherited = true;
  m_inherited_fd = -1; // the acceptor owns it now
  m_socket_id = file_id(m_path);
  log::info("serving the socket passed by the service manager: {}", m_path);
  return acceptor;
}

// Binds and listens on daemon.socket, which must not exist, and remembers
// which file that is, so that check() can tell it was removed.
Listener::Acceptor
Listener::listen_on_socket()
{
  Acceptor acceptor(*m_io);
  acceptor.open();
  const mode_t old_mask = umask(0177); // the socket is created 0600
  boost::system::error_code ec;
  acceptor.bind(boost::asio::local::stream_protocol::endpoint(m_path), ec);
  umask(old_mask);
  if (ec) {
    throw StartupError(fmt::format("cannot listen on {}: {}", m_path, ec.message()));
  }
  m_listening = true;
  m_socket_id = file_id(m_path);
  chmod(m_path.c_str(), 0600);
  acceptor.listen(boost::asio::socket_base::max_listen_connections);
  return acceptor;
}

void
Listener::start(const std::vector<std::unique_ptr<Worker>>& workers, Admit admit, std::function<void()> refused)
{
  m_workers = &workers;
  m_admit = std::move(admit);
  m_refused = std::move(refused);
  accept();
}

void
Listener::accept()
{
  Worker& worker = *(*m_workers)[m_next_worker];
  m_next_worker = (m_next_worker + 1) % m_workers->size();
  m_acceptor->async_accept(worker.io, [this, &worker, generation = m_generation](const boost::system::error_code& ec,
                                                                                 Socket socket) {
    if (generation != m_generation) {
      // An acceptor replaced by check(); the new one has its own accept.
      if (!ec) {
        m_admit(std::move(socket), worker);
      }
      return;
    }
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) {
        return;
      }
      log::warn("accept failed: {}", ec.message());
      if (ec == boost::asio::error::no_descriptors) {
        // The listener stays readable: accepting again at once would spin.
        m_refused();
        accept_later();
        return;
      }
    } else {
      m_admit(std::move(socket), worker);
    }
    if (!m_closed) {
      accept();
    }
  });
}

void
Listener::accept_later()
{
  if (!m_accept_timer) {
    m_accept_timer.emplace(*m_io);
  }
  m_accept_timer->expires_after(std::chrono::milliseconds(100));
  m_accept_timer->async_wait([this, generation = m_generation](const boost::system::error_code& ec) {
    if (!ec && !m_closed && generation == m_generation) {
      accept();
    }
  });
}

// A socket file removed under a running daemon (a cleanup of /run or /tmp,
// a careless rm) would leave it serving nobody while the command starts a
// second daemon that cannot take the database: listen again instead.
void
Listener::check()
{
  const auto now = std::chrono::steady_clock::now();
  if (m_closed || now < m_next_check) {
    return;
  }
  m_next_check = now + std::chrono::seconds(1);
  const auto current = file_id(m_path);
  if (m_inherited) {
    // Only the manager can listen on that path again without losing the
    // connections waiting in its socket.
    if (current != m_socket_id && !m_warned) {
      log::warn("the socket {} was {}; it belongs to the service manager: restart omnicached.socket "
                "(systemctl --user restart omnicached.socket)",
                m_path, current ? "replaced" : "removed");
      m_warned = true;
    }
    return;
  }
  if (current && current == m_socket_id) {
    return;
  }
  try {
    prepare_socket_directory(m_path);
    remove_stale_socket(m_path); // we hold the socket's lock: no other daemon's
    Acceptor fresh = listen_on_socket();
    boost::system::error_code ignored;
    m_acceptor->close(ignored); // its pending accept ends with operation_aborted
    m_acceptor.emplace(std::move(fresh));
    ++m_generation;
    accept();
    log::warn("the socket {} was {}; listening on a new one", m_path, current ? "replaced" : "removed");
    m_warned = false;
  } catch (const std::exception& e) {
    if (!m_warned) {
      log::warn("the socket {} was {} and cannot be created again: {}", m_path, current ? "replaced" : "removed",
                e.what());
      m_warned = true;
    }
  }
}

void
Listener::close()
{
  m_closed = true;
  boost::system::error_code ignored;
  if (m_acceptor) {
    m_acceptor->close(ignored);
  }
  if (m_accept_timer) {
    m_accept_timer->cancel();
  }
  // A passed socket stays, and what arrives waits in it for the next start.
  unlink_own_socket();
}

void
Listener::release()
{
  m_accept_timer.reset();
  m_acceptor.reset();
}

void
Listener::unlink_own_socket()
{
  if (m_listening && !m_inherited && m_socket_id && file_id(m_path) == m_socket_id) {
    unlink(m_path.c_str());
  }
  m_listening = false;
}

} // namespace omnicache::daemon
