#pragma once

#include "cli/globals.hpp"
#include "protocol/connection.hpp"
#include "protocol/message.hpp"
#include "protocol/ops/ops.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace omnicache::cli {

// The command's connection to the daemon, a protocol::Connection that adds
// the tenant to each request and turns failures into CliErrors. The hello
// goes out in the same write as the first request, so greeting costs no
// extra round trip.
class Client
{
public:
  enum class Start { if_needed, never };

  // Connects to the configured socket. With Start::if_needed a daemon is
  // started when none answers (under a lock, so racing commands start one).
  // Throws CliError(k_exit_unreachable), with the daemon's own reason when
  // the one started could not start (at once, not after a timeout).
  static Client connect(Globals& globals, Start start = Start::if_needed);

  Client(Client&& other) noexcept = default;
  Client& operator=(Client&&) = delete;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request (with the tenant unless `fields` names one) and returns
  // the reply. An error reply throws CliError: k_exit_usage for BAD_REQUEST
  // and TOO_LARGE, k_exit_daemon otherwise.
  protocol::Reply call(std::string_view op, protocol::Json fields = protocol::Json::object(),
                       std::string_view value = {});
  // The typed form: the operation's request struct in, its reply struct out
  // (a reply that does not read as one is the daemon's error).
  template <class Op>
  typename Op::Reply call(const typename Op::Request& request)
  {
    std::string_view value;
    if constexpr (requires { request.value.owner; }) {
      value = request.value.bytes;
    }
    auto reply = call(Op::name, protocol::ops::to_header(request), value);
    auto out = read_reply<typename Op::Reply>(Op::name, reply.header);
    if constexpr (requires { out.value.size(); }) {
      out.value = std::move(reply.value);
    }
    return out;
  }

  // As call(), but the reply's value is left on the socket, for
  // stream_value() to hand over in pieces: a large value is never held whole.
  protocol::Reply call_head(std::string_view op, protocol::Json fields = protocol::Json::object());
  void stream_value(const std::function<void(std::string_view)>& sink);

  // The typed form: the reply's header read as the operation's reply
  // struct; its value is left for stream_value().
  template <class Op>
  typename Op::Reply call_head(const typename Op::Request& request)
  {
    return read_reply<typename Op::Reply>(Op::name, call_head(Op::name, protocol::ops::to_header(request)).header);
  }

  // A reply header read as `Reply`; one that does not read as one is the
  // daemon's error (CliError k_exit_daemon). For replies read off another
  // connection (run's Channel) as Client reads its own.
  template <class Reply>
  static Reply read_reply(std::string_view op, const protocol::Json& header)
  {
    try {
      return protocol::ops::decode<Reply>(header);
    } catch (const protocol::Error& e) {
      unreadable_reply(op, e);
    }
  }

  // The server's hello reply (after the first call).
  const protocol::Json& server() const { return m_connection.server(); }

private:
  [[noreturn]] static void unreadable_reply(std::string_view op, const protocol::Error& error);

  Client(int fd, const protocol::Settings& settings);
  void send(std::string_view op, protocol::Json fields, std::string_view value);

  protocol::Connection m_connection;
  std::string m_tenant;
};

// Connects to the configured socket, starting a daemon as Client::connect
// does; returns the socket. Throws CliError(k_exit_unreachable).
int connect_to_daemon(Globals& globals, Client::Start start);

// Call inside a catch block: rethrows the protocol's exception in flight as
// the CliError the command exits with. A broken connection is
// k_exit_unreachable, an unreadable reply k_exit_daemon, an error reply as
// Client::call says, and a request refused before it was sent k_exit_usage.
[[noreturn]] void rethrow_as_cli_error();

} // namespace omnicache::cli
