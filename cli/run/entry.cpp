#include "cli/run/entry.hpp"

#include "cli/exit_codes.hpp"
#include "cli/run/fd.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace omnicache::cli::run {

using protocol::Json;

namespace {

constexpr std::uint32_t k_max_header_bytes = 1 << 16;

bool
starts_with_marker(int spool)
{
  char start[k_marker.size()];
  return pread(spool, start, sizeof start, 0) == static_cast<ssize_t>(sizeof start)
         && std::string_view(start, sizeof start) == k_marker;
}

void
read_fully(Channel& channel, char* data, std::size_t n)
{
  for (std::size_t got = 0; got < n;) {
    const std::size_t r = channel.read_value(data + got, n - got);
    if (r == 0) {
      throw CliError(k_exit_daemon, "a stored run's value is cut short");
    }
    got += r;
  }
}

void
put(int fd, std::string_view bytes)
{
  if (!write_all(fd, bytes)) {
    throw CliError(k_exit_usage, fmt::format("cannot write the cached output: {}", std::strerror(errno)));
  }
}

// Copies `n` bytes of the value (or all that is left) to `fd`.
void
copy(Channel& channel, int fd, std::uint64_t n)
{
  char buffer[1 << 16];
  while (n > 0) {
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof buffer));
    const std::size_t r = channel.read_value(buffer, wanted);
    if (r == 0) {
      return;
    }
    put(fd, {buffer, r});
    n -= r;
  }
}

} // namespace

std::string
value_prefix(int exit_status, std::uint64_t stderr_bytes, int stdout_spool)
{
  if (exit_status == 0 && stderr_bytes == 0 && !starts_with_marker(stdout_spool)) {
    return {};
  }
  const std::string header = Json{{"exit_status", exit_status}, {"stderr_bytes", stderr_bytes}}.dump();
  std::string out(k_marker);
  char length[protocol::k_prefix_bytes];
  protocol::write_u32be(length, static_cast<std::uint32_t>(header.size()));
  out.append(length, sizeof length);
  out += header;
  return out;
}

int
replay(Channel& channel, std::uint64_t size)
{
  char start[k_marker.size()];
  const std::size_t have = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof start));
  read_fully(channel, start, have);
  if (std::string_view(start, have) != k_marker) {
    put(STDOUT_FILENO, {start, have});
    copy(channel, STDOUT_FILENO, size - have);
    return 0;
  }
  char length[protocol::k_prefix_bytes];
  read_fully(channel, length, sizeof length);
  const std::uint32_t header_size = protocol::read_u32be(length);
  if (header_size > k_max_header_bytes) {
    throw CliError(k_exit_daemon, "a stored run's value has an unreadable header");
  }
  std::string text(header_size, '\0');
  read_fully(channel, text.data(), text.size());
  const Json header = Json::parse(text, nullptr, false);
  const auto status = header.is_object() ? header.find("exit_status") : header.end();
  const auto stderr_bytes = header.is_object() ? header.find("stderr_bytes") : header.end();
  if (status == header.end() || !status->is_number_integer() || stderr_bytes == header.end()
      || !stderr_bytes->is_number_unsigned()) {
    throw CliError(k_exit_daemon, "a stored run's value has an unreadable header");
  }
  copy(channel, STDERR_FILENO, stderr_bytes->get<std::uint64_t>());
  copy(channel, STDOUT_FILENO, UINT64_MAX);
  return status->get<int>();
}

} // namespace omnicache::cli::run
