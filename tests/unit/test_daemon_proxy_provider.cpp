#include "daemon/proxy/provider.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace omnicache::daemon::proxy;
using omnicache::protocol::Json;

namespace {

Json
parse(const std::string& text)
{
  return Json::parse(text);
}

std::string
float_bytes(const std::vector<float>& values)
{
  std::string bytes;
  for (const float value : values) {
    const auto bits = std::bit_cast<std::uint32_t>(value);
    for (int shift = 0; shift < 32; shift += 8) {
      bytes += static_cast<char>((bits >> shift) & 0xffU);
    }
  }
  return bytes;
}

// Feeds `stream` in pieces of `step` bytes.
StreamRecorder
record(Api api, const std::string& stream, std::size_t step)
{
  StreamRecorder recorder(api);
  for (std::size_t offset = 0; offset < stream.size(); offset += step) {
    recorder.feed(std::string_view(stream).substr(offset, step));
  }
  return recorder;
}

// The response a recorder assembles from the stream synthesized for `response`, fed one byte at a time.
Json
round_trip(Api api, const Json& response, bool include_usage)
{
  const auto recorder = record(api, synthesize_stream(api, response, include_usage), 1);
  REQUIRE(recorder.complete());
  return *recorder.response();
}

const char* const k_chat_two_choices = R"({
  "id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
  "system_fingerprint": "fp_44709d6fcb",
  "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "Paris is the capital.", "refusal": null},
     "logprobs": null, "finish_reason": "stop"},
    {"index": 1, "message": {"role": "assistant", "content": "It is Paris.\nÜnïcödé ✓", "refusal": null},
     "logprobs": null, "finish_reason": "length"}],
  "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
            "prompt_tokens_details": {"cached_tokens": 4}}})";

const char* const k_chat_tool_calls = R"({
  "id": "chatcmpl-tools", "object": "chat.completion", "created": 1700000001, "model": "gpt-4o",
  "choices": [
    {"index": 0, "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
     "logprobs": null, "finish_reason": "tool_calls"}],
  "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}})";

const char* const k_completion = R"({
  "id": "cmpl-xyz", "object": "text_completion", "created": 1700000002, "model": "gpt-3.5-turbo-instruct",
  "choices": [{"text": " four.", "index": 0, "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})";

const char* const k_message = R"({
  "id": "msg_01XYZ", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
  "content": [
    {"type": "text", "text": "Let me check the weather."},
    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris", "days": [1, 2]}},
    {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 40, "output_tokens": 25, "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 300}})";

} // namespace

TEST_SUITE("daemon.proxy.provider")
{
  TEST_CASE("API names and providers")
  {
    CHECK(api_name(Api::chat) == "chat");
    CHECK(api_name(Api::completions) == "completions");
    CHECK(api_name(Api::embeddings) == "embeddings");
    CHECK(api_name(Api::messages) == "messages");
    CHECK(is_anthropic(Api::messages));
    CHECK_FALSE(is_anthropic(Api::chat));
  }

  TEST_CASE("a chat request is keyed by model, messages and the other params")
  {
    const auto request = parse_cache_request(
      Api::chat, R"({"model":"gpt-4o","messages":[{"role":"user","content":"What is 2+2?"}],"temperature":0,
                    "stream":true,"stream_options":{"include_usage":true},"user":"alice"})");
    REQUIRE(request);
    CHECK(request->api == Api::chat);
    CHECK(request->model == "gpt-4o");
    CHECK(request->stream);
    CHECK(request->include_usage);
    CHECK(request->params == parse(R"({"temperature":0,"stream":true,"stream_options":{"include_usage":true},
                                       "user":"alice"})"));
    // The published vector (PROTOCOL.md 10.3): delivery params do not count.
    CHECK(request->key == "response:c635c3ca0a14b037e99c46b72d35250b");
    REQUIRE(request->question);
    CHECK(request->question->text == "What is 2+2?");
    CHECK(request->question->context
          == omnicache::protocol::response_question(request->messages, parse(R"({"temperature":0})"))->context);

    const auto plain = parse_cache_request(
      Api::chat, R"({"model":"gpt-4o","messages":[{"role":"user","content":"What is 2+2?"}],"temperature":0,
                    "stream":"yes","stream_options":{"include_usage":1}})");
    REQUIRE(plain);
    CHECK_FALSE(plain->stream);
    CHECK_FALSE(plain->include_usage);
    CHECK(plain->key == request->key);
  }

  TEST_CASE("a completions prompt is keyed as one user message")
  {
    const auto request = parse_cache_request(Api::completions,
                                             R"({"model":"gpt-4o","prompt":"What is 2+2?","temperature":0.0})");
    REQUIRE(request);
    CHECK(request->messages == parse(R"([{"role":"user","content":"What is 2+2?"}])"));
    CHECK(request->params == parse(R"({"temperature":0.0})"));
    CHECK(request->key == "response:c635c3ca0a14b037e99c46b72d35250b");
    CHECK_FALSE(parse_cache_request(Api::completions, R"({"model":"gpt-4o","prompt":["a","b"]})"));
    CHECK_FALSE(parse_cache_request(Api::completions, R"({"model":"gpt-4o","prompt":[1,2,3]})"));
  }

  TEST_CASE("an Anthropic request keeps system as a param")
  {
    const auto request = parse_cache_request(
      Api::messages, R"({"model":"claude-sonnet-4-20250514","max_tokens":100,"system":"Be brief.",
                        "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]})");
    REQUIRE(request);
    CHECK(request->params == parse(R"({"max_tokens":100,"system":"Be brief."})"));
    CHECK(request->key
          == omnicache::protocol::response_key("claude-sonnet-4-20250514", request->messages, request->params));
    REQUIRE(request->question);
    CHECK(request->question->text == "Hi");
    const auto other = parse_cache_request(
      Api::messages, R"({"model":"claude-sonnet-4-20250514","max_tokens":100,"system":"Be long.",
                        "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]})");
    REQUIRE(other);
    CHECK(other->key != request->key);
    CHECK(other->question->context != request->question->context);
  }

  TEST_CASE("requests that cannot be cached")
  {
    CHECK_FALSE(parse_cache_request(Api::chat, "not json"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"([1,2])"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"({"messages":[{"role":"user","content":"x"}]})"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"({"model":"","messages":[{"role":"user","content":"x"}]})"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"({"model":7,"messages":[{"role":"user","content":"x"}]})"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"({"model":"m","messages":[]})"));
    CHECK_FALSE(parse_cache_request(Api::chat, R"({"model":"m","messages":"hello"})"));
    CHECK_FALSE(parse_cache_request(Api::messages, R"({"model":"m"})"));
    CHECK_FALSE(parse_cache_request(Api::completions, R"({"model":"m","messages":[{"role":"user","content":"x"}]})"));
    CHECK_FALSE(parse_cache_request(Api::embeddings, R"({"model":"m","input":"x"})"));
    // A chat request with no question in words is still cached, only not by meaning.
    const auto image = parse_cache_request(
      Api::chat,
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})");
    REQUIRE(image);
    CHECK_FALSE(image->question);
  }

  TEST_CASE("usage of OpenAI and Anthropic responses, cached tokens included")
  {
    const auto openai = usage_of(parse(k_chat_two_choices));
    CHECK(openai.prompt_tokens == 12U);
    CHECK(openai.completion_tokens == 9U);
    CHECK(openai.cached_tokens == 4);
    CHECK(openai.cache_write_tokens == 0);
    const auto anthropic = usage_of(parse(k_message));
    CHECK(anthropic.prompt_tokens == 40U);
    CHECK(anthropic.completion_tokens == 25U);
    CHECK(anthropic.cached_tokens == 300);
    CHECK(anthropic.cache_write_tokens == 100);
    const auto none = usage_of(parse(R"({"object":"chat.completion","choices":[]})"));
    CHECK_FALSE(none.prompt_tokens);
    CHECK_FALSE(none.completion_tokens);
    const auto odd = usage_of(parse(R"({"usage":{"prompt_tokens":-1,"completion_tokens":"3"}})"));
    CHECK_FALSE(odd.prompt_tokens);
    CHECK_FALSE(odd.completion_tokens);
    CHECK_FALSE(usage_of(Json("text")).prompt_tokens);
  }

  TEST_CASE("responses are told apart by their shape")
  {
    CHECK(is_response_of(Api::chat, parse(k_chat_two_choices)));
    CHECK_FALSE(is_response_of(Api::completions, parse(k_chat_two_choices)));
    CHECK(is_response_of(Api::completions, parse(k_completion)));
    CHECK(is_response_of(Api::messages, parse(k_message)));
    CHECK_FALSE(is_response_of(Api::chat, parse(k_message)));
    CHECK_FALSE(is_response_of(Api::chat, parse(R"({"object":"chat.completion"})")));
    CHECK_FALSE(is_response_of(Api::chat, parse(R"({"object":"chat.completion.chunk","choices":[]})")));
    CHECK_FALSE(is_response_of(Api::messages, parse(R"("message")")));
  }

  TEST_CASE("a stored response of the request's own shape is served byte for byte")
  {
    const std::string chat = std::string(k_chat_two_choices) + "\n";
    CHECK(render_response(Api::chat, chat, "other-model", "response:00", 5000, Usage{}) == chat);
    CHECK(render_response(Api::messages, k_message, "m", "response:00", 0, Usage{}) == k_message);
    CHECK(render_response(Api::completions, k_completion, "m", "response:00", 0, Usage{}) == k_completion);
  }

  TEST_CASE("plain text is made into a response of each shape")
  {
    const std::string key = "response:c635c3ca0a14b037e99c46b72d35250b";
    Usage usage;
    usage.prompt_tokens = 10;
    usage.completion_tokens = 3;
    const auto chat = parse(render_response(Api::chat, "Four.", "gpt-4o", key, 1700000000123, usage));
    CHECK(chat == parse(R"({"id":"chatcmpl-c635c3ca0a14b037e99c46b7","object":"chat.completion",
      "created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Four.",
      "refusal":null},"logprobs":null,"finish_reason":"stop"}],
      "usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}})"));
    const auto completion = parse(render_response(Api::completions, "Four.", "gpt-4o", key, 0, Usage{}));
    CHECK(completion == parse(R"({"id":"cmpl-c635c3ca0a14b037e99c46b7","object":"text_completion","created":0,
      "model":"gpt-4o","choices":[{"text":"Four.","index":0,"logprobs":null,"finish_reason":"stop"}],
      "usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}})"));
    const auto message = parse(render_response(Api::messages, "Four.", "claude", key, 0, usage));
    CHECK(message == parse(R"({"id":"msg_c635c3ca0a14b037e99c46b7","type":"message","role":"assistant",
      "model":"claude","content":[{"type":"text","text":"Four."}],"stop_reason":"end_turn","stop_sequence":null,
      "usage":{"input_tokens":10,"output_tokens":3}})"));
    // Deterministic, and in the providers' member order.
    const auto text = render_response(Api::chat, "Four.", "gpt-4o", key, 0, usage);
    CHECK(text == render_response(Api::chat, "Four.", "gpt-4o", key, 0, usage));
    CHECK(text.rfind(R"({"id":"chatcmpl-c635c3ca0a14b037e99c46b7","object":"chat.completion","created":0,)", 0) == 0);
    // JSON that is no response is text too; bytes that are not UTF-8 do not stop it.
    CHECK(parse(render_response(Api::chat, R"({"a":1})", "m", key, 0, Usage{}))["choices"][0]["message"]["content"]
          == R"({"a":1})");
    CHECK(parse(render_response(Api::chat, "caf\xE9", "m", key, 0, Usage{}))["choices"][0]["message"]["content"]
          == "caf\xEF\xBF\xBD");
  }

  TEST_CASE("the other provider's response is converted through its answer text")
  {
    const std::string key = "response:0123456789abcdef0123456789abcdef";
    const auto chat = parse(render_response(Api::chat, k_message, "gpt-4o", key, 0, Usage{}));
    CHECK(is_response_of(Api::chat, chat));
    CHECK(chat["choices"][0]["message"]["content"] == "Let me check the weather.");
    CHECK(chat["id"] == "chatcmpl-0123456789abcdef01234567");
    const auto message = parse(render_response(Api::messages, k_chat_two_choices, "claude", key, 0, Usage{}));
    CHECK(is_response_of(Api::messages, message));
    CHECK(message["content"] == parse(R"([{"type":"text","text":"Paris is the capital."}])"));
    CHECK(message["model"] == "claude");
    const auto completion = parse(render_response(Api::completions, k_chat_two_choices, "m", key, 0, Usage{}));
    CHECK(completion["choices"][0]["text"] == "Paris is the capital.");
    const auto from_completion = parse(render_response(Api::chat, k_completion, "m", key, 0, Usage{}));
    CHECK(from_completion["choices"][0]["message"]["content"] == " four.");
  }

  TEST_CASE("a synthesized chat stream has OpenAI's chunks and ending")
  {
    const auto response = parse(k_chat_two_choices);
    const auto stream = synthesize_stream(Api::chat, response, false);
    CHECK(stream.rfind(R"(data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
                       R"("model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,)"
                       R"("delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,)"
                       R"("finish_reason":null}]})"
                       "\n\n",
                       0)
          == 0);
    CHECK(stream.ends_with("\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n"));
    CHECK(stream.find("\"usage\"") == std::string::npos);
    CHECK(stream == synthesize_stream(Api::chat, response, false));

    const auto with_usage = synthesize_stream(Api::chat, response, true);
    CHECK(with_usage.ends_with(R"("choices":[],"usage":{"completion_tokens":9,"prompt_tokens":12,)"
                               R"("prompt_tokens_details":{"cached_tokens":4},"total_tokens":21}})"
                               "\n\ndata: [DONE]\n\n"));
  }

  TEST_CASE("a synthesized stream is recorded back as the response")
  {
    CHECK(round_trip(Api::chat, parse(k_chat_two_choices), true) == parse(k_chat_two_choices));
    // Without the usage chunk the usage is not known.
    auto no_usage = parse(k_chat_two_choices);
    no_usage.erase("usage");
    CHECK(round_trip(Api::chat, parse(k_chat_two_choices), false) == no_usage);
    CHECK(round_trip(Api::chat, parse(k_chat_tool_calls), true) == parse(k_chat_tool_calls));
    CHECK(round_trip(Api::completions, parse(k_completion), true) == parse(k_completion));
    CHECK(round_trip(Api::messages, parse(k_message), false) == parse(k_message));
    const auto thinking = parse(R"({"id":"msg_2","type":"message","role":"assistant","model":"claude",
      "content":[{"type":"thinking","thinking":"Two and two.","signature":"EqQB"},{"type":"text","text":"4"}],
      "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":7}})");
    CHECK(round_trip(Api::messages, thinking, false) == thinking);
  }

  TEST_CASE("a synthesized Anthropic stream has its events and ending")
  {
    const auto stream = synthesize_stream(Api::messages, parse(k_message), true);
    CHECK(stream.rfind("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{", 0) == 0);
    CHECK(stream.find("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
                      "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":"
                      "[1,2]}\"}}\n\n")
          != std::string::npos);
    CHECK(stream.find("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                      "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":25}}\n\n")
          != std::string::npos);
    CHECK(stream.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
  }

  TEST_CASE("an OpenAI stream is assembled from bytes split anywhere")
  {
    const std::string stream =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
      "\"model\":\"gpt-4o-mini\","
      "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
      "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\r\n\r\n"
      ": keep-alive\r\n\r\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
      "\"model\":\"gpt-4o-mini\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\n"
      "data: \"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"logprobs\":null,"
      "\"finish_reason\":null}]}\n\n"
      "data:{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
      "\"model\":\"gpt-4o-mini\","
      "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
      "\"model\":\"gpt-4o-mini\","
      "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n"
      "data: [DONE]\n\n";
    const auto expected = parse(R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,
      "model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"message":{"role":"assistant",
      "content":"Hello","refusal":null},"logprobs":null,"finish_reason":"stop"}],
      "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})");
    for (const std::size_t step : {std::size_t(1), std::size_t(7), stream.size()}) {
      CAPTURE(step);
      const auto recorder = record(Api::chat, stream, step);
      REQUIRE(recorder.complete());
      CHECK(*recorder.response() == expected);
    }
    // Cut before its end, a stream is not complete, whatever it holds.
    const auto cut = record(Api::chat, stream.substr(0, stream.size() - 2), 1);
    CHECK_FALSE(cut.complete());
    CHECK_FALSE(cut.response());
    CHECK_FALSE(record(Api::chat, stream.substr(0, stream.find("data: [DONE]")), 5).complete());
    // So is a stream of the other API.
    CHECK_FALSE(record(Api::completions, stream, stream.size()).complete());
  }

  TEST_CASE("OpenAI tool call deltas are put together")
  {
    const auto chunk = [](const std::string& delta, const std::string& finish) {
      return R"(data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":)"
             R"([{"index":0,"delta":)"
             + delta + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}\n\n";
    };
    const std::string stream =
      chunk(R"({"role":"assistant","content":null})", "null")
      + chunk(R"({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]})",
              "null")
      + chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]})", "null")
      + chunk(R"({"tool_calls":[{"index":1,"id":"call_b","type":"function",)"
              R"("function":{"name":"g","arguments":"{}"}}]})",
              "null")
      + chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})", "null") + chunk("{}", "\"tool_calls\"")
      + "data: [DONE]\n\n";
    const auto recorder = record(Api::chat, stream, 3);
    REQUIRE(recorder.complete());
    const auto response = *recorder.response();
    CHECK(response["choices"][0]["message"] == parse(R"({"role":"assistant","content":null,"refusal":null,
      "tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},
                    {"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]})"));
    CHECK(response["choices"][0]["finish_reason"] == "tool_calls");
    // A tool call index that leaves a gap is not an answer.
    const std::string gap = chunk(R"({"tool_calls":[{"index":1,"id":"c","function":{"name":"g","arguments":""}}]})",
                                  "\"tool_calls\"")
                            + "data: [DONE]\n\n";
    CHECK_FALSE(record(Api::chat, gap, gap.size()).complete());
  }

  TEST_CASE("OpenAI log probabilities are concatenated token by token")
  {
    const auto chunk = [](const std::string& text, const std::string& token) {
      return R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,)"
             R"("delta":{"content":")"
             + text + R"("},"logprobs":{"content":[{"token":")" + token
             + R"(","logprob":-0.5,"bytes":null,"top_logprobs":[]}],"refusal":null},"finish_reason":null}]})"
             + "\n\n";
    };
    const std::string stream = chunk("A", "A") + chunk("B", "B")
                               + R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",)"
                                 R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})"
                                 "\n\ndata: [DONE]\n\n";
    const auto recorder = record(Api::chat, stream, 2);
    REQUIRE(recorder.complete());
    const auto response = *recorder.response();
    CHECK(response["choices"][0]["message"]["content"] == "AB");
    CHECK(response["choices"][0]["logprobs"]
          == parse(R"({"content":[{"token":"A","logprob":-0.5,"bytes":null,"top_logprobs":[]},
                                  {"token":"B","logprob":-0.5,"bytes":null,"top_logprobs":[]}],"refusal":null})"));
    CHECK(round_trip(Api::chat, response, false) == response);
  }

  TEST_CASE("an Anthropic stream with pings and split tool input")
  {
    const std::string stream =
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
      "\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
      "\"cache_read_input_tokens\":8,\"output_tokens\":1}}}\n\n"
      "event: ping\ndata: {\"type\": \"ping\"}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
      "\"name\":\"lookup\",\"input\":{}}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"{\\\"q\\\": \\\"ca\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"ts\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\","
      "\"name\":\"now\",\"input\":{}}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
      "\"usage\":{\"output_tokens\":15}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    const auto expected = parse(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude",
      "content":[{"type":"text","text":"Hi there"},{"type":"tool_use","id":"toolu_1","name":"lookup",
      "input":{"q":"cats"}},{"type":"tool_use","id":"toolu_2","name":"now","input":{}}],
      "stop_reason":"tool_use","stop_sequence":null,
      "usage":{"input_tokens":25,"cache_read_input_tokens":8,"output_tokens":15}})");
    const auto recorder = record(Api::messages, stream, 1);
    REQUIRE(recorder.complete());
    CHECK(*recorder.response() == expected);
    CHECK(usage_of(*recorder.response()).cached_tokens == 8);

    // An error event means the answer failed, even when an end follows.
    const auto stop = stream.find("event: message_delta");
    const std::string failed = stream.substr(0, stop)
                               + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                 "\"message\":\"Overloaded\"}}\n\n"
                               + stream.substr(stop);
    CHECK_FALSE(record(Api::messages, failed, 1).complete());
    CHECK_FALSE(record(Api::messages, stream.substr(0, stop), 1).complete());
    // An event it does not know is not guessed at.
    const std::string unknown = stream.substr(0, stop)
                                + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                                  "\"delta\":{\"type\":\"hologram_delta\",\"x\":1}}\n\n"
                                + stream.substr(stop);
    CHECK_FALSE(record(Api::messages, unknown, unknown.size()).complete());
    // Broken tool input is not stored.
    std::string broken = stream;
    broken.replace(broken.find("ts\\\"}"), 5, "ts");
    CHECK_FALSE(record(Api::messages, broken, broken.size()).complete());
  }

  TEST_CASE("an OpenAI error in the stream means failure")
  {
    const std::string chunk = R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",)"
                              R"("choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]})"
                              "\n\n";
    CHECK(record(Api::chat, chunk + "data: [DONE]\n\n", 1).complete());
    const std::string error = "data: {\"error\":{\"message\":\"boom\"}}\n\n";
    CHECK_FALSE(record(Api::chat, chunk + error + "data: [DONE]\n\n", 1).complete());
    CHECK_FALSE(record(Api::chat, chunk + "event: error\ndata: {}\n\ndata: [DONE]\n\n", 1).complete());
    CHECK_FALSE(record(Api::chat, chunk + "data: not json\n\ndata: [DONE]\n\n", 1).complete());
    CHECK_FALSE(record(Api::chat, "data: [DONE]\n\n", 1).complete());
  }

  TEST_CASE("embeddings requests that can be cached")
  {
    const auto single = parse_embeddings_request(R"({"model":"text-embedding-3-small","input":"Hello"})");
    REQUIRE(single);
    CHECK(single->model == "text-embedding-3-small");
    CHECK(single->key_model == "text-embedding-3-small");
    CHECK(single->inputs == std::vector<std::string>{"Hello"});
    CHECK_FALSE(single->base64);

    const auto many = parse_embeddings_request(
      R"({"model":"m","input":["a","b","c"],"encoding_format":"base64","dimensions":256,"user":"u"})");
    REQUIRE(many);
    CHECK(many->key_model == "m@dimensions=256");
    CHECK(many->inputs == std::vector<std::string>{"a", "b", "c"});
    CHECK(many->base64);
    CHECK(parse(embeddings_body(*many, {"b"}))
          == parse(R"({"model":"m","input":["b"],"encoding_format":"base64","dimensions":256,"user":"u"})"));

    CHECK(parse_embeddings_request(R"({"model":"m","input":"x","encoding_format":"float"})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":[1,2,3]})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":[[1,2],[3]]})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":[]})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":"x","extra_body":{}})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":"x","encoding_format":"int8"})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":"x","dimensions":0})"));
    CHECK_FALSE(parse_embeddings_request(R"({"model":"m","input":"x","dimensions":"256"})"));
    CHECK_FALSE(parse_embeddings_request(R"({"input":"x"})"));
    CHECK_FALSE(parse_embeddings_request("[]"));
  }

  TEST_CASE("embedding vectors are read from floats and base64, by index")
  {
    const auto floats = embedding_vectors(
      R"({"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,-1.25]},
                                  {"object":"embedding","index":0,"embedding":[0.1,2,3e-8]}],
         "model":"m","usage":{"prompt_tokens":2,"total_tokens":2}})",
      2);
    REQUIRE(floats);
    CHECK((*floats)[0] == float_bytes({0.1F, 2.0F, 3e-8F}));
    CHECK((*floats)[1] == float_bytes({0.5F, -1.25F}));

    // base64 of the little-endian float32 bytes of [1.0, -2.0]
    const auto base64 = embedding_vectors(R"({"data":[{"index":0,"embedding":"AACAPwAAAMA="}]})", 1);
    REQUIRE(base64);
    CHECK((*base64)[0] == float_bytes({1.0F, -2.0F}));

    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":[1]}]})", 2));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})", 2));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":[1e39]}]})", 1));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":[]}]})", 1));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":["1"]}]})", 1));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":"AACAPw="}]})", 1));
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":"AACA"}]})", 1)); // 3 bytes
    CHECK_FALSE(embedding_vectors(R"({"data":[{"index":0,"embedding":"AADAfw=="}]})", 1)); // NaN
    CHECK_FALSE(embedding_vectors(R"({"error":{"message":"x"}})", 1));
    CHECK_FALSE(embedding_vectors("not json", 1));
  }

  TEST_CASE("an embeddings response in each encoding")
  {
    const auto request = parse_embeddings_request(R"({"model":"text-embedding-3-small","input":["a","b"]})");
    REQUIRE(request);
    const std::vector<std::string> vectors = {float_bytes({0.1F, -2.5F, 1e-7F}), float_bytes({3.0F})};
    CHECK(embeddings_response(*request, vectors, parse(R"({"prompt_tokens":4,"total_tokens":4})"))
          == R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2.5,1e-07]},)"
             R"({"object":"embedding","index":1,"embedding":[3]}],"model":"text-embedding-3-small",)"
             R"("usage":{"prompt_tokens":4,"total_tokens":4}})");

    // Every float32 reads back as itself.
    const std::vector<float> awkward = {1.0F / 3.0F, std::numeric_limits<float>::min(),
                                        std::numeric_limits<float>::max(), -0.0F, 16777217.0F, 1e-45F};
    const auto text = embeddings_response(*request, {float_bytes(awkward)}, Json());
    const auto back = embedding_vectors(text, 1);
    REQUIRE(back);
    CHECK((*back)[0] == float_bytes(awkward));
    CHECK(parse(text)["usage"] == parse(R"({"prompt_tokens":0,"total_tokens":0})"));

    const auto base64 = parse_embeddings_request(R"({"model":"m","input":"a","encoding_format":"base64"})");
    REQUIRE(base64);
    const auto encoded = embeddings_response(*base64, {float_bytes({1.0F, -2.0F})}, Json::object());
    CHECK(parse(encoded)["data"][0]["embedding"] == "AACAPwAAAMA=");
    CHECK(embedding_vectors(encoded, 1) == std::vector<std::string>{float_bytes({1.0F, -2.0F})});
  }

  TEST_CASE("error bodies in each provider's shape")
  {
    CHECK(error_body(Api::chat, "authentication_error", "invalid_api_key", "Invalid token.")
          == R"({"error":{"message":"Invalid token.","type":"authentication_error","param":null,)"
             R"("code":"invalid_api_key"}})");
    CHECK(error_body(Api::embeddings, "invalid_request_error", "", "Bad \"X-Omnicache-TTL\".")
          == R"({"error":{"message":"Bad \"X-Omnicache-TTL\".","type":"invalid_request_error","param":null,)"
             R"("code":null}})");
    CHECK(error_body(Api::messages, "api_error", "upstream_unreachable", "Upstream unreachable.")
          == R"({"type":"error","error":{"type":"api_error","message":"Upstream unreachable."}})");
  }
}
