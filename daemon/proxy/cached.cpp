// Chat completions, completions and messages: the answer to a request is
// cached under the response layer's canonical key, as `omnicache response`
// and `warm` store it, so each finds the others' entries.
#include "daemon/proxy/flow.hpp"

#include "daemon/log.hpp"
#include "store/entry.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <fmt/core.h>

#include <utility>

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;
using protocol::Json;

namespace {

bool
is_success(unsigned status)
{
  return status >= 200 && status < 300;
}

std::vector<std::string>
tags_of(const CacheRequest& request, const Controls& controls)
{
  std::vector<std::string> tags{"model:" + request.model};
  for (const auto& tag : controls.tags) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
      tags.push_back(tag);
    }
  }
  return tags;
}

std::uint64_t
meta_count(const Json& meta, const char* name)
{
  const auto it = meta.find(name);
  return it != meta.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Passes server-sent events on as the client would have had them without
// stream_options.include_usage: without the usage-only chunk (`"choices":[]`
// with `usage`) and without the `"usage":null` member of the others. That
// text can only be the member itself: inside a JSON string its quotes would
// be escaped.
class UsageChunkFilter
{
public:
  std::string feed(std::string_view bytes)
  {
    m_pending.append(bytes);
    std::string out;
    std::size_t start = 0;
    for (;;) {
      const auto end = event_end(start);
      if (end == std::string::npos) {
        break;
      }
      const std::string_view event(m_pending.data() + start, end - start);
      if (!is_usage_only(event)) {
        append_without_null_usage(out, event);
      }
      start = end;
    }
    m_pending.erase(0, start);
    return out;
  }

  std::string flush() { return std::exchange(m_pending, {}); }

  static void append_without_null_usage(std::string& out, std::string_view event)
  {
    constexpr std::string_view k_member = ",\"usage\":null";
    for (auto at = event.find(k_member); at != std::string_view::npos; at = event.find(k_member)) {
      out.append(event.substr(0, at));
      event.remove_prefix(at + k_member.size());
    }
    out.append(event);
  }

private:
  // The end of the event starting at `start` (after its blank line), or npos.
  std::size_t event_end(std::size_t start) const
  {
    for (std::size_t i = m_pending.find('\n', start); i != std::string::npos; i = m_pending.find('\n', i + 1)) {
      if (i + 1 < m_pending.size() && m_pending[i + 1] == '\n') {
        return i + 2;
      }
      if (i + 2 < m_pending.size() && m_pending[i + 1] == '\r' && m_pending[i + 2] == '\n') {
        return i + 3;
      }
    }
    return std::string::npos;
  }

  static bool is_usage_only(std::string_view event)
  {
    const auto data = event.find("data:");
    if (data == std::string_view::npos) {
      return false;
    }
    auto payload = event.substr(data + 5);
    const Json chunk = Json::parse(payload.begin(), payload.end(), nullptr, false);
    if (!chunk.is_object()) {
      return false;
    }
    const auto choices = chunk.find("choices");
    const auto usage = chunk.find("usage");
    return choices != chunk.end() && choices->is_array() && choices->empty() && usage != chunk.end()
           && usage->is_object();
  }

  std::string m_pending;
};

// One request of a cached endpoint, from the first lookup to the store.
class ResponseFlow : public std::enable_shared_from_this<ResponseFlow>
{
public:
  ResponseFlow(std::shared_ptr<Exchange> exchange, CacheRequest request)
    : m_exchange(std::move(exchange)),
      m_request(std::move(request))
  {
    const auto& controls = m_exchange->controls();
    m_semantic = m_request.question.has_value()
                 && controls.semantic.value_or(m_exchange->settings().proxy_semantic == "on");
  }

  void start()
  {
    if (!m_exchange->controls().lookup) {
      call_upstream("BYPASS", Outcome::bypass);
      return;
    }
    auto self = shared_from_this();
    auto context = m_exchange->context();
    Completion looked = [self](protocol::Reply reply) { self->looked(std::move(reply)); };
    try {
      if (m_request.stream) {
        // A streamed answer is passed on as it comes: waiters could not share
        // it, so streams take no lease.
        protocol::ops::GetRequest get;
        get.tenant = m_exchange->tenant();
        get.key = m_request.key;
        get.layer = "response";
        handle_get_tiered(context, get, Done<protocol::ops::GetReply>(0, std::move(looked)));
        return;
      }
      // Identical requests at once: the first asks upstream, the others wait
      // for its answer, up to proxy.timeout.
      const std::int64_t wait_ms = std::max<std::int64_t>(1, m_exchange->settings().proxy_timeout_ms);
      protocol::ops::GetOrLeaseRequest get;
      get.tenant = m_exchange->tenant();
      get.key = m_request.key;
      get.layer = "response";
      get.wait_ms = wait_ms;
      get.lease_ms = wait_ms + 1000;
      handle_get_or_lease(context, get, Done<protocol::ops::GetOrLeaseReply>(0, std::move(looked)));
    } catch (const protocol::Error& e) {
      bad_request(e.what());
    }
  }

private:
  void bad_request(std::string_view message)
  {
    m_exchange->fail(400, "invalid_request_error", "bad_request", message);
  }

  void looked(protocol::Reply reply)
  {
    if (!reply.ok) {
      log::warn("proxy: lookup of {} failed: {}", m_request.key, reply.error_message);
    } else if (reply.header.value("found", false)) {
      const auto verdict = hit_verdict(reply);
      serve_hit(std::move(reply), verdict, Outcome::hit);
      return;
    } else {
      m_leased = reply.header.value("lease", false);
    }
    if (m_semantic) {
      lookup_by_meaning();
      return;
    }
    call_upstream("MISS", Outcome::miss);
  }

  void lookup_by_meaning()
  {
    const auto& question = *m_request.question;
    protocol::ops::SemanticGetRequest get;
    get.tenant = m_exchange->tenant();
    get.key = m_request.key;
    get.layer = "response";
    get.model = m_request.model;
    get.text = question.text;
    get.context = question.context;
    if (const auto threshold = m_exchange->controls().threshold) {
      get.threshold = *threshold;
    }
    auto self = shared_from_this();
    auto context = m_exchange->context();
    Completion looked = [self](protocol::Reply reply) {
      if (reply.ok && reply.header.value("found", false)) {
        const bool exact = reply.header.value("match", "") == "exact";
        const auto verdict = exact ? hit_verdict(reply) : std::string("SEMANTIC");
        self->serve_hit(std::move(reply), verdict, exact ? Outcome::hit : Outcome::semantic);
        return;
      }
      if (!reply.ok) {
        log::warn("proxy: semantic lookup failed: {}", reply.error_message);
      }
      self->call_upstream("MISS", Outcome::miss);
    };
    try {
      handle_semantic_get(context, get, Done<protocol::ops::SemanticGetReply>(0, std::move(looked)));
    } catch (const protocol::Error& e) {
      log::warn("proxy: semantic lookup refused: {}", e.what());
      call_upstream("MISS", Outcome::miss);
    }
  }

  // HIT, or with a shared tier HIT_L1 / HIT_L2: which tier answered.
  static std::string hit_verdict(const protocol::Reply& reply)
  {
    const auto tier = reply.header.find("tier");
    return tier != reply.header.end() && tier->is_string() ? "HIT_" + tier->get<std::string>() : "HIT";
  }

  void serve_hit(protocol::Reply reply, std::string_view verdict, Outcome outcome)
  {
    release_lease();
    const Json meta = reply.header.value("meta", Json::object());
    const std::int64_t stored_ms = meta.is_object() ? static_cast<std::int64_t>(meta_count(meta, "stored_ms")) : 0;
    Usage usage;
    if (meta.is_object()) {
      if (meta.contains("prompt_tokens")) {
        usage.prompt_tokens = meta_count(meta, "prompt_tokens");
      }
      if (meta.contains("completion_tokens")) {
        usage.completion_tokens = meta_count(meta, "completion_tokens");
      }
    }
    std::string body = render_response(m_request.api, reply.value, m_request.model, m_request.key, stored_ms, usage);
    HttpResponse response{beast_http::status::ok, 11};
    if (m_request.stream) {
      const Json parsed = Json::parse(body, nullptr, false);
      body = synthesize_stream(m_request.api, parsed, m_request.include_usage);
      response.set(beast_http::field::content_type, "text/event-stream; charset=utf-8");
      response.set(beast_http::field::cache_control, "no-cache");
    } else {
      response.set(beast_http::field::content_type, "application/json");
    }
    m_exchange->set_cache_headers(response, verdict, m_request.key);
    if (stored_ms > 0) {
      response.set("X-Omnicache-Age", std::to_string(std::max<std::int64_t>(0, store::now_ms() - stored_ms) / 1000));
    }
    if (outcome == Outcome::semantic) {
      response.set("X-Omnicache-Similarity", fmt::format("{:.4f}", reply.header.value("similarity", 0.0)));
      response.set("X-Omnicache-Match", reply.header.value("key", ""));
    }
    response.body() = std::move(body);
    m_exchange->respond(std::move(response), outcome);
  }

  void call_upstream(std::string_view verdict, Outcome outcome)
  {
    auto self = shared_from_this();
    if (!m_request.stream) {
      m_exchange->fetch(m_exchange->request().body(),
                        [self, verdict = std::string(verdict), outcome](Fetched fetched) {
                          self->fetched(std::move(fetched), verdict, outcome);
                        });
      return;
    }
    auto recorder = std::make_shared<StreamRecorder>(m_request.api);
    std::string body = m_exchange->request().body();
    Exchange::Filter filter;
    if (!is_anthropic(m_request.api) && !m_request.include_usage) {
      // The recording needs the token counts (for savings, and for a later
      // client that asks for them), which OpenAI streams carry only on
      // request; the chunk holding them is kept from this client.
      Json parsed = Json::parse(body, nullptr, false);
      if (parsed.is_object() && (!parsed.contains("stream_options") || parsed["stream_options"].is_object())) {
        parsed["stream_options"]["include_usage"] = true;
        body = parsed.dump(-1, ' ', false, Json::error_handler_t::replace);
        filter = [held = std::make_shared<UsageChunkFilter>()](std::string_view bytes, bool end) {
          return end ? held->flush() : held->feed(bytes);
        };
      }
    }
    m_exchange->pass_through(
      std::move(body), verdict, m_request.key, [recorder](std::string_view bytes) { recorder->feed(bytes); },
      std::move(filter),
      [self, recorder](bool complete, unsigned status, std::function<void()> close) {
        auto response = complete && is_success(status) ? recorder->response() : std::nullopt;
        if (!response) {
          if (is_success(status)) {
            self->m_exchange->state().metrics.streams_broken.fetch_add(1, std::memory_order_relaxed);
          }
          self->release_lease();
          close();
          return;
        }
        self->m_exchange->state().metrics.streams_recorded.fetch_add(1, std::memory_order_relaxed);
        self->answered(*response, response->dump(), std::move(close));
      },
      outcome);
  }

  void fetched(Fetched fetched, const std::string& verdict, Outcome outcome)
  {
    if (!fetched.error.empty()) {
      release_lease();
      m_exchange->upstream_failed(fetched.error, fetched.timed_out);
      return;
    }
    HttpResponse response{static_cast<beast_http::status>(fetched.head.status), 11};
    if (!fetched.head.reason.empty()) {
      response.reason(fetched.head.reason);
    }
    for (const auto& [name, value] : fetched.head.headers) {
      response.insert(name, value);
    }
    m_exchange->set_cache_headers(response, verdict, m_request.key);
    const bool success = is_success(fetched.head.status);
    Json parsed = success ? Json::parse(fetched.body, nullptr, false) : Json();
    response.body() = fetched.body;
    auto respond = [exchange = m_exchange, response = std::move(response), outcome]() mutable {
      exchange->respond(std::move(response), outcome);
    };
    // Only a whole answer of the provider's own shape is kept: an error, or
    // something a misconfigured upstream said, would be served again. The
    // client has its answer once it is stored, so that asking again finds it.
    if (success && is_response_of(m_request.api, parsed)) {
      answered(parsed, std::move(fetched.body), std::move(respond));
    } else {
      release_lease();
      respond();
    }
  }

  // An answer from upstream: its provider-side caching is counted, and it is
  // stored unless the request said no-store. Then `then`.
  void answered(const Json& response, std::string value, std::function<void()> then)
  {
    const Usage usage = usage_of(response);
    auto context = m_exchange->context();
    if (usage.cached_tokens > 0 || usage.cache_write_tokens > 0) {
      count_provider_usage(m_exchange->state().shared, m_exchange->settings(), m_exchange->tenant(), m_request.model,
                           usage.cached_tokens, usage.cache_write_tokens);
    }
    if (!m_exchange->controls().store) {
      release_lease();
      then();
      return;
    }
    Json meta{{"model", m_request.model}, {"api", api_name(m_request.api)}, {"stored_ms", store::now_ms()}};
    if (usage.prompt_tokens) {
      meta["prompt_tokens"] = *usage.prompt_tokens;
    }
    if (usage.completion_tokens) {
      meta["completion_tokens"] = *usage.completion_tokens;
    }
    const auto& controls = m_exchange->controls();
    auto owned = std::make_shared<const std::string>(std::move(value));
    auto self = shared_from_this();
    // A store finishes on the writer's thread; the answer goes on on the session's.
    Completion done = [self, then, executor = context.connection->executor](protocol::Reply reply) {
      boost::asio::post(executor, [self, then, reply = std::move(reply)] {
        if (!reply.ok) {
          log::warn("proxy: could not store the answer {}: {}", self->m_request.key, reply.error_message);
        }
        // A set ends our lease and wakes the waiters; a failed one must too.
        self->release_lease();
        then();
      });
    };
    // set and semantic_set describe the entry alike.
    auto describe = [&](auto& set) {
      set.tenant = m_exchange->tenant();
      set.key = m_request.key;
      set.layer = "response";
      set.tags = tags_of(m_request, controls);
      set.meta = std::move(meta);
      set.deps = controls.deps.empty() ? Json() : Json(controls.deps);
      set.ttl_ms = controls.ttl_ms;
      set.value = {*owned, owned};
    };
    try {
      if (m_request.question) {
        protocol::ops::SemanticSetRequest set;
        describe(set);
        set.model = m_request.model;
        set.text = m_request.question->text;
        set.context = m_request.question->context;
        handle_semantic_set(context, set, Done<protocol::ops::SemanticSetReply>(0, std::move(done)));
      } else {
        protocol::ops::SetRequest set;
        describe(set);
        handle_set(context, set, Done<protocol::ops::SetReply>(0, std::move(done)));
      }
    } catch (const protocol::Error& e) {
      log::warn("proxy: could not store the answer {}: {}", m_request.key, e.what());
      release_lease();
      then();
    }
  }

  void release_lease()
  {
    if (!m_leased) {
      return;
    }
    m_leased = false;
    auto context = m_exchange->context();
    try {
      protocol::ops::ReleaseRequest release;
      release.tenant = m_exchange->tenant();
      release.key = m_request.key;
      handle_release(context, release);
    } catch (const protocol::Error& e) {
      log::warn("proxy: could not release the lease on {}: {}", m_request.key, e.what());
    }
  }

  std::shared_ptr<Exchange> m_exchange;
  CacheRequest m_request;
  bool m_semantic = false;
  bool m_leased = false;
};

} // namespace

void
serve_response(std::shared_ptr<Exchange> exchange, CacheRequest request)
{
  std::make_shared<ResponseFlow>(std::move(exchange), std::move(request))->start();
}

} // namespace omnicache::daemon::proxy
