// Routing, tokens and tenants, request controls, and the upstream calls every
// endpoint shares. What is cached and how is in cached.cpp and embeddings.cpp.
#include "daemon/proxy/flow.hpp"

#include "daemon/log.hpp"
#include "protocol/canonical.hpp"
#include "protocol/units.hpp"

#include <boost/beast/http/field.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;
using protocol::Json;

namespace {

std::string
lower(std::string_view text)
{
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view
trim(std::string_view text)
{
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string>
split_list(std::string_view text)
{
  std::vector<std::string> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) {
      items.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return items;
}

// Headers that describe one hop, not the request; the upstream connection has
// its own. Accept-Encoding goes too: the proxy reads and stores the answer, so
// it asks for it uncompressed.
bool
is_hop_header(std::string_view name)
{
  static constexpr std::string_view k_hop[] = {
    "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",     "trailer",
    "transfer-encoding", "upgrade", "host",        "content-length",      "expect", "accept-encoding",
  };
  return std::find(std::begin(k_hop), std::end(k_hop), name) != std::end(k_hop) || name.starts_with("x-omnicache-");
}

std::optional<Api>
cached_api(std::string_view path)
{
  if (path == "/v1/chat/completions") {
    return Api::chat;
  }
  if (path == "/v1/completions") {
    return Api::completions;
  }
  if (path == "/v1/embeddings") {
    return Api::embeddings;
  }
  if (path == "/v1/messages") {
    return Api::messages;
  }
  return std::nullopt;
}

std::string_view
path_of(std::string_view target)
{
  return target.substr(0, target.find('?'));
}

bool
is_anthropic_path(std::string_view path)
{
  return path == "/v1/messages" || path.starts_with("/v1/messages/");
}

std::uint64_t
next_request_connection()
{
  // High ids, apart from the Unix socket's sessions, which count from 1.
  static std::atomic<std::uint64_t> s_next{std::uint64_t{1} << 62};
  return s_next.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

protocol::Request
handler_request(std::string_view op, Json fields)
{
  protocol::Request request;
  request.op = std::string(op);
  request.header = std::move(fields);
  return request;
}

void
serve(ThreadState& state, HttpRequest request, std::shared_ptr<Responder> responder)
{
  std::make_shared<Exchange>(state, std::move(request), std::move(responder))->run();
}

Exchange::Exchange(ThreadState& state, HttpRequest request, std::shared_ptr<Responder> responder)
  : m_state(state),
    m_shared(state.shared),
    m_request(std::move(request)),
    m_responder(std::move(responder)),
    m_config(state.worker.config),
    m_connection(std::make_shared<Connection>()),
    m_started(std::chrono::steady_clock::now())
{
  m_connection->id = next_request_connection();
  m_connection->executor = state.worker.io.get_executor();
  m_api = is_anthropic_path(path_of(m_request.target())) ? Api::messages : Api::chat;
}

Exchange::~Exchange()
{
  if (m_call) {
    m_call->cancel();
  }
  // Whatever lease the request still holds ends with it.
  m_connection->open = false;
  m_shared.leases.drop_connection(m_connection->id);
}

void
Exchange::run()
{
  const std::string_view path = path_of(m_request.target());
  const auto method = m_request.method();
  if (method == beast_http::verb::get && path == "/healthz") {
    m_finished = true; // not a proxied request: not counted
    respond_json(200, R"({"status":"ok"})", Outcome::hit);
    return;
  }
  if (!authorize()) {
    return;
  }
  if (method == beast_http::verb::get && path == "/metrics") {
    m_finished = true;
    HttpResponse response{beast_http::status::ok, 11};
    response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = render_metrics(m_state.shared, &m_state.metrics);
    m_responder->respond(std::move(response));
    return;
  }
  const auto api = method == beast_http::verb::post ? cached_api(path) : std::nullopt;
  if (!api) {
    forward();
    return;
  }
  m_api = *api;
  m_endpoint = endpoint_of(m_api);
  m_cached_endpoint = true;
  if (!read_controls()) {
    return;
  }
  if (m_api == Api::embeddings) {
    if (auto request = parse_embeddings_request(m_request.body())) {
      serve_embeddings(shared_from_this(), std::move(*request));
      return;
    }
  } else if (auto request = parse_cache_request(m_api, m_request.body())) {
    serve_response(shared_from_this(), std::move(*request));
    return;
  }
  // Not a request the cache understands: the upstream judges it.
  forward();
}

// [proxy.tokens] set: only their holders get in, each as its tenant.
// Otherwise the tenant is proxy.tenant, or one per API key (scope per-key).
bool
Exchange::authorize()
{
  const auto& s = settings();
  std::string credential;
  const auto authorization = m_request[beast_http::field::authorization];
  if (authorization.size() > 7 && lower(authorization.substr(0, 7)) == "bearer ") {
    credential = std::string(trim(authorization.substr(7)));
  } else if (const auto key = m_request["x-api-key"]; !key.empty()) {
    credential = std::string(trim(key));
  }
  if (!s.proxy_tokens.empty()) {
    const auto token = s.proxy_tokens.find(credential);
    if (credential.empty() || token == s.proxy_tokens.end()) {
      fail(401, "authentication_error", "invalid_api_key",
           credential.empty() ? "this proxy needs a token: send Authorization: Bearer TOKEN (or x-api-key)"
                              : "the token is not one of this proxy's [proxy.tokens]",
           Outcome::unauthorized);
      return false;
    }
    m_tenant = token->second;
    m_local_token = true;
  } else if (s.proxy_scope == "per-key" && !credential.empty()) {
    m_tenant = "key-" + protocol::sha256_hex(credential).substr(0, 16);
  } else {
    m_tenant = s.proxy_tenant;
  }
  if (s.proxy_tenant_header == "on") {
    if (const auto tenant = trim(m_request["x-omnicache-tenant"]); !tenant.empty()) {
      m_tenant = std::string(tenant);
    }
  }
  return true;
}

bool
Exchange::read_controls()
{
  for (const auto& item : split_list(m_request[beast_http::field::cache_control])) {
    const auto directive = lower(item);
    if (directive == "no-store") {
      m_controls.lookup = false;
      m_controls.store = false;
    } else if (directive == "no-cache") {
      m_controls.lookup = false;
    }
  }
  if (const auto ttl = trim(m_request["x-omnicache-ttl"]); !ttl.empty()) {
    auto ms = protocol::parse_duration_ms(ttl);
    if (!ms && std::all_of(ttl.begin(), ttl.end(), [](char c) { return c >= '0' && c <= '9'; }) && ttl.size() < 16) {
      ms = std::stoll(std::string(ttl));
    }
    if (!ms || *ms < 0 || *ms > protocol::k_max_ttl_ms) {
      fail(400, "invalid_request_error", "bad_header",
           fmt::format("X-Omnicache-TTL '{}' is not a duration (90s, 10m, 1h, 0 for never) or milliseconds", ttl));
      return false;
    }
    m_controls.ttl_ms = *ms;
  }
  m_controls.tags = split_list(m_request["x-omnicache-tags"]);
  m_controls.deps = split_list(m_request["x-omnicache-deps"]);
  if (const auto semantic = lower(trim(m_request["x-omnicache-semantic"])); !semantic.empty()) {
    if (semantic == "on") {
      m_controls.semantic = true;
    } else if (semantic == "off") {
      m_controls.semantic = false;
    } else {
      char* end = nullptr;
      const double threshold = std::strtod(semantic.c_str(), &end);
      if (end == semantic.c_str() || *end != '\0' || !(threshold >= 0 && threshold <= 1)) {
        fail(400, "invalid_request_error", "bad_header",
             fmt::format("X-Omnicache-Semantic '{}' must be on, off or a threshold from 0 to 1", semantic));
        return false;
      }
      m_controls.semantic = true;
      m_controls.threshold = threshold;
    }
  }
  return true;
}

Json
Exchange::with_tenant(Json fields) const
{
  fields["tenant"] = m_tenant;
  return fields;
}

void
Exchange::set_cache_headers(HttpResponse& response, std::string_view verdict, std::string_view key) const
{
  if (!m_cached_endpoint && verdict != "BYPASS") {
    return;
  }
  response.set("X-Omnicache", verdict);
  if (!key.empty()) {
    response.set("X-Omnicache-Key", key);
  }
}

void
Exchange::respond(HttpResponse response, Outcome outcome)
{
  m_responder->respond(std::move(response));
  finish(outcome);
}

void
Exchange::respond_json(unsigned status, std::string body, Outcome outcome)
{
  HttpResponse response{static_cast<beast_http::status>(status), 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = std::move(body);
  respond(std::move(response), outcome);
}

void
Exchange::fail(unsigned status, std::string_view type, std::string_view code, std::string_view message,
               Outcome outcome)
{
  respond_json(status, error_body(m_api, type, code, message), outcome);
}

void
Exchange::finish(Outcome outcome)
{
  if (m_finished) {
    return;
  }
  m_finished = true;
  m_state.metrics.count_request(m_endpoint, outcome, std::chrono::steady_clock::now() - m_started);
}

Upstream&
Exchange::upstream()
{
  return is_anthropic_path(path_of(m_request.target())) ? *m_state.anthropic : *m_state.openai;
}

http::Headers
Exchange::upstream_headers() const
{
  http::Headers headers;
  for (const auto& field : m_request) {
    const std::string name = lower(field.name_string());
    if (is_hop_header(name) || (m_local_token && (name == "authorization" || name == "x-api-key"))) {
      continue;
    }
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  headers.emplace_back("Accept-Encoding", "identity");
  if (m_local_token) {
    // The client proved who it is with a local token; the upstream gets the
    // proxy's own key for that provider, if it has one.
    const bool anthropic = is_anthropic_path(path_of(m_request.target()));
    const auto& env = anthropic ? settings().proxy_anthropic_key_env : settings().proxy_openai_key_env;
    if (const char* key = env.empty() ? nullptr : std::getenv(env.c_str()); key != nullptr && *key != '\0') {
      if (anthropic) {
        headers.emplace_back("x-api-key", key);
      } else {
        headers.emplace_back("Authorization", fmt::format("Bearer {}", key));
      }
    }
  }
  return headers;
}

void
Exchange::fetch(std::string body, std::function<void(Fetched)> done)
{
  auto fetched = std::make_shared<Fetched>();
  const auto sent = std::chrono::steady_clock::now();
  auto self = shared_from_this();
  m_call = upstream().send(
    m_request.method(), std::string(m_request.target()), upstream_headers(), std::move(body),
    std::chrono::milliseconds(settings().proxy_timeout_ms),
    UpstreamHandlers{
      [self, fetched, sent](UpstreamHead head) {
        fetched->to_head = std::chrono::steady_clock::now() - sent;
        self->m_state.metrics.count_upstream(self->m_endpoint, head.status, fetched->to_head);
        fetched->head = std::move(head);
      },
      [fetched](std::string_view bytes) { fetched->body.append(bytes); },
      [self, fetched, done = std::move(done)](std::string error, bool timed_out, bool before_head) {
        self->m_call.reset();
        if (before_head) {
          self->m_state.metrics.count_upstream(self->m_endpoint, 0, std::chrono::nanoseconds(0));
        }
        fetched->error = std::move(error);
        fetched->timed_out = timed_out;
        done(std::move(*fetched));
      },
    });
}

namespace {

HttpResponse
response_head(const UpstreamHead& head)
{
  HttpResponse response{static_cast<beast_http::status>(head.status), 11};
  if (!head.reason.empty()) {
    response.reason(head.reason);
  }
  for (const auto& [name, value] : head.headers) {
    response.insert(name, value);
  }
  return response;
}

} // namespace

void
Exchange::pass_through(std::string body, std::string_view verdict, std::string_view key,
                       std::function<void(std::string_view)> tap, Filter filter, StreamDone done, Outcome outcome)
{
  struct Progress
  {
    unsigned status = 0;
    std::chrono::steady_clock::time_point sent = std::chrono::steady_clock::now();
  };
  auto progress = std::make_shared<Progress>();
  auto self = shared_from_this();
  m_call = upstream().send(
    m_request.method(), std::string(m_request.target()), upstream_headers(), std::move(body),
    std::chrono::milliseconds(settings().proxy_timeout_ms),
    UpstreamHandlers{
      [self, progress, verdict = std::string(verdict), key = std::string(key)](UpstreamHead head) {
        progress->status = head.status;
        self->m_state.metrics.count_upstream(self->m_endpoint, head.status,
                                             std::chrono::steady_clock::now() - progress->sent);
        HttpResponse response = response_head(head);
        self->set_cache_headers(response, verdict, key);
        self->m_responder->begin_stream(std::move(response));
      },
      [self, progress, tap, filter, done, outcome](std::string_view bytes) {
        if (self->m_responder->gone()) {
          // Nobody is reading: stop paying for the rest.
          if (auto call = std::exchange(self->m_call, nullptr)) {
            call->cancel();
          }
          self->finish(outcome);
          if (done) {
            done(false, progress->status, [] {});
          }
          return;
        }
        if (tap) {
          tap(bytes);
        }
        self->m_responder->stream(filter ? filter(bytes, false) : std::string(bytes));
      },
      [self, progress, filter, done, outcome](std::string error, bool timed_out, bool before_head) {
        self->m_call.reset();
        if (before_head) {
          self->m_state.metrics.count_upstream(self->m_endpoint, 0, std::chrono::nanoseconds(0));
          self->upstream_failed(error, timed_out);
          if (done) {
            done(false, 0, [] {});
          }
          return;
        }
        if (!error.empty()) {
          log::info("proxy: the upstream's answer to {} broke off: {}", self->m_request.target(), error);
        }
        if (filter) {
          self->m_responder->stream(filter({}, true));
        }
        // The body's end waits for `done` (the store of a recorded answer),
        // so that a client that asks again once it has the answer finds it.
        auto close = [self, outcome, complete = error.empty()] {
          self->m_responder->end_stream(complete);
          self->finish(outcome);
        };
        if (done) {
          done(error.empty(), progress->status, std::move(close));
        } else {
          close();
        }
      },
    });
}

void
Exchange::upstream_failed(const std::string& error, bool timed_out)
{
  const auto& url = upstream().url().text;
  if (timed_out) {
    fail(504, "api_error", "upstream_timeout",
         fmt::format("the upstream {} did not answer within proxy.timeout ({})", url,
                     protocol::format_duration_ms(settings().proxy_timeout_ms)));
    return;
  }
  fail(502, "api_error", "upstream_unreachable", fmt::format("the upstream {} could not be reached: {}", url, error));
}

void
Exchange::forward()
{
  pass_through(m_request.body(), "BYPASS", "", nullptr, nullptr, nullptr, Outcome::bypass);
}

} // namespace omnicache::daemon::proxy
