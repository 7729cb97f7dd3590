#pragma once

#include <string>
#include <string_view>

// The two small interfaces of systemd a daemon speaks, implemented here
// rather than through libsystemd: the socket handed over at start
// (sd_listen_fds(3)) and the state reported back (sd_notify(3)). Both work
// the same under systemd-socket-activate and any manager that follows them.
namespace omnicache::daemon::systemd {

// The listening socket a service manager passed in LISTEN_FDS, for this
// process (LISTEN_PID); -1 when none was. LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES are removed from the environment either way. The socket
// is checked (a listening AF_UNIX stream socket) and made close-on-exec;
// further sockets are closed with a warning. Throws StartupError naming
// what is wrong when a socket was passed that cannot be served.
int take_listening_socket();

// The address a Unix socket is bound to: a path, "@name" for an abstract
// name, or empty when it has none.
std::string bound_path(int fd);

// Reports the daemon's state to the service manager at NOTIFY_SOCKET (a
// path, or "@name" for an abstract socket). Without NOTIFY_SOCKET every
// call does nothing. A message that cannot be sent is logged once, at
// debug: a manager that stopped listening must not stop the daemon.
class Notifier
{
public:
  Notifier() = default;
  // Reads NOTIFY_SOCKET and removes it, so that no child inherits it.
  static Notifier from_environment();

  bool enabled() const { return !m_address.empty(); }
  // READY=1 with MAINPID and STATUS: requests are being accepted.
  void ready(std::string_view status);
  // RELOADING=1 with MONOTONIC_USEC, before the configuration is read again.
  void reloading();
  void stopping(std::string_view status);

private:
  void send(const std::string& message);

  std::string m_address;
  bool m_failed = false;
};

} // namespace omnicache::daemon::systemd
