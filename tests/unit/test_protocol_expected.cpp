#include "protocol/expected.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using namespace omnicache::protocol;

namespace {

Expected<int>
half(int n)
{
  if (n % 2 != 0) {
    return Error(ErrorCode::bad_request, "odd");
  }
  return n / 2;
}

// Halves twice, giving up at the first odd number.
Expected<int>
quarter(int n)
{
  const int once = OMNICACHE_TRY(half(n));
  return OMNICACHE_TRY(half(once));
}

} // namespace

TEST_SUITE("protocol.expected")
{
  TEST_CASE("an Expected holds a value and reads like an optional")
  {
    Expected<std::string> result = std::string("text");
    REQUIRE(result);
    CHECK(result.has_value());
    CHECK(*result == "text");
    CHECK(result->size() == 4);
    CHECK(result.value() == "text");
    CHECK(result.value_or("other") == "text");
    CHECK(result == std::string("text"));
  }

  TEST_CASE("an Expected holds an Error with its code and message")
  {
    const Expected<int> result = Error(ErrorCode::config, "no good");
    CHECK_FALSE(result);
    CHECK(result.error().code() == ErrorCode::config);
    CHECK(std::string(result.error().what()) == "no good");
    CHECK(result.value_or(7) == 7);
    CHECK_FALSE(result == 0);
  }

  TEST_CASE("value() throws the Error it holds")
  {
    const Expected<int> result = Error(ErrorCode::too_large, "over");
    try {
      (void)result.value();
      FAIL("value() returned");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::too_large);
      CHECK(std::string(e.what()) == "over");
    }
  }

  TEST_CASE("an Expected converts to an optional that is empty on an error")
  {
    const std::optional<int> good = Expected<int>(3);
    const std::optional<int> bad = Expected<int>(Error(ErrorCode::bad_request, "no"));
    CHECK(good == 3);
    CHECK_FALSE(bad);
  }

  TEST_CASE("OMNICACHE_TRY passes values on and returns the first error")
  {
    CHECK(quarter(12) == 3);
    const auto odd_first = quarter(7);
    REQUIRE_FALSE(odd_first);
    CHECK(odd_first.error().code() == ErrorCode::bad_request);
    CHECK_FALSE(quarter(6)); // 6 halves to 3, which is odd
  }

  TEST_CASE("Ok stands for success without a value")
  {
    const Expected<Ok> done = Ok();
    CHECK(done);
    CHECK(done == Ok());
  }
}
