#pragma once

#include "cli/client.hpp"
#include "cli/globals.hpp"
#include "protocol/connection.hpp"
#include "protocol/message.hpp"
#include "protocol/ops/ops.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace omnicache::cli::run {

// A connection to the daemon that never holds a whole value:
// a request's value goes from files to the socket in the kernel (sendfile),
// and a reply's value is read piece by piece. A 100 MiB output is neither
// copied into a request nor read into one string to be replayed.
class Channel
{
public:
  // Starts the daemon when none answers, as Client::connect does, and
  // greets it with the first request. Throws CliError(k_exit_unreachable).
  static Channel open(Globals& globals);

  struct Reply
  {
    protocol::Json header;
    std::uint64_t value_size = 0; // to be read with read_value()
  };

  // Sends a request (with the tenant) whose value is `prefix` followed by
  // the whole of each of `files`. Throws CliError: k_exit_usage when the
  // frame would be over limits.max_frame_bytes (nothing is sent then),
  // k_exit_unreachable when the connection fails.
  void send(std::string_view op, protocol::Json fields, std::string_view prefix = {}, std::span<const int> files = {});

  // Reads the next reply up to its value. An error reply throws CliError as
  // Client::call does; a late one, k_exit_unreachable.
  Reply receive();

  // Reads up to `n` bytes of the last reply's value; 0 once it is all read.
  std::size_t read_value(char* data, std::size_t n);

  // One request without a value; the reply's value is not read.
  Reply call(std::string_view op, protocol::Json fields);

  // The typed forms: the operation's request struct out, its reply struct
  // in (a reply that does not read as one is the daemon's error, as for
  // Client), the reply's value left to read_value().
  template <class Op>
  struct Answer
  {
    typename Op::Reply reply;
    std::uint64_t value_size = 0;
  };
  template <class Op>
  void send(const typename Op::Request& request, std::string_view prefix = {}, std::span<const int> files = {})
  {
    send(Op::name, protocol::ops::to_header(request), prefix, files);
  }
  template <class Op>
  Answer<Op> receive()
  {
    auto raw = receive();
    return {Client::read_reply<typename Op::Reply>(Op::name, raw.header), raw.value_size};
  }
  template <class Op>
  Answer<Op> call(const typename Op::Request& request)
  {
    send<Op>(request);
    return receive<Op>();
  }

private:
  Channel(protocol::Connection connection, std::string tenant);
  void send_file(int file, std::uint64_t size);

  protocol::Connection m_connection;
  std::string m_tenant;
};

} // namespace omnicache::cli::run
