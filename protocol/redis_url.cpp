#include "protocol/redis_url.hpp"

#include <charconv>

namespace omnicache::protocol {

namespace {

template <typename Number>
bool
parse_number(std::string_view text, Number& out)
{
  if (text.empty()) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// %XX escapes in the user and password, so that they may hold @ : /.
std::optional<std::string>
percent_decode(std::string_view text)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) {
      return std::nullopt;
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

bool
fail(std::string* why, std::string text)
{
  if (why != nullptr) {
    *why = std::move(text);
  }
  return false;
}

// Splits "[[user]:password@]rest" into the URL's credentials and the rest.
bool
take_credentials(std::string_view& rest, RedisUrl& url, std::string* why)
{
  const auto at = rest.rfind('@');
  if (at == std::string_view::npos) {
    return true;
  }
  const auto credentials = rest.substr(0, at);
  rest = rest.substr(at + 1);
  const auto colon = credentials.find(':');
  const auto user = percent_decode(credentials.substr(0, colon));
  const auto password = colon == std::string_view::npos ? std::optional<std::string>("")
                                                        : percent_decode(credentials.substr(colon + 1));
  if (!user || !password) {
    return fail(why, "a bad %-escape in the user or password");
  }
  if (colon == std::string_view::npos) {
    // redis://secret@host: a lone word is the password, as in redis-cli.
    url.password = *user;
  } else {
    url.user = *user;
    url.password = *password;
  }
  return true;
}

bool
parse_tcp(std::string_view rest, RedisUrl& url, std::string* why)
{
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size() && !parse_number(rest.substr(slash + 1), url.db)) {
    return fail(why, "the database after / must be a number");
  }
  std::string_view host = authority;
  const auto bracket = authority.rfind(']');
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    if (!parse_number(authority.substr(colon + 1), url.port) || url.port == 0) {
      return fail(why, "the port must be a number from 1 to 65535");
    }
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.find_first_of(" /?#@[]") != std::string_view::npos) {
    return fail(why, "no host name");
  }
  url.host = std::string(host);
  return true;
}

bool
parse_unix(std::string_view rest, RedisUrl& url, std::string* why)
{
  const auto query = rest.find('?');
  url.socket = std::string(rest.substr(0, query));
  if (url.socket.empty() || url.socket.front() != '/') {
    return fail(why, "a Unix socket needs an absolute path, such as unix:///run/redis/redis.sock");
  }
  if (query != std::string_view::npos) {
    const auto parameter = rest.substr(query + 1);
    if (!parameter.starts_with("db=") || !parse_number(parameter.substr(3), url.db)) {
      return fail(why, "the only query a Unix socket takes is ?db=N");
    }
  }
  return true;
}

} // namespace

Expected<RedisUrl>
parse_redis_url(std::string_view text)
{
  RedisUrl url;
  std::string why;
  std::string_view rest;
  bool unix_socket = false;
  if (text.starts_with("redis://")) {
    rest = text.substr(8);
  } else if (text.starts_with("rediss://")) {
    rest = text.substr(9);
    url.tls = true;
  } else if (text.starts_with("unix://")) {
    rest = text.substr(7);
    unix_socket = true;
  } else {
    return Error(ErrorCode::config, "it must start with redis://, rediss:// or unix://");
  }
  if (!take_credentials(rest, url, &why) || !(unix_socket ? parse_unix(rest, url, &why) : parse_tcp(rest, url, &why))) {
    return Error(ErrorCode::config, why);
  }
  return url;
}

std::string
mask_redis_url(std::string_view text)
{
  const auto scheme = text.find("://");
  const auto at = text.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
    return std::string(text);
  }
  const auto credentials = text.substr(scheme + 3, at - scheme - 3);
  const auto colon = credentials.find(':');
  const auto user = colon == std::string_view::npos ? std::string_view() : credentials.substr(0, colon);
  return std::string(text.substr(0, scheme + 3)) + std::string(user) + (colon == std::string_view::npos ? "" : ":")
         + "****" + std::string(text.substr(at));
}

} // namespace omnicache::protocol
