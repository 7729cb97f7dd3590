// Embeddings: each input text is an entry of the embedding layer, so a
// request whose texts were embedded before sends only the new ones upstream.
#include "daemon/proxy/flow.hpp"

#include "daemon/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <fmt/core.h>

#include <map>

namespace omnicache::daemon::proxy {

namespace beast_http = boost::beast::http;
using protocol::Json;

namespace {

class EmbeddingsFlow : public std::enable_shared_from_this<EmbeddingsFlow>
{
public:
  EmbeddingsFlow(std::shared_ptr<Exchange> exchange, EmbeddingsRequest request)
    : m_exchange(std::move(exchange)),
      m_request(std::move(request)),
      m_vectors(m_request.inputs.size())
  {
  }

  void start()
  {
    try {
      for (const auto& text : m_request.inputs) {
        m_keys.push_back(protocol::embedding_key(m_request.key_model, text));
      }
      if (m_exchange->controls().lookup) {
        look_up();
      }
    } catch (const protocol::Error& e) {
      m_exchange->fail(400, "invalid_request_error", "bad_request", e.what());
      return;
    }
    std::map<std::string_view, std::size_t> asked; // text -> position in m_missing
    for (std::size_t i = 0; i < m_vectors.size(); ++i) {
      if (!m_vectors[i].empty()) {
        ++m_cached;
      } else if (asked.emplace(m_request.inputs[i], m_missing.size()).second) {
        m_missing.push_back(m_request.inputs[i]);
      }
    }
    if (m_missing.empty()) {
      respond(Json{{"prompt_tokens", 0}, {"total_tokens", 0}}, "HIT", Outcome::hit);
      return;
    }
    auto self = shared_from_this();
    m_exchange->fetch(embeddings_body(m_request, m_missing), [self](Fetched fetched) {
      self->fetched(std::move(fetched));
    });
  }

private:
  void look_up()
  {
    auto context = m_exchange->context();
    for (std::size_t i = 0; i < m_keys.size(); ++i) {
      protocol::ops::GetRequest get;
      get.tenant = m_exchange->tenant();
      get.key = m_keys[i];
      get.layer = "embedding";
      auto reply = handle_get(context, get);
      // A vector is whole float32s; anything else under the key is not one.
      if (reply.found && !reply.value.empty() && reply.value.size() % 4 == 0) {
        m_vectors[i] = std::move(reply.value);
      }
    }
  }

  void fetched(Fetched fetched)
  {
    if (!fetched.error.empty()) {
      m_exchange->upstream_failed(fetched.error, fetched.timed_out);
      return;
    }
    if (fetched.head.status < 200 || fetched.head.status >= 300) {
      // The upstream's complaint, as it made it.
      HttpResponse response{static_cast<beast_http::status>(fetched.head.status), 11};
      for (const auto& [name, value] : fetched.head.headers) {
        response.insert(name, value);
      }
      m_exchange->set_cache_headers(response, "MISS", single_key());
      response.body() = std::move(fetched.body);
      m_exchange->respond(std::move(response), Outcome::miss);
      return;
    }
    const auto vectors = embedding_vectors(fetched.body, m_missing.size());
    if (!vectors) {
      m_exchange->fail(502, "api_error", "upstream_bad_answer",
                       fmt::format("the upstream's embeddings answer is not one with {} vectors", m_missing.size()));
      return;
    }
    std::map<std::string_view, const std::string*> fresh;
    for (std::size_t i = 0; i < m_missing.size(); ++i) {
      fresh.emplace(m_missing[i], &(*vectors)[i]);
    }
    for (std::size_t i = 0; i < m_vectors.size(); ++i) {
      if (m_vectors[i].empty()) {
        m_vectors[i] = *fresh.at(m_request.inputs[i]);
      }
    }
    const Json parsed = Json::parse(fetched.body, nullptr, false);
    Json usage = parsed.is_object() ? parsed.value("usage", Json::object()) : Json::object();
    // Answered once stored, so that asking again finds every vector.
    auto self = shared_from_this();
    auto then = [self, usage = std::move(usage)]() mutable { self->respond(std::move(usage), "MISS", Outcome::miss); };
    if (m_exchange->controls().store) {
      store(*vectors, std::move(then));
    } else {
      then();
    }
  }

  void respond(Json usage, std::string_view verdict, Outcome outcome)
  {
    HttpResponse response{beast_http::status::ok, 11};
    response.set(beast_http::field::content_type, "application/json");
    m_exchange->set_cache_headers(response, verdict, single_key());
    response.set("X-Omnicache-Cached", fmt::format("{}/{}", m_cached, m_vectors.size()));
    response.body() = embeddings_response(m_request, m_vectors, usage);
    m_exchange->respond(std::move(response), outcome);
  }

  std::string single_key() const { return m_keys.size() == 1 ? m_keys.front() : std::string(); }

  void store(const std::vector<std::string>& vectors, std::function<void()> then)
  {
    auto pending = std::make_shared<std::size_t>(m_missing.size());
    auto one_done = [pending, then = std::move(then)] {
      if (--*pending == 0) {
        then();
      }
    };
    const auto& controls = m_exchange->controls();
    std::vector<std::string> tags{"model:" + m_request.model};
    for (const auto& tag : controls.tags) {
      tags.push_back(tag);
    }
    auto context = m_exchange->context();
    for (std::size_t i = 0; i < m_missing.size(); ++i) {
      protocol::ops::SetRequest set;
      set.tenant = m_exchange->tenant();
      set.key = protocol::embedding_key(m_request.key_model, m_missing[i]);
      set.layer = "embedding";
      set.tags = tags;
      set.meta = {{"model", m_request.model}};
      set.deps = controls.deps.empty() ? Json() : Json(controls.deps);
      set.ttl_ms = controls.ttl_ms;
      auto owned = std::make_shared<const std::string>(vectors[i]);
      set.value = {*owned, owned};
      try {
        // A store finishes on the writer's thread; the answer goes on on the session's.
        Completion stored = [one_done, executor = context.connection->executor](protocol::Reply reply) {
          boost::asio::post(executor, [one_done, reply = std::move(reply)] {
            if (!reply.ok) {
              log::warn("proxy: could not store an embedding: {}", reply.error_message);
            }
            one_done();
          });
        };
        handle_set(context, set, Done<protocol::ops::SetReply>(0, std::move(stored)));
      } catch (const protocol::Error& e) {
        log::warn("proxy: could not store an embedding: {}", e.what());
        one_done();
      }
    }
  }

  std::shared_ptr<Exchange> m_exchange;
  EmbeddingsRequest m_request;
  std::vector<std::string> m_keys;
  std::vector<std::string> m_vectors; // float32 little-endian, by input; empty until known
  std::vector<std::string> m_missing; // texts to ask upstream, each once
  std::size_t m_cached = 0;
};

} // namespace

void
serve_embeddings(std::shared_ptr<Exchange> exchange, EmbeddingsRequest request)
{
  std::make_shared<EmbeddingsFlow>(std::move(exchange), std::move(request))->start();
}

} // namespace omnicache::daemon::proxy
