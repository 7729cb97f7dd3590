#pragma once

#include "cli/globals.hpp"
#include "protocol/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace omnicache::cli {

// A blocking connection to the daemon. The hello goes out in the same write
// as the first request, so greeting costs no extra round trip.
class Client
{
public:
  enum class Start { if_needed, never };

  // Connects to the configured socket. With Start::if_needed a daemon is
  // started when none answers (under a lock, so racing commands start one).
  // Throws CliError(k_exit_unreachable), with the daemon's own reason when
  // the one started could not start (at once, not after a timeout).
  static Client connect(Globals& globals, Start start = Start::if_needed);

  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&&) = delete;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request (with the tenant unless `fields` names one) and returns
  // the reply. An error reply throws CliError: k_exit_usage for BAD_REQUEST
  // and TOO_LARGE, k_exit_daemon otherwise.
  protocol::Reply call(std::string_view op, protocol::Json fields = protocol::Json::object(),
                       std::string_view value = {});

  // The server's hello reply (after the first call).
  const protocol::Json& server() const { return m_server; }

private:
  Client(int fd, std::string tenant, std::int64_t timeout_ms);
  void send_all(const std::string& bytes);
  static void throw_if_error(const protocol::Reply& reply);
  protocol::Reply receive();
  void read_exact(char* data, std::size_t n);

  int m_fd = -1;
  std::string m_tenant;
  std::int64_t m_timeout_ms = 0;
  std::uint64_t m_next_id = 1;
  bool m_greeted = false;
  protocol::Json m_server;
  std::string m_body;
};

} // namespace omnicache::cli
