#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

TEST_SUITE("daemon.handlers.get")
{
  TEST_CASE("get of a missing key is not found and carries nothing")
  {
    HandlerFixture f;
    protocol::ops::GetRequest get;
    get.key = "nobody";
    const auto got = daemon::handle_get(f.context(), get);
    CHECK_FALSE(got.found);
    CHECK_FALSE(got.layer.has_value());
    CHECK_FALSE(got.expires_ms.has_value());
    CHECK(got.value.empty());
  }

  TEST_CASE("get that names another layer misses")
  {
    HandlerFixture f;
    f.set("k", "v");
    protocol::ops::GetRequest get;
    get.key = "k";
    get.layer = "response";
    CHECK_FALSE(daemon::handle_get(f.context(), get).found);
    get.layer = "kv";
    CHECK(daemon::handle_get(f.context(), get).found);
  }

  TEST_CASE("get without a shared tier answers at once through the tiered path too")
  {
    HandlerFixture f;
    f.set("k", "v");
    protocol::ops::GetRequest get;
    get.key = "k";
    const auto got = f.call(daemon::handle_get_tiered, get);
    CHECK(got.found);
    CHECK(got.value == "v");
    CHECK_FALSE(got.tier.has_value());
  }

  TEST_CASE("get returns the meta an entry was set with")
  {
    HandlerFixture f;
    auto request = HandlerFixture::set_request("answer", "42");
    request.meta = {{"model", "m"}, {"prompt_tokens", 3}};
    f.call(daemon::handle_set, request);
    protocol::ops::GetRequest get;
    get.key = "answer";
    const auto got = daemon::handle_get(f.context(), get);
    REQUIRE(got.meta.has_value());
    CHECK(*got.meta == protocol::Json{{"model", "m"}, {"prompt_tokens", 3}});
  }

  TEST_CASE("get refuses an empty key and an unknown layer")
  {
    HandlerFixture f;
    protocol::ops::GetRequest get;
    CHECK(refusal([&] { daemon::handle_get(f.context(), get); }) == "BAD_REQUEST: field 'key' must not be empty");
    get.key = "k";
    get.layer = "nonsense";
    CHECK(refusal([&] { daemon::handle_get(f.context(), get); })
          == "BAD_REQUEST: unknown layer 'nonsense' (layers: kv, response, embedding, retrieval, context, semantic, "
             "run)");
  }

  TEST_CASE("exists tells a live key from a missing one")
  {
    HandlerFixture f;
    f.set("here", "v");
    protocol::ops::ExistsRequest exists;
    exists.key = "here";
    CHECK(daemon::handle_exists(f.context(), exists).found);
    exists.key = "gone";
    CHECK_FALSE(daemon::handle_exists(f.context(), exists).found);
    exists.key = "";
    CHECK(refusal([&] { daemon::handle_exists(f.context(), exists); })
          == "BAD_REQUEST: field 'key' must not be empty");
  }

  TEST_CASE("inspect describes an entry without its value")
  {
    HandlerFixture f;
    auto request = HandlerFixture::set_request("doc", "twelve bytes");
    request.layer = "context";
    request.tags = {"red", "blue"};
    request.deps = protocol::Json::array({"schema"});
    request.meta = {{"source", "test"}};
    f.call(daemon::handle_set, request);

    protocol::ops::InspectRequest inspect;
    inspect.key = "doc";
    const auto reply = daemon::handle_inspect(f.context(), inspect);
    CHECK(reply.found);
    REQUIRE(reply.entry.has_value());
    const auto& entry = *reply.entry;
    CHECK(entry["tenant"] == "default");
    CHECK(entry["key"] == "doc");
    CHECK(entry["layer"] == "context");
    CHECK(entry["raw_size"] == 12);
    CHECK(entry["expires_ms"].is_null());
    CHECK(entry["ttl_ms"].is_null());
    CHECK(entry["tags"] == protocol::Json::array({"blue", "red"}));
    REQUIRE(entry["deps"].size() == 1);
    CHECK(entry["deps"][0]["name"] == "schema");
    CHECK(entry["meta"] == protocol::Json{{"source", "test"}});
    CHECK_FALSE(entry.contains("value"));
    CHECK_FALSE(entry.contains("question"));
  }

  TEST_CASE("inspect of a missing key is not found and has no entry")
  {
    HandlerFixture f;
    protocol::ops::InspectRequest inspect;
    inspect.key = "nobody";
    const auto reply = daemon::handle_inspect(f.context(), inspect);
    CHECK_FALSE(reply.found);
    CHECK_FALSE(reply.entry.has_value());
  }
}
