#include "protocol/error.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace omnicache::protocol;

TEST_SUITE("protocol.error")
{
  TEST_CASE("every error code has a distinct name that parses back to it")
  {
    const ErrorCode codes[] = {
      ErrorCode::bad_frame, ErrorCode::bad_request,   ErrorCode::too_large, ErrorCode::not_found, ErrorCode::unsupported,
      ErrorCode::busy,      ErrorCode::shutting_down, ErrorCode::disk_full, ErrorCode::unavailable,
      ErrorCode::internal,
    };
    std::set<std::string_view> names;
    for (const ErrorCode code : codes) {
      const std::string_view name = error_code_name(code);
      CAPTURE(name);
      CHECK(names.insert(name).second);
      ErrorCode back = code == ErrorCode::internal ? ErrorCode::busy : ErrorCode::internal;
      REQUIRE(parse_error_code(name, back));
      CHECK(back == code);
    }
    CHECK(error_code_name(ErrorCode::too_large) == "TOO_LARGE");
    CHECK(error_code_name(ErrorCode::shutting_down) == "SHUTTING_DOWN");
  }

  TEST_CASE("parse_error_code refuses unknown names and leaves the code alone")
  {
    ErrorCode code = ErrorCode::busy;
    CHECK_FALSE(parse_error_code("too_large", code)); // names are upper case
    CHECK_FALSE(parse_error_code("", code));
    CHECK(code == ErrorCode::busy);
  }

  TEST_CASE("an Error carries its code and message")
  {
    const Error error(ErrorCode::not_found, "no such key");
    CHECK(error.code() == ErrorCode::not_found);
    CHECK(std::string(error.what()) == "no such key");
  }

  TEST_CASE("the internal-only codes are never named on the wire")
  {
    for (const ErrorCode code : {ErrorCode::config, ErrorCode::io, ErrorCode::bad_file}) {
      CHECK_FALSE(is_wire_code(code));
      CHECK(wire_code(code) == ErrorCode::internal);
      CHECK(error_code_name(code) == "INTERNAL");
    }
    CHECK(is_wire_code(ErrorCode::internal));
    CHECK(wire_code(ErrorCode::busy) == ErrorCode::busy);
    ErrorCode code = ErrorCode::busy;
    CHECK_FALSE(parse_error_code("CONFIG", code));
    CHECK_FALSE(parse_error_code("IO", code));
    CHECK_FALSE(parse_error_code("BAD_FILE", code));
  }

  TEST_CASE("an Error keeps an internal-only code for those who catch it")
  {
    const Error error(ErrorCode::io, "cannot open x");
    CHECK(error.code() == ErrorCode::io);
  }
}
