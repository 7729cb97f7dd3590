#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

TEST_SUITE("daemon.handlers.mget")
{
  TEST_CASE("mget answers each key in order, a missing one as not found, and concatenates the values")
  {
    HandlerFixture f;
    f.set("a", "AA");
    f.set("b", "BBB", {}, 60'000);
    protocol::ops::MgetRequest request;
    request.keys = {"a", "missing", "b"};
    const auto reply = daemon::handle_mget(f.context(), request);
    REQUIRE(reply.results.size() == 3);
    CHECK(reply.results[0]["found"] == true);
    CHECK(reply.results[0]["size"] == 2);
    CHECK(reply.results[0]["layer"] == "kv");
    CHECK(reply.results[0]["expires_ms"].is_null());
    CHECK(reply.results[1] == protocol::Json{{"found", false}});
    CHECK(reply.results[2]["found"] == true);
    CHECK(reply.results[2]["size"] == 3);
    CHECK(reply.results[2]["expires_ms"].is_number_integer());
    CHECK(reply.value == "AABBB");
  }

  TEST_CASE("mget that names a layer misses the entries of others")
  {
    HandlerFixture f;
    f.set("a", "A");
    protocol::ops::MgetRequest request;
    request.keys = {"a"};
    request.layer = "response";
    const auto reply = daemon::handle_mget(f.context(), request);
    CHECK(reply.results == protocol::Json::array({{{"found", false}}}));
    CHECK(reply.value.empty());
  }

  TEST_CASE("mget refuses no keys, an empty key and an unknown layer")
  {
    HandlerFixture f;
    protocol::ops::MgetRequest request;
    CHECK(refusal([&] { daemon::handle_mget(f.context(), request); })
          == "BAD_REQUEST: field 'keys' must name at least one key");
    request.keys = {"a", ""};
    CHECK(refusal([&] { daemon::handle_mget(f.context(), request); })
          == "BAD_REQUEST: field 'keys' must not hold an empty key");
    request.keys = {"a"};
    request.layer = "nonsense";
    CHECK(refusal([&] { daemon::handle_mget(f.context(), request); }).starts_with("BAD_REQUEST: unknown layer "));
  }
}
