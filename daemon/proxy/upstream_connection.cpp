// The Upstream's pool of kept connections, and what of an answer's head is
// passed on.
#include "daemon/proxy/upstream_detail.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace omnicache::daemon::proxy::upstream_detail {

bool
iequals(std::string_view a, std::string_view b)
{
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}

bool
is_hop_by_hop(std::string_view name)
{
  return iequals(name, "Connection") || iequals(name, "Keep-Alive") || iequals(name, "Transfer-Encoding")
         || iequals(name, "Content-Length") || iequals(name, "TE") || iequals(name, "Trailer")
         || iequals(name, "Upgrade") || (name.size() >= 6 && iequals(name.substr(0, 6), "Proxy-"));
}

// Hop-by-hop fields, plus those the answer's Connection header names.
http::Headers
end_to_end_headers(const beast_http::fields& fields)
{
  std::vector<std::string_view> listed;
  for (const auto token : beast_http::token_list{fields[beast_http::field::connection]}) {
    listed.emplace_back(token.data(), token.size());
  }
  http::Headers headers;
  for (const auto& field : fields) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    const bool named = std::any_of(listed.begin(), listed.end(), [&](auto token) {
      return iequals(token, name);
    });
    if (!is_hop_by_hop(name) && !named) {
      headers.emplace_back(std::string(name), std::string(field.value()));
    }
  }
  return headers;
}

Connection::Connection(State& state) : m_state(state)
{
  // Beast reads at most what the buffer can hold without growing, 512 bytes when empty.
  buffer.reserve(k_chunk_bytes);
  if (!state.url.tls) {
    m_plain.emplace(state.io);
    return;
  }
  m_tls.emplace(state.io, *state.tls_context);
  http::expect_peer(*m_tls, state.url.host);
}

void
Connection::opened()
{
  if (!m_counted) {
    m_counted = true;
    ++m_state.open;
  }
  error_code ignored;
  socket().set_option(Tcp::no_delay(true), ignored);
}

void
Connection::close()
{
  error_code ignored;
  socket().close(ignored);
  if (m_counted) {
    m_counted = false;
    --m_state.open;
  }
}

bool
Connection::looks_alive()
{
  char byte = 0;
  const auto got = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void
State::drop_expired()
{
  const auto now = Clock::now();
  std::size_t expired = 0;
  while (expired < idle.size() && now - idle[expired]->idle_since > k_max_idle_age) {
    ++expired;
  }
  idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(expired));
}

std::unique_ptr<Connection>
State::take_idle()
{
  drop_expired();
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (connection->looks_alive()) {
      return connection;
    }
  }
  return nullptr;
}

void
State::give_back(std::unique_ptr<Connection> connection)
{
  drop_expired();
  if (idle.size() >= k_max_idle) {
    idle.erase(idle.begin());
  }
  connection->idle_since = Clock::now();
  idle.push_back(std::move(connection));
}

} // namespace omnicache::daemon::proxy::upstream_detail
