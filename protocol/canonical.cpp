#include "protocol/canonical.hpp"

#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cmath>
#include <mutex>

namespace omnicache::protocol {

namespace {

constexpr double k_exact_integers = 9007199254740992.0; // 2^53

Json
normalised(const Json& value)
{
  switch (value.type()) {
  case Json::value_t::object: {
    Json out = Json::object();
    for (const auto& [name, member] : value.items()) {
      out[name] = normalised(member);
    }
    return out;
  }
  case Json::value_t::array: {
    Json out = Json::array();
    for (const auto& item : value) {
      out.push_back(normalised(item));
    }
    return out;
  }
  case Json::value_t::number_float: {
    const double number = value.get<double>();
    if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) < k_exact_integers) {
      return Json(static_cast<std::int64_t>(number));
    }
    return value;
  }
  default:
    return value;
  }
}

const EVP_MD*
sha256_method()
{
  // Skipping the OpenSSL configuration file saves a read and a parse on every
  // command that hashes; nothing here is configurable by it.
  static std::once_flag once;
  std::call_once(once, [] { OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, nullptr); });
  return EVP_sha256();
}

void
require_text(std::string_view value, std::string_view what)
{
  if (value.empty()) {
    throw Error(ErrorCode::bad_request, fmt::format("{} must not be empty", what));
  }
}

} // namespace

std::string
canonical_json(const Json& value)
{
  try {
    return normalised(value).dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error& e) {
    throw Error(ErrorCode::bad_request, fmt::format("not valid UTF-8 text: {}", e.what()));
  }
}

Sha256::Sha256()
  : m_context(EVP_MD_CTX_new())
{
  if (m_context == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(m_context), sha256_method(), nullptr) != 1) {
    throw Error(ErrorCode::internal, "cannot set up SHA-256");
  }
}

Sha256::~Sha256()
{
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(m_context));
}

void
Sha256::update(std::string_view bytes)
{
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(m_context), bytes.data(), bytes.size());
}

std::array<unsigned char, 32>
Sha256::finish()
{
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(m_context), digest.data(), &length);
  return digest;
}

std::string
hex(const unsigned char* bytes, std::size_t n)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = k_digits[bytes[i] >> 4];
    out[2 * i + 1] = k_digits[bytes[i] & 15];
  }
  return out;
}

std::string
sha256_hex(std::string_view bytes)
{
  Sha256 sha;
  sha.update(bytes);
  const auto digest = sha.finish();
  return hex(digest.data(), digest.size());
}

std::string
layer_key(std::string_view layer, std::string_view canonical)
{
  return fmt::format("{}:{}", layer, sha256_hex(canonical).substr(0, 32));
}

bool
is_delivery_param(std::string_view name)
{
  return name == "stream" || name == "stream_options" || name == "user" || name == "metadata";
}

Json
prompt_messages(std::string_view prompt)
{
  return Json::array({Json{{"role", "user"}, {"content", std::string(prompt)}}});
}

namespace {

// The params a response key keeps.
Json
answer_params(const Json& params)
{
  if (!params.is_null() && !params.is_object()) {
    throw Error(ErrorCode::bad_request, "params must be a JSON object");
  }
  Json kept = Json::object();
  if (params.is_object()) {
    for (const auto& [name, value] : params.items()) {
      if (!is_delivery_param(name)) {
        kept[name] = value;
      }
    }
  }
  return kept;
}

void
require_messages(const Json& messages)
{
  if (!messages.is_array() || messages.empty()) {
    throw Error(ErrorCode::bad_request, "messages must be a non-empty JSON array");
  }
}

} // namespace

std::string
response_key(std::string_view model, const Json& messages, const Json& params)
{
  require_text(model, "the model");
  require_messages(messages);
  return layer_key("response", canonical_json(Json{
                                 {"messages", messages}, {"model", std::string(model)}, {"params", answer_params(params)}}));
}

ResponseRequest
response_request(Json body, RequestInput input)
{
  if (!body.is_object()) {
    throw Error(ErrorCode::bad_request, "a request must be a JSON object");
  }
  const char* input_name = input == RequestInput::prompt ? "prompt" : "messages";
  const auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get_ref<const std::string&>().empty()) {
    throw Error(ErrorCode::bad_request, "the request has no \"model\" string");
  }
  const auto turns = body.find(input_name);
  ResponseRequest request;
  request.model = model->get<std::string>();
  if (input == RequestInput::prompt) {
    if (turns == body.end() || !turns->is_string()) {
      throw Error(ErrorCode::bad_request, "the request's \"prompt\" must be a string");
    }
    request.messages = prompt_messages(turns->get_ref<const std::string&>());
  } else {
    if (turns == body.end() || !turns->is_array() || turns->empty()) {
      throw Error(ErrorCode::bad_request, "the request's \"messages\" must be a non-empty JSON array");
    }
    request.messages = std::move(*turns);
  }
  body.erase("model");
  body.erase(input_name);
  request.params = std::move(body);
  return request;
}

std::optional<RequestInput>
request_input_of(const Json& body)
{
  if (body.is_object() && body.contains("messages")) {
    return RequestInput::messages;
  }
  if (body.is_object() && body.contains("prompt")) {
    return RequestInput::prompt;
  }
  return std::nullopt;
}

std::string
response_key(const ResponseRequest& request)
{
  return response_key(request.model, request.messages, request.params);
}

std::optional<ResponseQuestion>
response_question(const Json& messages, const Json& params)
{
  require_messages(messages);
  const Json& last = messages.back();
  if (!last.is_object() || last.value("role", Json()) != "user" || !last.contains("content")) {
    return std::nullopt;
  }
  ResponseQuestion question;
  const Json& content = last["content"];
  if (content.is_string()) {
    question.text = content.get<std::string>();
  } else if (content.is_array()) {
    for (const auto& part : content) {
      if (!part.is_object() || part.value("type", Json()) != "text" || !part.contains("text")
          || !part["text"].is_string()) {
        return std::nullopt; // an image or a tool result is not a question in words
      }
      if (!question.text.empty()) {
        question.text += '\n';
      }
      question.text += part["text"].get<std::string>();
    }
  }
  if (question.text.empty()) {
    return std::nullopt;
  }
  Json earlier = Json::array();
  for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
    earlier.push_back(messages[i]);
  }
  question.context = layer_key("turns", canonical_json(Json{{"messages", earlier}, {"params", answer_params(params)}}));
  return question;
}

std::string
embedding_key(std::string_view model, std::string_view text)
{
  require_text(model, "the model");
  return layer_key("embedding", canonical_json(Json{{"model", std::string(model)}, {"text", std::string(text)}}));
}

std::string
retrieval_key(std::string_view retriever, std::string_view query, std::int64_t top_k, const Json& params)
{
  require_text(retriever, "the retriever");
  return layer_key("retrieval", canonical_json(Json{{"params", params.is_object() ? params : Json::object()},
                                                    {"query", std::string(query)},
                                                    {"retriever", std::string(retriever)},
                                                    {"top_k", top_k}}));
}

std::string
context_key(std::string_view session, std::int64_t turn)
{
  require_text(session, "the session");
  return layer_key("context", canonical_json(Json{{"session", std::string(session)}, {"turn", turn}}));
}

std::string
semantic_key(std::string_view model, std::string_view text, std::string_view context)
{
  require_text(model, "the model");
  return layer_key("semantic", canonical_json(Json{{"context", std::string(context)},
                                                   {"model", std::string(model)},
                                                   {"text", std::string(text)}}));
}

} // namespace omnicache::protocol
