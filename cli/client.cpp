#include "cli/client.hpp"

#include "cli/exit_codes.hpp"
#include "cli/spawn.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <utility>

namespace omnicache::cli {

using protocol::ErrorCode;
using protocol::Json;

namespace {

bool
worth_starting(int error)
{
  return error == ENOENT || error == ECONNREFUSED;
}

} // namespace

int
connect_to_daemon(Globals& globals, Client::Start start)
{
  const auto& settings = globals.config().settings();
  const std::string& socket = settings.socket;
  const std::int64_t timeout_ms = settings.timeout_ms;
  const auto try_connect = [&socket, timeout_ms] { return protocol::connect_unix(socket, timeout_ms); };
  int fd = try_connect();
  if (fd < 0 && start == Client::Start::if_needed && worth_starting(errno)) {
    fd = start_daemon_and_connect(globals, try_connect);
  }
  if (fd < 0) {
    const int error = errno;
    if (start == Client::Start::never && worth_starting(error)) {
      throw CliError(k_exit_unreachable, fmt::format("no daemon is running on {}", socket));
    }
    throw CliError(k_exit_unreachable, fmt::format("cannot connect to {}: {}", socket, std::strerror(error)));
  }
  return fd;
}

void
rethrow_as_cli_error()
{
  try {
    throw;
  } catch (const protocol::ConnectionError& e) {
    if (e.code() == ErrorCode::unavailable) {
      throw CliError(k_exit_unreachable, e.what());
    }
    throw CliError(k_exit_daemon, fmt::format("unreadable reply from the daemon: {}", e.what()));
  } catch (const protocol::ReplyError& e) {
    const bool input = e.code() == ErrorCode::bad_request || e.code() == ErrorCode::too_large;
    throw CliError(input ? k_exit_usage : k_exit_daemon,
                   fmt::format("{} ({})", e.what(), protocol::error_code_name(e.code())));
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_usage, e.what());
  }
}

Client
Client::connect(Globals& globals, Start start)
{
  return Client(connect_to_daemon(globals, start), globals.config().settings());
}

Client::Client(int fd, const protocol::Settings& settings)
  : m_connection(fd, settings.timeout_ms),
    m_tenant(settings.tenant)
{
  m_connection.queue_hello("omnicache");
}

void
Client::send(std::string_view op, Json fields, std::string_view value)
{
  // Once the daemon has said what it can do, an operation it lacks (an older
  // daemon still running after an upgrade) is refused here, with the remedy.
  const auto* info = protocol::ops::find_op(op);
  const auto& capabilities = server().find("capabilities");
  if (info != nullptr && !info->capability.empty() && capabilities != server().end() && capabilities->is_array()
      && std::find(capabilities->begin(), capabilities->end(), std::string(info->capability)) == capabilities->end()) {
    throw CliError(k_exit_daemon,
                   fmt::format("the daemon (omnicached {}) has no '{}' operation (capability '{}'); restart it "
                               "with 'omnicache daemon restart'",
                               server().value("server_version", "?"), op, info->capability));
  }
  if (!fields.contains("tenant")) {
    fields["tenant"] = m_tenant;
  }
  m_connection.send(op, std::move(fields), value);
}

protocol::Reply
Client::call(std::string_view op, Json fields, std::string_view value)
{
  try {
    send(op, std::move(fields), value);
    auto reply = m_connection.receive();
    protocol::throw_if_error(reply);
    return reply;
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
}

void
Client::unreadable_reply(std::string_view op, const protocol::Error& error)
{
  throw CliError(k_exit_daemon, fmt::format("unreadable reply to {}: {}", op, error.what()));
}

protocol::Reply
Client::call_head(std::string_view op, Json fields)
{
  try {
    send(op, std::move(fields), {});
    auto reply = m_connection.receive_head();
    protocol::throw_if_error(reply);
    return reply;
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
}

void
Client::stream_value(const std::function<void(std::string_view)>& sink)
{
  try {
    m_connection.stream_value(sink);
  } catch (const protocol::Error&) {
    rethrow_as_cli_error();
  }
}

} // namespace omnicache::cli
