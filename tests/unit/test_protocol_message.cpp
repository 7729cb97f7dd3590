#include "protocol/message.hpp"

#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <string>

using namespace omnicache::protocol;
using omnicache::unit::contains;
using omnicache::unit::thrown;

namespace {

constexpr std::uint64_t k_unset = 999999;

BodyView
body_of(std::string_view header, std::string_view value = {})
{
  return BodyView{header, value};
}

// Parses `header` as a request and returns the error it raises, with the id
// that parse_request reported as seen (k_unset when none).
std::pair<std::optional<Error>, std::uint64_t>
request_error(std::string_view header)
{
  std::uint64_t id_seen = k_unset;
  auto error = thrown<Error>([&] { parse_request(body_of(header), id_seen); });
  return {error, id_seen};
}

// The body of the single frame in `frame`.
BodyView
only_body(const std::string& frame)
{
  REQUIRE(frame.size() >= 8);
  REQUIRE(read_u32be(frame.data()) == frame.size() - 4);
  return split_body(std::string_view(frame).substr(4), 1 << 20);
}

} // namespace

TEST_SUITE("protocol.message")
{
  TEST_CASE("parse_request reads the id the op the fields and the value")
  {
    std::uint64_t id_seen = k_unset;
    const auto request = parse_request(body_of(R"({"id":7,"op":"set","key":"k"})", "the value"), id_seen);
    CHECK(request.id == 7);
    CHECK(id_seen == 7);
    CHECK(request.op == "set");
    CHECK(request.header.at("key") == "k");
    CHECK(request.value == "the value");
  }

  TEST_CASE("parse_request takes the largest unsigned 64-bit id")
  {
    std::uint64_t id_seen = 0;
    const auto request = parse_request(body_of(R"({"id":18446744073709551615,"op":"ping"})"), id_seen);
    CHECK(request.id == std::numeric_limits<std::uint64_t>::max());
  }

  TEST_CASE("a request without an id has id 0")
  {
    std::uint64_t id_seen = k_unset;
    const auto request = parse_request(body_of(R"({"op":"ping"})"), id_seen);
    CHECK(request.id == 0);
    CHECK(id_seen == k_unset);
  }

  TEST_CASE("an id of null is the same as no id")
  {
    std::uint64_t id_seen = k_unset;
    const auto request = parse_request(body_of(R"({"id":null,"op":"ping"})"), id_seen);
    CHECK(request.id == 0);
    CHECK(id_seen == k_unset);
  }

  TEST_CASE("a header that is not JSON is a bad request")
  {
    const auto [error, id_seen] = request_error(R"({"id":3,"op":)");
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK(contains(error->what(), "not valid JSON"));
    CHECK(id_seen == k_unset);
  }

  TEST_CASE("a header that is not an object is a bad request naming what it is")
  {
    const auto [error, id_seen] = request_error(R"([1,2,3])");
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(error->what(), "object"), error->what());
    CHECK_MESSAGE(contains(error->what(), "array"), error->what());
    CHECK(id_seen == k_unset);
  }

  TEST_CASE("an id that is not an unsigned integer is a bad request naming the field")
  {
    for (const char* header : {R"({"id":-1,"op":"ping"})", R"({"id":1.5,"op":"ping"})", R"({"id":"7","op":"ping"})",
                               R"({"id":true,"op":"ping"})"}) {
      CAPTURE(header);
      const auto [error, id_seen] = request_error(header);
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::bad_request);
      CHECK_MESSAGE(contains(error->what(), "'id'"), error->what());
      CHECK(id_seen == k_unset);
    }
  }

  TEST_CASE("a missing op is a bad request that still reports the id")
  {
    const auto [error, id_seen] = request_error(R"({"id":42})");
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(error->what(), "missing field 'op'"), error->what());
    CHECK(id_seen == 42);
  }

  TEST_CASE("an op that is not a string is a bad request that still reports the id")
  {
    const auto [error, id_seen] = request_error(R"({"id":5,"op":3})");
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(error->what(), "'op'"), error->what());
    CHECK_MESSAGE(contains(error->what(), "a string"), error->what());
    CHECK(id_seen == 5);
  }

  TEST_CASE("required_string returns the field or names it in the error")
  {
    const Json header = Json::parse(R"({"key":"k","n":1})");
    CHECK(required_string(header, "key") == "k");
    const auto missing = thrown<Error>([&] { required_string(header, "tenant"); });
    REQUIRE(missing);
    CHECK(missing->code() == ErrorCode::bad_request);
    CHECK(std::string(missing->what()) == "missing field 'tenant'");
    const auto wrong = thrown<Error>([&] { required_string(header, "n"); });
    REQUIRE(wrong);
    CHECK(std::string(wrong->what()) == "field 'n' must be a string, got number");
  }

  TEST_CASE("optional_string treats a missing or null field as absent")
  {
    const Json header = Json::parse(R"({"a":"x","b":null,"c":[]})");
    CHECK(optional_string(header, "a") == "x");
    CHECK_FALSE(optional_string(header, "b"));
    CHECK_FALSE(optional_string(header, "zzz"));
    const auto error = thrown<Error>([&] { optional_string(header, "c"); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(error->what(), "'c'"), error->what());
  }

  TEST_CASE("optional_int takes integers and refuses other numbers naming the field")
  {
    const Json header = Json::parse(R"({"ttl":-5,"big":9007199254740993,"f":1.5,"s":"3","n":null})");
    CHECK(optional_int(header, "ttl") == -5);
    CHECK(optional_int(header, "big") == 9007199254740993);
    CHECK_FALSE(optional_int(header, "n"));
    CHECK_FALSE(optional_int(header, "zzz"));
    for (const char* field : {"f", "s"}) {
      const auto error = thrown<Error>([&] { optional_int(header, field); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::bad_request);
      CHECK_MESSAGE(contains(error->what(), std::string("'") + field + "'"), error->what());
      CHECK_MESSAGE(contains(error->what(), "an integer"), error->what());
    }
  }

  TEST_CASE("optional_int refuses integers beyond the signed 64-bit range naming the field")
  {
    const Json header = Json::parse(R"({"max":9223372036854775807,"over":9223372036854775808})");
    CHECK(optional_int(header, "max") == std::numeric_limits<std::int64_t>::max());
    const auto error = thrown<Error>([&] { optional_int(header, "over"); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(error->what(), "'over'"), error->what());
  }

  TEST_CASE("optional_bool falls back when the field is absent and refuses non-booleans")
  {
    const Json header = Json::parse(R"({"yes":true,"no":false,"n":null,"one":1})");
    CHECK(optional_bool(header, "yes", false));
    CHECK_FALSE(optional_bool(header, "no", true));
    CHECK(optional_bool(header, "n", true));
    CHECK_FALSE(optional_bool(header, "zzz", false));
    const auto error = thrown<Error>([&] { optional_bool(header, "one", false); });
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "'one'"), error->what());
  }

  TEST_CASE("optional_strings reads an array of strings and names the field when it is wrong")
  {
    const Json header = Json::parse(R"({"tags":["a","b"],"empty":[],"mixed":["a",1],"str":"a"})");
    CHECK(optional_strings(header, "tags") == std::vector<std::string>{"a", "b"});
    CHECK(optional_strings(header, "empty").empty());
    CHECK(optional_strings(header, "zzz").empty());
    const auto mixed = thrown<Error>([&] { optional_strings(header, "mixed"); });
    REQUIRE(mixed);
    CHECK(mixed->code() == ErrorCode::bad_request);
    CHECK_MESSAGE(contains(mixed->what(), "'mixed'"), mixed->what());
    const auto str = thrown<Error>([&] { optional_strings(header, "str"); });
    REQUIRE(str);
    CHECK_MESSAGE(contains(str->what(), "'str'"), str->what());
  }

  TEST_CASE("a request built by append_request parses back")
  {
    std::string frame;
    append_request(frame, 12, "get", Json{{"key", "k"}, {"layer", "kv"}}, std::string("v\0v", 3));
    std::uint64_t id_seen = k_unset;
    const auto request = parse_request(only_body(frame), id_seen);
    CHECK(request.id == 12);
    CHECK(request.op == "get");
    CHECK(request.header.at("key") == "k");
    CHECK(request.header.at("layer") == "kv");
    CHECK(request.value == std::string("v\0v", 3));
  }

  TEST_CASE("an ok reply round trips with its fields and value")
  {
    Reply reply;
    reply.id = 9;
    reply.header = Json{{"hit", true}, {"expires_ms", 1234}};
    reply.value = std::string("\0value", 6);
    std::string frame;
    append_reply(frame, reply);
    const Reply back = parse_reply(only_body(frame));
    CHECK(back.id == 9);
    CHECK(back.ok);
    CHECK(back.header.at("hit") == true);
    CHECK(back.header.at("expires_ms") == 1234);
    CHECK(back.value == reply.value);
  }

  TEST_CASE("an error reply round trips with its code and message")
  {
    std::string frame;
    append_reply(frame, make_error(4, ErrorCode::too_large, "key of 5000 bytes is over the limit"));
    const Reply back = parse_reply(only_body(frame));
    CHECK(back.id == 4);
    CHECK_FALSE(back.ok);
    CHECK(back.error_code == ErrorCode::too_large);
    CHECK(back.error_message == "key of 5000 bytes is over the limit");
    CHECK(back.header.at("error").at("code") == "TOO_LARGE");
  }

  TEST_CASE("an error reply with an unknown code reads as INTERNAL")
  {
    const Reply back =
      parse_reply(body_of(R"({"id":1,"ok":false,"error":{"code":"NO_SUCH_CODE","message":"m"}})"));
    CHECK_FALSE(back.ok);
    CHECK(back.error_code == ErrorCode::internal);
    CHECK(back.error_message == "m");
  }

  TEST_CASE("a reply with invalid UTF-8 in its message is still encoded")
  {
    std::string frame;
    append_reply(frame, make_error(1, ErrorCode::bad_request, "bad key \xff\xfe"));
    const Reply back = parse_reply(only_body(frame));
    CHECK(back.error_code == ErrorCode::bad_request);
    CHECK(contains(back.error_message, "bad key "));
  }

  TEST_CASE("a reply field of the wrong type is a bad frame")
  {
    for (const char* header : {R"({"id":"x","ok":true})", R"({"id":1,"ok":"yes"})",
                               R"({"id":1,"ok":false,"error":{"code":5,"message":"m"}})",
                               R"({"id":1,"ok":false,"error":{"code":"BUSY","message":7}})"}) {
      CAPTURE(header);
      const auto error = thrown<Error>([&] { parse_reply(body_of(header)); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::bad_frame);
    }
  }

  TEST_CASE("a reply header that is not a JSON object is a bad frame")
  {
    for (const char* header : {"not json", "[]", "17"}) {
      CAPTURE(header);
      const auto error = thrown<Error>([&] { parse_reply(body_of(header)); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::bad_frame);
    }
  }
}
