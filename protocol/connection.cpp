#include "protocol/connection.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace omnicache::protocol {

namespace {

// A reply frame up to this size is read whole, in one piece; a longer one's
// value is left on the socket for the caller to take (or skip) as it comes.
constexpr std::size_t k_whole_frame_bytes = 64 * 1024;
constexpr std::size_t k_value_chunk = 64 * 1024;

int
poll_timeout(std::int64_t timeout_ms)
{
  return timeout_ms > 0 ? static_cast<int>(std::min<std::int64_t>(timeout_ms, INT_MAX)) : -1;
}

[[noreturn]] void
lost(int error)
{
  throw ConnectionError(ErrorCode::unavailable, fmt::format("lost the connection to the daemon: {}", std::strerror(error)));
}

// A reply that cannot be read is the connection's failure, not an error reply.
template <typename F>
auto
as_unreadable(F&& f)
{
  try {
    return f();
  } catch (const ConnectionError&) {
    throw;
  } catch (const Error& e) {
    throw ConnectionError(e.code(), e.what());
  }
}

} // namespace

int
connect_unix(const std::string& path, std::int64_t timeout_ms)
{
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  // Non-blocking only while connecting: a Unix socket whose listener's queue
  // is full says EAGAIN at once rather than waiting, so that the wait can be
  // bounded here.
  const int flags = SOCK_STREAM | SOCK_CLOEXEC | (timeout_ms > 0 ? SOCK_NONBLOCK : 0);
  const int fd = socket(AF_UNIX, flags, 0);
  if (fd < 0) {
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
      break;
    }
    int error = errno;
    if (error == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(10000));
      continue;
    }
    if (error != EINTR) {
      close(fd);
      errno = error == EAGAIN ? ETIMEDOUT : error;
      return -1;
    }
  }
  if (timeout_ms > 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  }
  return fd;
}

void
throw_if_error(const Reply& reply)
{
  if (!reply.ok) {
    throw ReplyError(reply.error_code, reply.error_message);
  }
}

Connection::Connection(int fd, std::int64_t timeout_ms, FrameLimits limits)
  : m_fd(fd),
    m_limits(limits),
    m_reader(limits)
{
  set_timeout(timeout_ms);
}

Connection
Connection::open(const std::string& path, std::int64_t timeout_ms, FrameLimits limits)
{
  const int fd = connect_unix(path, timeout_ms);
  if (fd < 0) {
    throw ConnectionError(ErrorCode::unavailable, fmt::format("cannot connect to {}: {}", path, std::strerror(errno)));
  }
  return Connection(fd, timeout_ms, limits);
}

Connection::~Connection()
{
  close_socket();
}

Connection::Connection(Connection&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)),
    m_timeout_ms(other.m_timeout_ms),
    m_request_limit(other.m_request_limit),
    m_limits(other.m_limits),
    m_reader(std::move(other.m_reader)),
    m_next_id(other.m_next_id),
    m_in_flight(std::move(other.m_in_flight)),
    m_out(std::move(other.m_out)),
    m_hello_id(other.m_hello_id),
    m_required(std::move(other.m_required)),
    m_server(std::move(other.m_server)),
    m_value_here(std::exchange(other.m_value_here, {})),
    m_value_left(std::exchange(other.m_value_left, 0))
{
}

Connection&
Connection::operator=(Connection&& other) noexcept
{
  if (this != &other) {
    close_socket();
    m_fd = std::exchange(other.m_fd, -1);
    m_timeout_ms = other.m_timeout_ms;
    m_request_limit = other.m_request_limit;
    m_limits = other.m_limits;
    m_reader = std::move(other.m_reader);
    m_next_id = other.m_next_id;
    m_in_flight = std::move(other.m_in_flight);
    m_out = std::move(other.m_out);
    m_hello_id = other.m_hello_id;
    m_required = std::move(other.m_required);
    m_server = std::move(other.m_server);
    m_value_here = std::exchange(other.m_value_here, {});
    m_value_left = std::exchange(other.m_value_left, 0);
  }
  return *this;
}

int
Connection::release()
{
  if (!m_in_flight.empty() || value_left() > 0 || m_reader.buffered() > 0) {
    throw Error(ErrorCode::internal, "a connection with replies still to read cannot be handed over");
  }
  return std::exchange(m_fd, -1);
}

void
Connection::close_socket()
{
  if (m_fd >= 0) {
    close(m_fd);
    m_fd = -1;
  }
}

void
Connection::set_timeout(std::int64_t timeout_ms)
{
  m_timeout_ms = timeout_ms;
  if (m_fd >= 0) {
    // Bounds a send to a daemon that stopped reading, as the poll in
    // read_some() bounds a reply; zero means no bound.
    const std::int64_t ms = std::max<std::int64_t>(timeout_ms, 0);
    const timeval limit{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  }
}

void
Connection::queue_hello(std::string_view client, std::vector<std::string> required)
{
  Json fields{{"version", k_protocol_version}, {"client", client}};
  if (!required.empty()) {
    fields["require"] = required;
  }
  m_hello_id = m_next_id++;
  m_out += encode_head(m_hello_id, "hello", std::move(fields), 0);
  m_in_flight.push_back(m_hello_id);
  m_required = std::move(required);
}

const Json&
Connection::hello(std::string_view client, std::vector<std::string> required)
{
  queue_hello(client, std::move(required));
  write_all({}, {});
  skip_value();
  read_hello();
  return m_server;
}

std::string
Connection::encode_head(std::uint64_t id, std::string_view op, Json fields, std::uint64_t value_size)
{
  const std::string header = request_header(id, op, std::move(fields));
  const std::uint64_t body = k_prefix_bytes + header.size() + value_size;
  if (body > m_request_limit) {
    throw Error(ErrorCode::too_large, fmt::format("a request of {} bytes is over limits.max_frame_bytes ({} bytes)",
                                                  body, m_request_limit));
  }
  std::string head;
  append_frame_head(head, header, static_cast<std::size_t>(value_size));
  return head;
}

std::uint64_t
Connection::send(std::string_view op, Json fields, std::string_view value)
{
  const std::uint64_t id = queue_request(op, std::move(fields), value.size());
  write_all({}, value);
  return id;
}

std::uint64_t
Connection::send_head(std::string_view op, Json fields, std::uint64_t value_size)
{
  const std::uint64_t id = queue_request(op, std::move(fields), value_size);
  write_all({}, {});
  return id;
}

std::uint64_t
Connection::queue_request(std::string_view op, Json fields, std::uint64_t value_size)
{
  const std::uint64_t id = m_next_id;
  m_out += encode_head(id, op, std::move(fields), value_size);
  ++m_next_id;
  m_in_flight.push_back(id);
  return id;
}

void
Connection::write(std::string_view bytes)
{
  write_all(bytes, {});
}

// Writes what is queued in m_out, then `first` and `second`, in as few calls
// as the socket takes: a large value goes from the caller's memory.
void
Connection::write_all(std::string_view first, std::string_view second)
{
  std::string_view parts[3] = {m_out, first, second};
  std::size_t part = 0;
  while (part < 3) {
    iovec io[3];
    int count = 0;
    for (std::size_t i = part; i < 3; ++i) {
      if (!parts[i].empty()) {
        io[count++] = {const_cast<char*>(parts[i].data()), parts[i].size()};
      }
    }
    if (count == 0) {
      break;
    }
    msghdr message{};
    message.msg_iov = io;
    message.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = sendmsg(m_fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      m_out.clear();
      fail_send(error);
    }
    auto done = static_cast<std::size_t>(n);
    while (part < 3 && done >= parts[part].size()) {
      done -= parts[part].size();
      ++part;
    }
    if (part < 3) {
      parts[part].remove_prefix(done);
    }
  }
  m_out.clear();
}

void
Connection::fail_send(int error)
{
  // The daemon may have said why before it closed (BUSY, a frame over its
  // limit): that reason is worth more than a broken pipe.
  try {
    throw_if_error(receive());
  } catch (const ConnectionError&) {
  }
  lost(error);
}

Reply
Connection::receive_head()
{
  skip_value();
  if (m_hello_id != 0 && !m_in_flight.empty() && m_in_flight.front() == m_hello_id) {
    read_hello();
  }
  return read_reply_head();
}

Reply
Connection::receive()
{
  Reply reply = receive_head();
  const std::uint64_t size = value_left();
  if (size > 0) {
    reply.value.reserve(static_cast<std::size_t>(size));
    reply.value.assign(m_value_here);
    m_value_here = {};
    const std::size_t here = reply.value.size();
    reply.value.resize(static_cast<std::size_t>(size));
    read_exact(reply.value.data() + here, static_cast<std::size_t>(m_value_left));
    m_value_left = 0;
  }
  return reply;
}

Reply
Connection::call(std::string_view op, Json fields, std::string_view value)
{
  send(op, std::move(fields), value);
  Reply reply = receive();
  throw_if_error(reply);
  return reply;
}

void
Connection::read_hello()
{
  m_hello_id = 0;
  Reply reply = read_reply_head();
  skip_value();
  throw_if_error(reply);
  const auto capabilities = reply.header.find("capabilities");
  for (const auto& name : m_required) {
    // The server refuses a `require` it cannot meet; this catches one that
    // does not know the field.
    if (capabilities == reply.header.end() || !capabilities->is_array()
        || std::find(capabilities->begin(), capabilities->end(), name) == capabilities->end()) {
      throw ReplyError(ErrorCode::unsupported, fmt::format("the daemon lacks the capability '{}'", name));
    }
  }
  m_server = std::move(reply.header);
}

// The frame's length goes through the FrameReader, which refuses one over
// the limit before any buffer is sized from it. A short frame is then read
// whole; a long one up to its value, which stays on the socket.
Reply
Connection::read_reply_head()
{
  if (m_in_flight.empty()) {
    throw Error(ErrorCode::internal, "no request is waiting for a reply");
  }
  const std::uint64_t expected = m_in_flight.front();
  m_in_flight.pop_front();
  m_reader.compact();
  read_exact(m_reader.prepare(k_prefix_bytes), k_prefix_bytes);
  m_reader.commit(k_prefix_bytes);
  Reply reply = as_unreadable([&] {
    auto body = m_reader.next(); // throws for a frame over the limit
    const std::size_t missing = body ? 0 : m_reader.missing();
    if (body || missing <= k_whole_frame_bytes) {
      if (!body) {
        read_exact(m_reader.prepare(missing), missing);
        m_reader.commit(missing);
        body = m_reader.next();
      }
      const BodyView view = split_body(*body, m_limits.max_header_bytes);
      Reply head = parse_reply({view.header, {}});
      m_value_here = view.value;
      return head;
    }
    m_reader = FrameReader(m_limits);
    char length[k_prefix_bytes];
    read_exact(length, sizeof length);
    const std::uint32_t header_length = read_u32be(length);
    if (header_length > m_limits.max_header_bytes) {
      throw Error(ErrorCode::too_large, fmt::format("header of {} bytes is over the limit of {} bytes", header_length,
                                                    m_limits.max_header_bytes));
    }
    if (header_length > missing - k_prefix_bytes) {
      throw Error(ErrorCode::bad_frame, fmt::format("header length {} runs past the end of a {}-byte frame body",
                                                    header_length, missing));
    }
    std::string header(header_length, '\0');
    read_exact(header.data(), header.size());
    Reply head = parse_reply({header, {}});
    m_value_left = missing - k_prefix_bytes - header_length;
    return head;
  });
  // Replies come in request order; one the daemon could not tie to a request
  // (a frame it could not read) carries id 0.
  if (reply.id != expected && (reply.ok || reply.id != 0)) {
    throw ConnectionError(ErrorCode::bad_frame,
                          fmt::format("a reply for request {} came when request {} was next", reply.id, expected));
  }
  return reply;
}

std::size_t
Connection::read_value(char* data, std::size_t n)
{
  if (!m_value_here.empty()) {
    const std::size_t got = std::min(n, m_value_here.size());
    std::memcpy(data, m_value_here.data(), got);
    m_value_here.remove_prefix(got);
    return got;
  }
  const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(n, m_value_left));
  if (wanted == 0) {
    return 0;
  }
  const std::size_t got = read_some(data, wanted);
  m_value_left -= got;
  return got;
}

void
Connection::stream_value(const std::function<void(std::string_view)>& sink)
{
  if (!m_value_here.empty()) {
    sink(std::exchange(m_value_here, {}));
  }
  if (m_value_left == 0) {
    return;
  }
  std::string buffer(static_cast<std::size_t>(std::min<std::uint64_t>(k_value_chunk, m_value_left)), '\0');
  while (const std::size_t got = read_value(buffer.data(), buffer.size())) {
    sink({buffer.data(), got});
  }
}

void
Connection::skip_value()
{
  m_value_here = {};
  char buffer[4096];
  while (m_value_left > 0) {
    read_value(buffer, sizeof buffer);
  }
}

void
Connection::read_exact(char* data, std::size_t n)
{
  for (std::size_t got = 0; got < n;) {
    got += read_some(data + got, n - got);
  }
}

std::size_t
Connection::read_some(char* data, std::size_t n)
{
  for (;;) {
    pollfd pfd{m_fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, poll_timeout(m_timeout_ms));
    if (ready == 0) {
      throw ConnectionError(ErrorCode::unavailable,
                            fmt::format("the daemon did not answer within {} ms", m_timeout_ms));
    }
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw ConnectionError(ErrorCode::unavailable, fmt::format("waiting for the daemon: {}", std::strerror(errno)));
    }
    const ssize_t r = recv(m_fd, data, n, 0);
    if (r > 0) {
      return static_cast<std::size_t>(r);
    }
    if (r == 0) {
      throw ConnectionError(ErrorCode::unavailable, "the daemon closed the connection");
    }
    if (errno != EINTR) {
      lost(errno);
    }
  }
}

} // namespace omnicache::protocol
