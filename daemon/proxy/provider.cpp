#include "daemon/proxy/provider.hpp"
#include "daemon/proxy/provider_json.hpp"

#include "protocol/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>

namespace omnicache::daemon::proxy {

using protocol::Json;
using namespace json_read;

namespace {

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
  if (api == Api::embeddings || !parsed) {
    return std::nullopt;
  }
  CacheRequest request;
  request.api = api;
  const Json* stream = member(*parsed, "stream");
  request.stream = stream != nullptr && *stream == true;
  const Json* options = member(*parsed, "stream_options");
  const Json* include_usage = options != nullptr ? member(*options, "include_usage") : nullptr;
  request.include_usage = include_usage != nullptr && *include_usage == true;
  try {
    // The one reading of a whole request that `omnicache response --messages` shares.
    auto asked = protocol::response_request(
      std::move(*parsed), api == Api::completions ? protocol::RequestInput::prompt : protocol::RequestInput::messages);
    request.key = protocol::response_key(asked);
    request.question = protocol::response_question(asked.messages, asked.params);
    request.model = std::move(asked.model);
    request.messages = std::move(asked.messages);
    request.params = std::move(asked.params);
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
