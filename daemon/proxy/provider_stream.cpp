#include "daemon/proxy/provider.hpp"
#include "daemon/proxy/provider_json.hpp"

#include <algorithm>
#include <vector>

namespace omnicache::daemon::proxy {

using protocol::Json;
using json_read::dump;
using json_read::Out;

namespace {

// Bounds on the indexes a stream may name: OpenAI allows n <= 128; more
// content blocks or tool calls than this is not an answer worth keeping.
constexpr std::size_t k_max_index = 1024;

const Json k_null;

const Json&
at(const Json& object, const char* name)
{
  if (!object.is_object()) {
    return k_null;
  }
  const auto found = object.find(name);
  return found == object.end() ? k_null : *found;
}

std::optional<std::size_t>
index_of(const Json& object)
{
  const Json& index = at(object, "index");
  if (!index.is_number_unsigned() || index.get<std::uint64_t>() >= k_max_index) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(index.get<std::uint64_t>());
}

// The element `index` of `array`, made from `fresh` when the stream names it for the first time.
Json&
slot(Json& array, std::size_t index, const Json& fresh)
{
  while (array.size() <= index) {
    array.push_back(nullptr);
  }
  if (array[index].is_null()) {
    array[index] = fresh;
  }
  return array[index];
}

// Whether every element the stream named was filled (no gap in the indexes).
bool
filled(const Json& array)
{
  return array.is_array() && std::find(array.begin(), array.end(), nullptr) == array.end();
}

bool
append_text(Json& object, const char* name, const Json& piece)
{
  if (!piece.is_string()) {
    return false;
  }
  Json& text = object[name];
  if (!text.is_string()) {
    text = "";
  }
  text.get_ref<std::string&>() += piece.get_ref<const std::string&>();
  return true;
}

void
append_event(std::string& out, std::string_view name, const Out& data)
{
  out += name.empty() ? std::string() : "event: " + std::string(name) + "\n";
  out += "data: " + dump(data) + "\n\n";
}

Out
chat_choice(std::size_t index, Out delta, const Json& finish_reason)
{
  return Out{{"index", index}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
}

std::string
openai_stream(Api api, const Json& response, bool include_usage)
{
  const bool chat = api == Api::chat;
  Out head;
  head["id"] = at(response, "id");
  head["object"] = chat ? "chat.completion.chunk" : "text_completion";
  head["created"] = at(response, "created");
  head["model"] = at(response, "model");
  for (const char* name : {"service_tier", "system_fingerprint"}) {
    if (response.contains(name)) {
      head[name] = response.at(name);
    }
  }
  const Out usage = at(response, "usage").is_object()
                      ? Out(response.at("usage"))
                      : Out{{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}};
  std::string out;
  // A chunk with one choice, or with none and the usage.
  const auto chunk = [&](const std::optional<Out>& choice) {
    Out data = head;
    data["choices"] = choice ? Out::array({*choice}) : Out::array();
    if (include_usage) {
      data["usage"] = choice ? Out() : usage;
    }
    append_event(out, "", data);
  };
  const Json& choices = at(response, "choices").is_array() ? response.at("choices") : Json::array();
  for (std::size_t i = 0; chat && i < choices.size(); ++i) {
    const Json& message = at(choices[i], "message");
    const Json& role = at(message, "role");
    // A message with no text (tool calls only) starts with a null content, as OpenAI's does.
    Out delta{{"role", role.is_string() ? role : Json("assistant")},
              {"content", at(message, "content").is_string() ? Json("") : k_null},
              {"refusal", nullptr}};
    chunk(chat_choice(i, std::move(delta), k_null));
  }
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (!chat) {
      chunk(Out{{"text", at(choices[i], "text")}, {"index", i}, {"logprobs", at(choices[i], "logprobs")},
                {"finish_reason", nullptr}});
      continue;
    }
    Out delta = Out::object();
    const Json& message = at(choices[i], "message");
    for (auto item = message.begin(); message.is_object() && item != message.end(); ++item) {
      if (item.key() != "role" && item->is_string() && !item->get_ref<const std::string&>().empty()) {
        delta[item.key()] = *item;
      }
    }
    Out choice = chat_choice(i, std::move(delta), k_null);
    choice["logprobs"] = at(choices[i], "logprobs");
    if (!choice["delta"].empty() || !choice["logprobs"].is_null()) {
      chunk(choice);
    }
  }
  for (std::size_t i = 0; chat && i < choices.size(); ++i) {
    const Json& calls = at(at(choices[i], "message"), "tool_calls");
    for (std::size_t j = 0; calls.is_array() && j < calls.size(); ++j) {
      Out call{{"index", j}, {"id", at(calls[j], "id")}, {"type", at(calls[j], "type")},
               {"function", at(calls[j], "function")}};
      chunk(chat_choice(i, Out{{"tool_calls", Out::array({call})}}, k_null));
    }
  }
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Json& reason = at(choices[i], "finish_reason");
    chunk(chat ? chat_choice(i, Out::object(), reason)
               : Out{{"text", ""}, {"index", i}, {"logprobs", nullptr}, {"finish_reason", reason}});
  }
  if (include_usage) {
    chunk(std::nullopt);
  }
  out += "data: [DONE]\n\n";
  return out;
}

std::string
anthropic_stream(const Json& response)
{
  std::string out;
  Out message = response;
  message["content"] = Out::array();
  message["stop_reason"] = nullptr;
  message["stop_sequence"] = nullptr;
  append_event(out, "message_start", Out{{"type", "message_start"}, {"message", message}});
  const Json& content = at(response, "content").is_array() ? response.at("content") : Json::array();
  for (std::size_t i = 0; i < content.size(); ++i) {
    Out start = content[i];
    std::vector<Out> deltas;
    for (const char* name : {"text", "thinking", "signature"}) {
      const Json& text = at(content[i], name);
      if (text.is_string()) {
        start[name] = "";
        if (!text.get_ref<const std::string&>().empty()) {
          deltas.push_back(Out{{"type", std::string(name) + "_delta"}, {name, text}});
        }
      }
    }
    const Json& input = at(content[i], "input");
    if (input.is_object()) {
      start["input"] = Out::object();
      if (!input.empty()) {
        deltas.push_back(Out{{"type", "input_json_delta"}, {"partial_json", dump(input)}});
      }
    }
    append_event(out, "content_block_start",
                 Out{{"type", "content_block_start"}, {"index", i}, {"content_block", start}});
    for (auto& delta : deltas) {
      append_event(out, "content_block_delta",
                   Out{{"type", "content_block_delta"}, {"index", i}, {"delta", std::move(delta)}});
    }
    append_event(out, "content_block_stop", Out{{"type", "content_block_stop"}, {"index", i}});
  }
  const Json& output_tokens = at(at(response, "usage"), "output_tokens");
  append_event(out, "message_delta",
               Out{{"type", "message_delta"},
                   {"delta", Out{{"stop_reason", at(response, "stop_reason")},
                                 {"stop_sequence", at(response, "stop_sequence")}}},
                   {"usage", Out{{"output_tokens", output_tokens.is_null() ? Json(0) : output_tokens}}}});
  append_event(out, "message_stop", Out{{"type", "message_stop"}});
  return out;
}

// Folds OpenAI tool call deltas into `calls`: the name once, the arguments in pieces.
bool
merge_tool_calls(Json& calls, const Json& parts)
{
  for (const auto& part : parts) {
    const auto index = index_of(part);
    if (!index) {
      return false;
    }
    Json& call =
      slot(calls, *index, Json{{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
    for (const char* field : {"id", "type"}) {
      if (at(part, field).is_string()) {
        call[field] = part.at(field);
      }
    }
    const Json& function = at(part, "function");
    if (at(function, "name").is_string()) {
      call["function"]["name"] = function.at("name");
    }
    if (at(function, "arguments").is_string()) {
      append_text(call["function"], "arguments", function.at("arguments"));
    }
  }
  return true;
}

// Folds one streamed choice into the assembled `choices`.
bool
merge_choice(Json& choices, const Json& piece, bool chat)
{
  const auto index = index_of(piece);
  if (!index) {
    return false;
  }
  Json fresh = chat ? Json{{"index", *index},
                           {"message", {{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr}}},
                           {"logprobs", nullptr},
                           {"finish_reason", nullptr}}
                    : Json{{"text", ""}, {"index", *index}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  Json& choice = slot(choices, *index, fresh);
  if (!chat && !append_text(choice, "text", at(piece, "text"))) {
    return false;
  }
  const Json& delta = at(piece, "delta");
  if (!chat && !delta.is_null()) {
    return false;
  }
  for (auto item = delta.begin(); delta.is_object() && item != delta.end(); ++item) {
    const std::string& name = item.key();
    const Json& value = item.value();
    Json& message = choice["message"];
    if (value.is_null()) {
      continue;
    }
    if (name == "role" && value.is_string()) {
      message["role"] = value;
    } else if (name == "tool_calls" && value.is_array()) {
      if (!merge_tool_calls(message["tool_calls"], value)) {
        return false;
      }
    } else if (!append_text(message, name.c_str(), value)) {
      return false;
    }
  }
  // Log probabilities come as arrays (one item per token) to concatenate.
  const Json& logprobs = at(piece, "logprobs");
  if (!logprobs.is_null() && !logprobs.is_object()) {
    return false;
  }
  for (auto item = logprobs.begin(); logprobs.is_object() && item != logprobs.end(); ++item) {
    Json& kept = choice["logprobs"][item.key()];
    if (kept.is_null()) {
      kept = *item;
    } else if (kept.is_array() && item->is_array()) {
      kept.insert(kept.end(), item->begin(), item->end());
    } else if (!item->is_null()) {
      return false;
    }
  }
  if (!at(piece, "finish_reason").is_null()) {
    choice["finish_reason"] = piece.at("finish_reason");
  }
  return true;
}

bool
all_filled(const Json& choices)
{
  return !choices.empty() && filled(choices)
         && std::all_of(choices.begin(), choices.end(), [](const Json& choice) {
              const Json& calls = at(at(choice, "message"), "tool_calls");
              return calls.is_null() || filled(calls);
            });
}

// Applies one Anthropic content_block_delta to its block; tool input is
// gathered in `partial_json` (null for blocks without input) until the block stops.
bool
apply_block_delta(Json& block, const Json& delta, std::string* partial_json)
{
  const Json& kind = at(delta, "type");
  if (kind == "input_json_delta" && partial_json != nullptr && at(delta, "partial_json").is_string()) {
    *partial_json += delta.at("partial_json").get_ref<const std::string&>();
    return true;
  }
  if (kind == "citations_delta" && at(delta, "citation").is_object()
      && (block["citations"].is_null() || block["citations"].is_array())) {
    block["citations"].push_back(delta.at("citation"));
    return true;
  }
  for (const char* name : {"text", "thinking", "signature"}) {
    if (kind == std::string(name) + "_delta") {
      return append_text(block, name, at(delta, name));
    }
  }
  return false;
}

} // namespace

std::string
synthesize_stream(Api api, const Json& response, bool include_usage)
{
  return is_anthropic(api) ? anthropic_stream(response) : openai_stream(api, response, include_usage);
}

StreamRecorder::StreamRecorder(Api api)
  : m_api(api)
{
}

void
StreamRecorder::feed(std::string_view bytes)
{
  m_pending.append(bytes);
  std::size_t begin = 0;
  // Only the new bytes can end the pending line.
  auto end = m_pending.find('\n', m_pending.size() - bytes.size());
  for (; end != std::string::npos; end = m_pending.find('\n', begin)) {
    std::string_view text(m_pending.data() + begin, end - begin);
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
    }
    line(text);
    begin = end + 1;
  }
  m_pending.erase(0, begin);
}

bool
StreamRecorder::complete() const
{
  return m_done && !m_failed;
}

std::optional<Json>
StreamRecorder::response() const
{
  return complete() ? std::optional<Json>(m_response) : std::nullopt;
}

void
StreamRecorder::line(std::string_view text)
{
  if (text.empty()) {
    if (m_has_data) {
      event(m_event, m_data);
    }
    m_event.clear();
    m_data.clear();
    m_has_data = false;
    return;
  }
  if (text.front() == ':') {
    return; // a comment, sent to keep the connection alive
  }
  const auto colon = text.find(':');
  const auto field = text.substr(0, colon);
  auto value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  if (field == "event") {
    m_event = value;
  } else if (field == "data") {
    if (m_has_data) {
      m_data += '\n';
    }
    m_data += value;
    m_has_data = true;
  }
}

void
StreamRecorder::event(std::string_view name, std::string_view data)
{
  if (m_failed || m_done) {
    return;
  }
  if (name == "error") {
    m_failed = true;
    return;
  }
  m_failed = !(is_anthropic(m_api) ? anthropic_event(data) : openai_event(data));
}

bool
StreamRecorder::openai_event(std::string_view data)
{
  if (data == "[DONE]") {
    m_done = true;
    return m_started && all_filled(m_response["choices"]);
  }
  const bool chat = m_api == Api::chat;
  const Json chunk = Json::parse(data, nullptr, false);
  const char* object = chat ? "chat.completion.chunk" : "text_completion";
  if (!chunk.is_object() || chunk.contains("error") || at(chunk, "object") != object
      || !at(chunk, "choices").is_array()) {
    return false;
  }
  if (!m_started) {
    m_response = Json{{"object", chat ? "chat.completion" : "text_completion"}, {"choices", Json::array()}};
    m_started = true;
  }
  for (const char* name : {"id", "created", "model", "service_tier", "system_fingerprint"}) {
    if (!at(chunk, name).is_null()) {
      m_response[name] = chunk.at(name);
    }
  }
  if (at(chunk, "usage").is_object()) {
    m_response["usage"] = chunk.at("usage");
  }
  for (const auto& piece : chunk.at("choices")) {
    if (!merge_choice(m_response["choices"], piece, chat)) {
      return false;
    }
  }
  return true;
}

bool
StreamRecorder::anthropic_event(std::string_view data)
{
  const Json event = Json::parse(data, nullptr, false);
  const Json& type = at(event, "type");
  if (type == "ping") {
    return true;
  }
  if (type == "message_start") {
    if (m_started || !at(event, "message").is_object()) {
      return false;
    }
    m_response = event.at("message");
    m_response["content"] = Json::array();
    m_started = true;
    return true;
  }
  if (!m_started) {
    return false;
  }
  Json& content = m_response["content"];
  if (type == "message_delta" && at(event, "delta").is_object()) {
    m_response.update(event.at("delta"));
    const Json& usage = at(event, "usage");
    for (auto item = usage.begin(); usage.is_object() && item != usage.end(); ++item) {
      if (!item.value().is_null()) {
        m_response["usage"][item.key()] = item.value();
      }
    }
    return true;
  }
  if (type == "message_stop") {
    m_done = true;
    return filled(content) && m_partial_json.empty();
  }
  const auto index = index_of(event);
  if (!index) {
    return false;
  }
  const bool known = *index < content.size() && !content[*index].is_null();
  if (type == "content_block_start") {
    if (known || !at(event, "content_block").is_object()) {
      return false;
    }
    if (slot(content, *index, event.at("content_block")).contains("input")) {
      m_partial_json[*index];
    }
    return true;
  }
  if (!known) {
    return false;
  }
  Json& block = content[*index];
  const auto partial = m_partial_json.find(*index);
  if (type == "content_block_stop") {
    if (partial != m_partial_json.end()) {
      // The input arrives as pieces of one JSON text; an empty one is an empty input.
      block["input"] = partial->second.empty() ? Json::object() : Json::parse(partial->second, nullptr, false);
      m_partial_json.erase(partial);
      return !block["input"].is_discarded();
    }
    return true;
  }
  return type == "content_block_delta"
         && apply_block_delta(block, at(event, "delta"),
                              partial == m_partial_json.end() ? nullptr : &partial->second);
}

} // namespace omnicache::daemon::proxy
