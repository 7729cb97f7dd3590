#include "cli/llm.hpp"
#include "protocol/canonical.hpp"

#include <doctest/doctest.h>

using namespace omnicache::cli;
using omnicache::protocol::Json;

TEST_SUITE("cli.llm")
{
  TEST_CASE("usage is read from OpenAI- and Anthropic-shaped answers")
  {
    const auto openai = llm::usage_of_answer(R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}})");
    CHECK(openai.prompt_tokens == 12u);
    CHECK(openai.completion_tokens == 3u);
    const auto anthropic = llm::usage_of_answer(R"(  {"content":[],"usage":{"input_tokens":7,"output_tokens":9}})");
    CHECK(anthropic.prompt_tokens == 7u);
    CHECK(anthropic.completion_tokens == 9u);
  }

  TEST_CASE("anything else gives no counts")
  {
    for (const char* answer : {"", "plain text", "[1,2]", "{broken", R"({"usage":"many"})",
                               R"({"usage":{"prompt_tokens":-1,"completion_tokens":"3"}})"}) {
      CAPTURE(answer);
      const auto usage = llm::usage_of_answer(answer);
      CHECK_FALSE(usage.prompt_tokens);
      CHECK_FALSE(usage.completion_tokens);
    }
  }

  TEST_CASE("meta holds the model and only the counts known")
  {
    CHECK(llm::meta_of("m", {}) == Json{{"model", "m"}});
    CHECK(llm::meta_of("m", {5, std::nullopt}) == Json{{"model", "m"}, {"prompt_tokens", 5}});
  }

  TEST_CASE("response fields match the response layer's canonical key and tag "
            "the model once")
  {
    const auto fields = llm::response_fields("gpt-4o", "What is 2+2?", {"a", "model:gpt-4o", "a"}, {});
    CHECK(fields["key"]
          == omnicache::protocol::response_key("gpt-4o", omnicache::protocol::prompt_messages("What is 2+2?"),
                                               Json::object()));
    CHECK(fields["layer"] == "response");
    CHECK(fields["tags"] == Json{"model:gpt-4o", "a"});
    CHECK(fields["meta"] == Json{{"model", "gpt-4o"}});
  }
}
