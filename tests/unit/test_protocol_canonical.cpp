#include "protocol/canonical.hpp"
#include "protocol/error.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace omnicache::protocol;

namespace {

Json
parse(const std::string& text)
{
  return Json::parse(text);
}

} // namespace

TEST_SUITE("protocol.canonical")
{
  TEST_CASE("canonical JSON sorts members, drops whitespace and writes "
            "integral floats as integers")
  {
    CHECK(canonical_json(parse(R"({ "b" : 1, "a" : [ 2.0, -0.0, 0.5, 1e3 ] })")) == R"({"a":[2,0,0.5,1000],"b":1})");
    CHECK(canonical_json(parse(R"({"z":{"y":true,"x":null},"é":"ü","Z":"\u00e9"})"))
          == "{\"Z\":\"\xC3\xA9\",\"z\":{\"x\":null,\"y\":true},\"\xC3\xA9\":"
             "\"\xC3\xBC\"}");
    // Only the escapes JSON requires; non-ASCII stays UTF-8.
    CHECK(canonical_json(Json("tab\tquote\"back\\slash/\x01")) == R"("tab\tquote\"back\\slash/\u0001")");
    // 2^53 and beyond stay floats: they are not exactly integers in every
    // reader.
    CHECK(canonical_json(Json(9007199254740992.0)) == "9.007199254740992e+15");
    CHECK(canonical_json(Json(9007199254740991.0)) == "9007199254740991");
  }

  TEST_CASE("canonical JSON refuses invalid UTF-8")
  {
    CHECK_THROWS_AS(canonical_json(Json(std::string("\xFF"))), Error);
  }

  TEST_CASE("SHA-256 of known inputs")
  {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256 incremental;
    incremental.update("a");
    incremental.update("bc");
    const auto digest = incremental.finish();
    CHECK(hex(digest.data(), digest.size()) == sha256_hex("abc"));
  }

  // The published vectors (PROTOCOL.md 10.3). Changing one of these is a
  // breaking change: every stored entry and every proxy hit depends on them.
  TEST_CASE("published response key vectors")
  {
    const Json params = parse(R"({"temperature":0})");
    CHECK(response_key("gpt-4o", prompt_messages("What is 2+2?"), params)
          == "response:c635c3ca0a14b037e99c46b72d35250b");
    // Member order, 0 vs 0.0 and stream do not matter.
    CHECK(response_key("gpt-4o", parse(R"([{"content":"What is 2+2?","role":"user"}])"),
                       parse(R"({"stream":true,"temperature":0.0})"))
          == "response:c635c3ca0a14b037e99c46b72d35250b");
    CHECK(response_key("gpt-4o",
                       parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Ünïcödé ✓"}])"),
                       parse(R"({"temperature":0.7,"max_tokens":100,"user":"alice","metadata":{"a":1}})"))
          == "response:4f9d1f4d3ab5115e39e1693e79a0ec13");
  }

  TEST_CASE("published embedding, retrieval and context key vectors")
  {
    CHECK(embedding_key("text-embedding-3-small", "Hello") == "embedding:dbb6a3351b14c4ebb445d7919c1dbda2");
    CHECK(retrieval_key("my-index", "What is RAG?", 5, Json::object()) == "retrieval:f2e8860ea35d05a4ed4463e738ce23ba");
    CHECK(retrieval_key("my-index", "What is RAG?", 5, Json()) == "retrieval:f2e8860ea35d05a4ed4463e738ce23ba");
    CHECK(context_key("user-123", 0) == "context:5460c9799c1543978b6fbcfeb7b944c4");
  }

  TEST_CASE("every part of a response key matters")
  {
    const auto base = response_key("m", prompt_messages("p"), Json::object());
    CHECK(response_key("m2", prompt_messages("p"), Json::object()) != base);
    CHECK(response_key("m", prompt_messages("p "), Json::object()) != base);
    CHECK(response_key("m", prompt_messages("p"), parse(R"({"temperature":0})")) != base);
    CHECK(response_key("m", parse(R"([{"role":"system","content":"p"}])"), Json::object()) != base);
    CHECK(response_key("m", prompt_messages("p"), Json()) == base);
  }

  // PROTOCOL.md 10.3: the context of a response question.
  TEST_CASE("a response question is its last user turn, in the context of the rest")
  {
    const auto single = response_question(prompt_messages("What is 2+2?"), Json::object());
    REQUIRE(single);
    CHECK(single->text == "What is 2+2?");
    CHECK(single->context == "turns:4e78fd5bacc53a3fe0dc3b92339166aa"); // {"messages":[],"params":{}}
    // Delivery params are left out, other params count.
    CHECK(response_question(prompt_messages("x"), parse(R"({"stream":true})"))->context == single->context);
    CHECK(response_question(prompt_messages("x"), parse(R"({"temperature":0})"))->context != single->context);

    const auto turns = response_question(
      parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])"),
      parse(R"({"temperature":0.0,"user":"alice"})"));
    REQUIRE(turns);
    CHECK(turns->text == "Hi");
    // {"messages":[{"content":"Be brief.","role":"system"}],"params":{"temperature":0}}
    CHECK(turns->context == "turns:467e158e365ff2069a985ab2f1c85d96");

    const auto parts = response_question(
      parse(R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}])"), Json());
    REQUIRE(parts);
    CHECK(parts->text == "a\nb");

    CHECK_FALSE(response_question(parse(R"([{"role":"assistant","content":"x"}])"), Json()));
    CHECK_FALSE(response_question(parse(R"([{"role":"user","content":""}])"), Json()));
    CHECK_FALSE(
      response_question(parse(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}])"), Json()));
    CHECK_THROWS_AS(response_question(Json::array(), Json()), Error);
  }

  TEST_CASE("a whole request keys with every member but model and its turns")
  {
    const auto chat = response_request(
      parse(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1,"stream":true})"),
      RequestInput::messages);
    CHECK(chat.model == "gpt-4o");
    CHECK(chat.params == parse(R"({"temperature":1,"stream":true})"));
    CHECK(response_key(chat) == response_key("gpt-4o", prompt_messages("hi"), parse(R"({"temperature":1})")));
    const auto cold = response_request(
      parse(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0})"),
      RequestInput::messages);
    CHECK(response_key(cold) != response_key(chat));
    const auto anthropic = response_request(
      parse(R"({"model":"c","system":"Be brief.","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})"),
      RequestInput::messages);
    CHECK(anthropic.params == parse(R"({"system":"Be brief.","max_tokens":9})"));
    const auto completion = response_request(parse(R"({"model":"gpt-4o","prompt":"hi"})"), RequestInput::prompt);
    CHECK(response_key(completion) == response_key("gpt-4o", prompt_messages("hi"), Json::object()));

    CHECK(request_input_of(parse(R"({"prompt":"p","messages":[]})")) == RequestInput::messages);
    CHECK(request_input_of(parse(R"({"prompt":"p"})")) == RequestInput::prompt);
    CHECK_FALSE(request_input_of(parse(R"({"model":"m"})")));
    CHECK_THROWS_AS(response_request(parse("[1]"), RequestInput::messages), Error);
    CHECK_THROWS_AS(response_request(parse(R"({"messages":[{"role":"user"}]})"), RequestInput::messages), Error);
    CHECK_THROWS_AS(response_request(parse(R"({"model":"m","messages":[]})"), RequestInput::messages), Error);
    CHECK_THROWS_AS(response_request(parse(R"({"model":"m","prompt":["a"]})"), RequestInput::prompt), Error);
  }

  TEST_CASE("bad inputs to the key functions are bad requests")
  {
    CHECK_THROWS_AS(response_key("", prompt_messages("p"), Json::object()), Error);
    CHECK_THROWS_AS(response_key("m", Json::array(), Json::object()), Error);
    CHECK_THROWS_AS(response_key("m", parse(R"({"a":1})"), Json::object()), Error);
    CHECK_THROWS_AS(response_key("m", prompt_messages("p"), Json::array()), Error);
    CHECK_THROWS_AS(embedding_key("", "t"), Error);
    CHECK_THROWS_AS(retrieval_key("", "q", 1, Json::object()), Error);
    CHECK_THROWS_AS(context_key("", 0), Error);
  }
}
