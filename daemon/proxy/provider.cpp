#include "daemon/proxy/provider.hpp"

#include "protocol/error.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <iterator>

namespace omnicache::daemon::proxy {

using protocol::Json;

namespace {

// Built responses keep the providers' member order, so they read like the real ones.
using Out = nlohmann::ordered_json;

// Doubles from here on round to infinity as a float32.
constexpr double k_float_limit = 0x1.ffffffp127;

std::optional<Json>
parse_json(std::string_view text)
{
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return std::nullopt;
  }
  return value;
}

std::string
dump(const Out& value)
{
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json*
member(const Json& object, const char* name)
{
  if (!object.is_object()) {
    return nullptr;
  }
  const auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

bool
string_is(const Json& object, const char* name, std::string_view expected)
{
  const Json* value = member(object, name);
  return value != nullptr && value->is_string() && value->get_ref<const std::string&>() == expected;
}

bool
is_array_member(const Json& object, const char* name)
{
  const Json* value = member(object, name);
  return value != nullptr && value->is_array();
}

std::optional<std::uint64_t>
count(const Json& object, const char* name)
{
  const Json* value = member(object, name);
  if (value == nullptr || !value->is_number_integer() || *value < 0) {
    return std::nullopt;
  }
  return value->get<std::uint64_t>();
}

std::string
string_at(const Json* value)
{
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// The text of a stored value: the answer of a JSON response of any API, or the value itself.
std::string
answer_text(const std::optional<Json>& parsed, std::string_view value)
{
  if (parsed && is_response_of(Api::messages, *parsed)) {
    std::string text;
    for (const auto& block : parsed->at("content")) {
      if (string_is(block, "type", "text")) {
        text += string_at(member(block, "text"));
      }
    }
    return text;
  }
  const bool chat = parsed && is_response_of(Api::chat, *parsed);
  if (chat || (parsed && is_response_of(Api::completions, *parsed))) {
    const Json& choices = parsed->at("choices");
    if (choices.empty()) {
      return {};
    }
    const Json* message = member(choices[0], "message");
    return chat ? (message != nullptr ? string_at(member(*message, "content")) : std::string())
                : string_at(member(choices[0], "text"));
  }
  return std::string(value);
}

// A response id from the key's digits, so that every replay of an entry has the same id.
std::string
id_digits(std::string_view key)
{
  const auto colon = key.find(':');
  const auto digits = colon == std::string_view::npos ? key : key.substr(colon + 1);
  return std::string(digits.substr(0, 24));
}

void
append_float(std::string& bytes, float value)
{
  const auto bits = std::bit_cast<std::uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) {
    bytes += static_cast<char>((bits >> shift) & 0xffU);
  }
}

float
float_at(std::string_view bytes, std::size_t offset)
{
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return std::bit_cast<float>(bits);
}

std::string
encode_base64(std::string_view bytes)
{
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(n));
  return text;
}

std::optional<std::string>
decode_base64(std::string_view text)
{
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string bytes(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes.
  const auto padding = text.size() - std::min(text.size(), text.find_last_not_of('=') + 1);
  if (padding > 2) {
    return std::nullopt;
  }
  bytes.resize(static_cast<std::size_t>(n) - padding);
  return bytes;
}

// float32 little-endian bytes of one data[].embedding: an array of numbers or base64 of the bytes.
std::optional<std::string>
vector_bytes(const Json* embedding)
{
  std::optional<std::string> bytes;
  if (embedding != nullptr && embedding->is_string()) {
    bytes = decode_base64(embedding->get_ref<const std::string&>());
  } else if (embedding != nullptr && embedding->is_array()) {
    bytes.emplace();
    for (const auto& number : *embedding) {
      if (!number.is_number()) {
        return std::nullopt;
      }
      const auto value = number.get<double>();
      if (!(std::abs(value) < k_float_limit)) {
        return std::nullopt;
      }
      append_float(*bytes, static_cast<float>(value));
    }
  }
  if (!bytes || bytes->empty() || bytes->size() % 4 != 0) {
    return std::nullopt;
  }
  for (std::size_t offset = 0; offset < bytes->size(); offset += 4) {
    if (!std::isfinite(float_at(*bytes, offset))) {
      return std::nullopt;
    }
  }
  return bytes;
}

} // namespace

std::string_view
api_name(Api api)
{
  static constexpr std::array<std::string_view, 4> k_names = {"chat", "completions", "embeddings", "messages"};
  return k_names.at(static_cast<std::size_t>(api));
}

bool
is_anthropic(Api api)
{
  return api == Api::messages;
}

std::optional<CacheRequest>
parse_cache_request(Api api, std::string_view body)
{
  auto parsed = parse_json(body);
  if (api == Api::embeddings || !parsed || !parsed->is_object()) {
    return std::nullopt;
  }
  const Json* model = member(*parsed, "model");
  const char* input_name = api == Api::completions ? "prompt" : "messages";
  const Json* input = member(*parsed, input_name);
  if (model == nullptr || !model->is_string() || model->get_ref<const std::string&>().empty() || input == nullptr) {
    return std::nullopt;
  }
  CacheRequest request;
  request.api = api;
  request.model = model->get<std::string>();
  if (api == Api::completions) {
    if (!input->is_string()) {
      return std::nullopt;
    }
    request.messages = protocol::prompt_messages(input->get_ref<const std::string&>());
  } else {
    if (!input->is_array() || input->empty()) {
      return std::nullopt;
    }
    request.messages = *input;
  }
  const Json* stream = member(*parsed, "stream");
  request.stream = stream != nullptr && *stream == true;
  const Json* options = member(*parsed, "stream_options");
  const Json* include_usage = options != nullptr ? member(*options, "include_usage") : nullptr;
  request.include_usage = include_usage != nullptr && *include_usage == true;
  request.params = std::move(*parsed);
  request.params.erase("model");
  request.params.erase(input_name);
  try {
    request.key = protocol::response_key(request.model, request.messages, request.params);
    request.question = protocol::response_question(request.messages, request.params);
  } catch (const protocol::Error&) {
    return std::nullopt;
  }
  return request;
}

Usage
usage_of(const Json& response)
{
  Usage usage;
  const Json* counts = member(response, "usage");
  if (counts == nullptr || !counts->is_object()) {
    return usage;
  }
  usage.prompt_tokens = count(*counts, "prompt_tokens");
  if (!usage.prompt_tokens) {
    usage.prompt_tokens = count(*counts, "input_tokens");
  }
  usage.completion_tokens = count(*counts, "completion_tokens");
  if (!usage.completion_tokens) {
    usage.completion_tokens = count(*counts, "output_tokens");
  }
  const Json* details = member(*counts, "prompt_tokens_details");
  if (details != nullptr) {
    usage.cached_tokens = count(*details, "cached_tokens").value_or(0);
  }
  usage.cached_tokens += count(*counts, "cache_read_input_tokens").value_or(0);
  usage.cache_write_tokens = count(*counts, "cache_creation_input_tokens").value_or(0);
  return usage;
}

bool
is_response_of(Api api, const Json& response)
{
  static constexpr std::array<const char*, 4> k_objects = {"chat.completion", "text_completion", "list", "message"};
  static constexpr std::array<const char*, 4> k_lists = {"choices", "choices", "data", "content"};
  const auto i = static_cast<std::size_t>(api);
  return string_is(response, is_anthropic(api) ? "type" : "object", k_objects.at(i))
         && is_array_member(response, k_lists.at(i));
}

std::string
render_response(Api api, std::string_view value, std::string_view model, std::string_view key,
                std::int64_t stored_ms, const Usage& usage)
{
  const auto parsed = parse_json(value);
  if (api == Api::embeddings || (parsed && is_response_of(api, *parsed))) {
    return std::string(value);
  }
  const auto text = answer_text(parsed, value);
  const auto prompt = usage.prompt_tokens.value_or(0);
  const auto completion = usage.completion_tokens.value_or(0);
  Out response;
  if (api == Api::messages) {
    response["id"] = "msg_" + id_digits(key);
    response["type"] = "message";
    response["role"] = "assistant";
    response["model"] = std::string(model);
    response["content"] = Out::array({Out{{"type", "text"}, {"text", text}}});
    response["stop_reason"] = "end_turn";
    response["stop_sequence"] = nullptr;
    response["usage"] = Out{{"input_tokens", prompt}, {"output_tokens", completion}};
    return dump(response);
  }
  const bool chat = api == Api::chat;
  Out choice;
  if (chat) {
    choice["index"] = 0;
    choice["message"] = Out{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  } else {
    choice["text"] = text;
    choice["index"] = 0;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = "stop";
  response["id"] = (chat ? "chatcmpl-" : "cmpl-") + id_digits(key);
  response["object"] = chat ? "chat.completion" : "text_completion";
  response["created"] = stored_ms / 1000;
  response["model"] = std::string(model);
  response["choices"] = Out::array({choice});
  response["usage"] = Out{{"prompt_tokens", prompt}, {"completion_tokens", completion},
                          {"total_tokens", prompt + completion}};
  return dump(response);
}

std::optional<EmbeddingsRequest>
parse_embeddings_request(std::string_view body)
{
  static constexpr std::array<std::string_view, 5> k_fields = {"model", "input", "encoding_format", "dimensions",
                                                                "user"};
  auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) {
    return std::nullopt;
  }
  for (const auto& item : parsed->items()) {
    if (std::find(k_fields.begin(), k_fields.end(), item.key()) == k_fields.end()) {
      return std::nullopt;
    }
  }
  const Json* model = member(*parsed, "model");
  const Json* input = member(*parsed, "input");
  if (model == nullptr || !model->is_string() || model->get_ref<const std::string&>().empty() || input == nullptr) {
    return std::nullopt;
  }
  EmbeddingsRequest request;
  request.model = model->get<std::string>();
  if (input->is_string()) {
    request.inputs.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty()) {
    for (const auto& text : *input) {
      if (!text.is_string()) {
        return std::nullopt; // token arrays are keyed by text only
      }
      request.inputs.push_back(text.get<std::string>());
    }
  } else {
    return std::nullopt;
  }
  const Json* format = member(*parsed, "encoding_format");
  if (format != nullptr && !format->is_null() && *format != "float") {
    if (*format != "base64") {
      return std::nullopt;
    }
    request.base64 = true;
  }
  request.key_model = request.model;
  const Json* dimensions = member(*parsed, "dimensions");
  if (dimensions != nullptr && !dimensions->is_null()) {
    const auto n = count(*parsed, "dimensions");
    if (!n || *n == 0) {
      return std::nullopt;
    }
    request.key_model += fmt::format("@dimensions={}", *n);
  }
  request.body = std::move(*parsed);
  return request;
}

std::string
embeddings_body(const EmbeddingsRequest& request, const std::vector<std::string>& inputs)
{
  Json body = request.body;
  body["input"] = inputs;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<std::vector<std::string>>
embedding_vectors(std::string_view response, std::size_t expected)
{
  const auto parsed = parse_json(response);
  const Json* data = parsed ? member(*parsed, "data") : nullptr;
  if (data == nullptr || !data->is_array() || data->size() != expected) {
    return std::nullopt;
  }
  std::vector<std::string> vectors(expected);
  for (std::size_t position = 0; position < data->size(); ++position) {
    const Json& item = (*data)[position];
    const auto index = member(item, "index") != nullptr ? count(item, "index") : position;
    auto bytes = vector_bytes(member(item, "embedding"));
    if (!index || *index >= expected || !vectors[*index].empty() || !bytes) {
      return std::nullopt;
    }
    vectors[*index] = std::move(*bytes);
  }
  return vectors;
}

std::string
embeddings_response(const EmbeddingsRequest& request, const std::vector<std::string>& vectors, const Json& usage)
{
  // Written by hand: each float in the shortest form that reads back as the same float32.
  std::string out = R"({"object":"list","data":[)";
  auto sink = std::back_inserter(out);
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    fmt::format_to(sink, R"({}{{"object":"embedding","index":{},"embedding":)", i == 0 ? "" : ",", i);
    if (request.base64) {
      fmt::format_to(sink, "\"{}\"}}", encode_base64(vectors[i]));
      continue;
    }
    out += '[';
    for (std::size_t offset = 0; offset + 4 <= vectors[i].size(); offset += 4) {
      const float value = float_at(vectors[i], offset);
      out += offset == 0 ? "" : ",";
      if (value == 0 && std::signbit(value)) {
        out += "-0.0"; // "-0" would read back as the integer 0
      } else {
        fmt::format_to(sink, "{}", value);
      }
    }
    out += "]}";
  }
  const auto prompt = count(usage, "prompt_tokens").value_or(0);
  fmt::format_to(sink, R"(],"model":{},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})", Json(request.model).dump(),
                 prompt, count(usage, "total_tokens").value_or(prompt));
  return out;
}

std::string
error_body(Api api, std::string_view type, std::string_view code, std::string_view message)
{
  Out body;
  if (is_anthropic(api)) {
    body["type"] = "error";
    body["error"] = Out{{"type", std::string(type)}, {"message", std::string(message)}};
  } else {
    body["error"] = Out{{"message", std::string(message)},
                        {"type", std::string(type)},
                        {"param", nullptr},
                        {"code", code.empty() ? Out(nullptr) : Out(std::string(code))}};
  }
  return dump(body);
}

} // namespace omnicache::daemon::proxy
