#pragma once

#include "protocol/message.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Canonical keys of the structured layers (PROTOCOL.md, "Canonical keys").
// Every entry point (the command, warm imports, the HTTP proxy) builds its
// keys here, so that an entry written by one is found by the others.
namespace omnicache::protocol {

// JSON with object members sorted by their UTF-8 bytes, no insignificant
// whitespace, numbers normalised (a float with an integral value below 2^53
// in magnitude is written as that integer, so 0, 0.0 and -0.0 agree; other
// floats in their shortest round-trip form), strings as UTF-8 with only the
// escapes JSON requires. Throws Error(bad_request) for invalid UTF-8.
std::string canonical_json(const Json& value);

// Incremental SHA-256 (OpenSSL's libcrypto).
class Sha256
{
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  std::array<unsigned char, 32> finish();

private:
  void* m_context;
};

std::string hex(const unsigned char* bytes, std::size_t n);
std::string sha256_hex(std::string_view bytes);

// "<layer>:" + the first 32 hex digits (128 bits) of SHA-256 of `canonical`.
std::string layer_key(std::string_view layer, std::string_view canonical);

// The parameters a response key leaves out: they change how an answer is
// delivered or attributed, not what it says.
bool is_delivery_param(std::string_view name);

// canonical({"messages": messages, "model": model, "params": params minus
// delivery params}). `messages` is an OpenAI-style array; a plain prompt P
// is [{"role":"user","content":P}]. Throws Error(bad_request) when model is
// empty, messages is not a non-empty array, or params is not an object.
std::string response_key(std::string_view model, const Json& messages, const Json& params);
Json prompt_messages(std::string_view prompt);

// A whole provider request body as the response key sees it: OpenAI chat
// and Anthropic messages bodies name their turns in "messages", OpenAI
// completions bodies in "prompt" (a string: prompt_messages(prompt)). The
// model is the body's "model"; every other member is a parameter, so a
// system prompt, tools or a temperature change the key, and the delivery
// parameters (stream...) do not. The HTTP proxy and `omnicache response
// --messages REQUEST` both key requests through here, so that each finds
// the other's entries.
enum class RequestInput { messages, prompt };
struct ResponseRequest
{
  std::string model;
  Json messages; // OpenAI-style array
  Json params;   // the body without model and its input member, delivery params included
};
// Throws Error(bad_request) naming what is wrong: not an object, no model
// string, the input missing or of the wrong type.
ResponseRequest response_request(Json body, RequestInput input);
// "messages" when the body has it, else "prompt" when it has that.
std::optional<RequestInput> request_input_of(const Json& body);
std::string response_key(const ResponseRequest& request);

// What a response request asks, for semantic matching: `text`, the last
// message when it is the user's (its content string, or the text parts of
// its content array joined by newlines), and `context`, naming everything
// else the answer depends on: "turns:" + 32 hex digits of SHA-256 of
// canonical({"messages": every message but the last, "params": params minus
// delivery params}). Only requests with equal contexts match each other.
// nullopt when the last message is not text from the user.
struct ResponseQuestion
{
  std::string text;
  std::string context;
};
std::optional<ResponseQuestion> response_question(const Json& messages, const Json& params);

// canonical({"model": model, "text": text})
std::string embedding_key(std::string_view model, std::string_view text);
// canonical({"params": params, "query": query, "retriever": retriever, "top_k": top_k})
std::string retrieval_key(std::string_view retriever, std::string_view query, std::int64_t top_k,
                          const Json& params);
// canonical({"session": session, "turn": turn})
std::string context_key(std::string_view session, std::int64_t turn);
// canonical({"context": context, "model": model, "text": text}), context
// being a hash of earlier turns or "".
std::string semantic_key(std::string_view model, std::string_view text, std::string_view context);

} // namespace omnicache::protocol
