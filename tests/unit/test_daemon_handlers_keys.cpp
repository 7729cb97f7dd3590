#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

TEST_SUITE("daemon.handlers.keys")
{
  TEST_CASE("keys pages through the live keys in order with limit and next")
  {
    HandlerFixture f;
    for (const char* key : {"k3", "k0", "k4", "k1", "k2"}) {
      f.set(key, "v");
    }
    protocol::ops::KeysRequest request;
    request.limit = 2;
    auto page = daemon::handle_keys(f.context(), request);
    CHECK(page.keys == std::vector<std::string>{"k0", "k1"});
    REQUIRE(page.next.has_value());
    CHECK(*page.next == "k1");
    CHECK_FALSE(page.entries.has_value());

    request.after = page.next;
    page = daemon::handle_keys(f.context(), request);
    CHECK(page.keys == std::vector<std::string>{"k2", "k3"});
    REQUIRE(page.next.has_value());

    request.after = page.next;
    page = daemon::handle_keys(f.context(), request);
    CHECK(page.keys == std::vector<std::string>{"k4"});
    CHECK_FALSE(page.next.has_value());
  }

  TEST_CASE("keys selects by pattern, layer and tag")
  {
    HandlerFixture f;
    f.set("user:1", "v", {"red"});
    f.set("user:2", "v");
    auto other_layer = HandlerFixture::set_request("user:3", "v");
    other_layer.layer = "response";
    f.call(daemon::handle_set, other_layer);
    f.set("order:1", "v", {"red"});

    protocol::ops::KeysRequest request;
    request.pattern = "user:*";
    CHECK(daemon::handle_keys(f.context(), request).keys == std::vector<std::string>{"user:1", "user:2", "user:3"});
    request.layer = "kv";
    CHECK(daemon::handle_keys(f.context(), request).keys == std::vector<std::string>{"user:1", "user:2"});

    protocol::ops::KeysRequest by_tag;
    by_tag.tags = {"red"};
    CHECK(daemon::handle_keys(f.context(), by_tag).keys == std::vector<std::string>{"order:1", "user:1"});
  }

  TEST_CASE("keys with details describes each entry of the page")
  {
    HandlerFixture f;
    auto request = HandlerFixture::set_request("a", "four");
    request.meta = {{"model", "m"}};
    f.call(daemon::handle_set, request);
    f.set("b", "v", {}, 60'000);

    protocol::ops::KeysRequest keys;
    keys.details = true;
    const auto page = daemon::handle_keys(f.context(), keys);
    CHECK(page.keys == std::vector<std::string>{"a", "b"});
    REQUIRE(page.entries.has_value());
    REQUIRE(page.entries->size() == 2);
    const auto& a = (*page.entries)[0];
    CHECK(a["key"] == "a");
    CHECK(a["found"] == true);
    CHECK(a["layer"] == "kv");
    CHECK(a["raw_size"] == 4);
    CHECK(a["ttl_ms"].is_null());
    CHECK(a["meta"] == protocol::Json{{"model", "m"}});
    CHECK(a.contains("hits"));
    const auto& b = (*page.entries)[1];
    CHECK(b["key"] == "b");
    CHECK(b["meta"].is_null());
    REQUIRE(b["ttl_ms"].is_number_integer());
    CHECK(b["ttl_ms"].get<std::int64_t>() > 0);
    CHECK(b["ttl_ms"].get<std::int64_t>() <= 60'000);
  }

  TEST_CASE("keys of an empty store is an empty page without next")
  {
    HandlerFixture f;
    const auto page = daemon::handle_keys(f.context(), protocol::ops::KeysRequest{});
    CHECK(page.keys.empty());
    CHECK_FALSE(page.next.has_value());
  }

  TEST_CASE("keys refuses a limit out of range and an unknown layer")
  {
    HandlerFixture f;
    protocol::ops::KeysRequest request;
    request.limit = 0;
    CHECK(refusal([&] { daemon::handle_keys(f.context(), request); })
          == "BAD_REQUEST: field 'limit' must be from 1 to 10000, got 0");
    request.limit = 10'001;
    CHECK(refusal([&] { daemon::handle_keys(f.context(), request); })
          == "BAD_REQUEST: field 'limit' must be from 1 to 10000, got 10001");
    request.limit = std::nullopt;
    request.layer = "nonsense";
    CHECK(refusal([&] { daemon::handle_keys(f.context(), request); })
          == "BAD_REQUEST: unknown layer 'nonsense' (layers: kv, response, embedding, retrieval, context, semantic, "
             "run)");
  }
}
