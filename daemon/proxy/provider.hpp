#pragma once

#include "protocol/canonical.hpp"
#include "protocol/message.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The request and response formats of the provider APIs the proxy caches:
// OpenAI's chat completions, completions and embeddings, and Anthropic's
// messages. Pure functions: no I/O, no daemon state, so each is testable on
// its own (tests/unit/test_daemon_proxy_provider.cpp).
namespace omnicache::daemon::proxy {

enum class Api { chat, completions, embeddings, messages };

// "chat", "completions", "embeddings", "messages"
std::string_view api_name(Api api);
// Anthropic's shapes for messages, OpenAI's for the rest.
bool is_anthropic(Api api);

// A chat, completions or messages request, as the cache sees it.
struct CacheRequest
{
  Api api = Api::chat;
  std::string model;
  protocol::Json messages; // OpenAI-style array (completions: prompt_messages(prompt))
  protocol::Json params;   // the body without model and messages (or prompt)
  bool stream = false;
  bool include_usage = false; // OpenAI stream_options.include_usage
  std::string key;            // protocol::response_key(model, messages, params)
  std::optional<protocol::ResponseQuestion> question;
};

// Parses a request body of `api` (not embeddings). nullopt when it cannot be
// cached (not a JSON object, no model, messages not an array, a completions
// prompt that is not a string...): the proxy then forwards it untouched and
// lets the upstream judge it.
std::optional<CacheRequest> parse_cache_request(Api api, std::string_view body);

// Token counts in a response's `usage`, OpenAI- or Anthropic-shaped.
struct Usage
{
  std::optional<std::uint64_t> prompt_tokens;     // prompt_tokens / input_tokens
  std::optional<std::uint64_t> completion_tokens; // completion_tokens / output_tokens
  std::uint64_t cached_tokens = 0;                // prompt_tokens_details.cached_tokens / cache_read_input_tokens
  std::uint64_t cache_write_tokens = 0;           // cache_creation_input_tokens
};
Usage usage_of(const protocol::Json& response);

// Whether `response` is a complete JSON response of `api`'s own shape
// (chat: "object":"chat.completion"; completions: "text_completion";
// messages: "type":"message").
bool is_response_of(Api api, const protocol::Json& response);

// A cached value in `api`'s JSON shape. The value itself when it already is
// one (byte for byte); otherwise the answer text is taken from it (the other
// provider's JSON response, or plain text) and a response is made around it.
// `model` and `key` come from the request, `stored_ms` from the entry's meta
// (0 when unknown), `usage` from the entry's meta. Deterministic.
std::string render_response(Api api, std::string_view value, std::string_view model, std::string_view key,
                            std::int64_t stored_ms, const Usage& usage);

// Server-sent events that a streaming request of `api` would have received
// for `response` (a JSON response of `api`'s shape), in the provider's chunk
// format and ending as the provider ends. Deterministic.
std::string synthesize_stream(Api api, const protocol::Json& response, bool include_usage);

// Collects a streamed answer, fed the upstream's body as it arrives, and
// turns it into the response the same request without `stream` would have
// had. complete() only once the provider's end was seen ([DONE] / message_stop)
// with no error event and every event understood.
class StreamRecorder
{
public:
  explicit StreamRecorder(Api api);
  void feed(std::string_view bytes);
  bool complete() const;
  // The assembled JSON response; nullopt unless complete().
  std::optional<protocol::Json> response() const;

private:
  void line(std::string_view line);
  void event(std::string_view name, std::string_view data);
  bool openai_event(std::string_view data);
  bool anthropic_event(std::string_view data);

  Api m_api;
  std::string m_pending; // an incomplete line
  std::string m_event;   // the current event's name
  std::string m_data;    // the current event's data lines
  bool m_has_data = false;
  protocol::Json m_response;
  std::map<std::size_t, std::string> m_partial_json; // Anthropic tool input by block index, until its stop
  bool m_started = false;
  bool m_done = false;
  bool m_failed = false;
};

// ---- embeddings ----

struct EmbeddingsRequest
{
  std::string model;
  std::string key_model; // model, or "MODEL@dimensions=N"
  std::vector<std::string> inputs;
  bool base64 = false; // encoding_format "base64"
  protocol::Json body; // the request as parsed, to resend with fewer inputs
};

// nullopt when it cannot be cached (token arrays, unknown fields...).
std::optional<EmbeddingsRequest> parse_embeddings_request(std::string_view body);

// The body of an upstream request for only `inputs`.
std::string embeddings_body(const EmbeddingsRequest& request, const std::vector<std::string>& inputs);

// The vectors of an upstream embeddings response, by `index`, as float32
// little-endian bytes; nullopt when the response is not one (or has fewer
// vectors than `expected`). Reads float arrays and base64.
std::optional<std::vector<std::string>> embedding_vectors(std::string_view response, std::size_t expected);

// An embeddings response for `vectors` (float32 little-endian bytes each) in
// the asked encoding, with `usage` as the upstream reported it for the texts
// it embedded (zeros when none).
std::string embeddings_response(const EmbeddingsRequest& request, const std::vector<std::string>& vectors,
                                const protocol::Json& usage);

// ---- errors ----

// An error body in the provider's shape (see the proxy section of
// PROTOCOL.md): OpenAI {"error":{...}}, Anthropic {"type":"error",...}.
std::string error_body(Api api, std::string_view type, std::string_view code, std::string_view message);

} // namespace omnicache::daemon::proxy
