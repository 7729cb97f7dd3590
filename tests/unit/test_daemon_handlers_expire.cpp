#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

namespace {

// The entry's expiry as get reports it: nullopt for never.
std::optional<std::int64_t>
expire_test_expiry(HandlerFixture& f, std::string key)
{
  protocol::ops::GetRequest get;
  get.key = std::move(key);
  const auto got = daemon::handle_get(f.context(), get);
  REQUIRE(got.found);
  REQUIRE(got.expires_ms.has_value());
  return *got.expires_ms;
}

} // namespace

TEST_SUITE("daemon.handlers.expire")
{
  TEST_CASE("expire gives a live entry a ttl, and ttl 0 makes it never expire")
  {
    HandlerFixture f;
    f.set("k", "v");
    const auto before = store::now_ms();
    protocol::ops::ExpireRequest request;
    request.key = "k";
    request.ttl_ms = 60'000;
    const auto limited = f.call(daemon::handle_expire, request);
    CHECK(limited.found);
    REQUIRE(limited.ttl_ms.has_value());
    CHECK(limited.ttl_ms->value_or(0) == 60'000);
    const auto expiry = expire_test_expiry(f, "k");
    REQUIRE(expiry.has_value());
    CHECK(*expiry >= before + 60'000);

    request.ttl_ms = 0;
    const auto forever = f.call(daemon::handle_expire, request);
    CHECK(forever.found);
    REQUIRE(forever.ttl_ms.has_value());
    CHECK_FALSE(forever.ttl_ms->has_value());
    CHECK_FALSE(expire_test_expiry(f, "k").has_value());
  }

  TEST_CASE("expire of a missing key is not found with a null ttl")
  {
    HandlerFixture f;
    protocol::ops::ExpireRequest request;
    request.key = "nobody";
    request.ttl_ms = 1000;
    const auto reply = f.call(daemon::handle_expire, request);
    CHECK_FALSE(reply.found);
    REQUIRE(reply.ttl_ms.has_value());
    CHECK_FALSE(reply.ttl_ms->has_value());
  }

  TEST_CASE("expire refuses a missing ttl and an empty key")
  {
    HandlerFixture f;
    protocol::ops::ExpireRequest request;
    request.key = "k";
    CHECK(refusal([&] { f.call(daemon::handle_expire, request); })
          == "BAD_REQUEST: field 'ttl_ms' is required (0: never expires)");
    request.key = "";
    request.ttl_ms = 1;
    CHECK(refusal([&] { f.call(daemon::handle_expire, request); })
          == "BAD_REQUEST: field 'key' must not be empty");
  }

  TEST_CASE("touch counts the live keys it touched")
  {
    HandlerFixture f;
    f.set("a", "v");
    f.set("b", "v");
    protocol::ops::TouchRequest request;
    request.keys = {"a", "b", "missing"};
    CHECK(f.call(daemon::handle_touch, request).touched == 2);
    CHECK(refusal([&] { f.call(daemon::handle_touch, protocol::ops::TouchRequest{}); })
          == "BAD_REQUEST: field 'keys' must name at least one key");
  }
}
