#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

TEST_SUITE("daemon.handlers.set")
{
  TEST_CASE("set then get returns the value, its layer and no expiry for ttl 0")
  {
    HandlerFixture f;
    const auto set = f.set("greeting", "hello");
    CHECK(set.stored);
    CHECK_FALSE(set.replaced);
    REQUIRE(set.ttl_ms.has_value());
    CHECK_FALSE(set.ttl_ms->has_value());

    protocol::ops::GetRequest get;
    get.key = "greeting";
    const auto got = daemon::handle_get(f.context(), get);
    CHECK(got.found);
    CHECK(got.value == "hello");
    CHECK(got.layer == "kv");
    REQUIRE(got.expires_ms.has_value());
    CHECK_FALSE(got.expires_ms->has_value());
    CHECK_FALSE(got.tier.has_value());
  }

  TEST_CASE("a set with a ttl replies with it and the entry expires after it")
  {
    HandlerFixture f;
    const auto before = store::now_ms();
    auto request = HandlerFixture::set_request("soon", "v");
    request.ttl_ms = 60'000;
    request.layer = "response";
    const auto set = f.call(daemon::handle_set, request);
    CHECK(set.stored);
    REQUIRE(set.ttl_ms.has_value());
    CHECK(set.ttl_ms->value_or(0) == 60'000);

    protocol::ops::GetRequest get;
    get.key = "soon";
    const auto got = daemon::handle_get(f.context(), get);
    CHECK(got.layer == "response");
    REQUIRE(got.expires_ms.has_value());
    REQUIRE(got.expires_ms->has_value());
    CHECK(**got.expires_ms >= before + 60'000);
    CHECK(**got.expires_ms <= store::now_ms() + 60'000);
  }

  TEST_CASE("a second set of a key replaces the first")
  {
    HandlerFixture f;
    CHECK_FALSE(f.set("k", "one").replaced);
    const auto again = f.set("k", "two");
    CHECK(again.stored);
    CHECK(again.replaced);
    protocol::ops::GetRequest get;
    get.key = "k";
    CHECK(daemon::handle_get(f.context(), get).value == "two");
  }

  TEST_CASE("set only_missing stores once and leaves the first value")
  {
    HandlerFixture f;
    auto first = HandlerFixture::set_request("once", "first");
    first.only_missing = true;
    const auto stored = f.call(daemon::handle_set, first);
    CHECK(stored.stored);
    CHECK_FALSE(stored.replaced);

    auto second = HandlerFixture::set_request("once", "second");
    second.only_missing = true;
    const auto skipped = f.call(daemon::handle_set, second);
    CHECK_FALSE(skipped.stored);
    CHECK_FALSE(skipped.replaced);
    CHECK_FALSE(skipped.ttl_ms.has_value());

    protocol::ops::GetRequest get;
    get.key = "once";
    CHECK(daemon::handle_get(f.context(), get).value == "first");
  }

  TEST_CASE("set only_present stores nothing for a missing key")
  {
    HandlerFixture f;
    auto request = HandlerFixture::set_request("absent", "v");
    request.only_present = true;
    CHECK_FALSE(f.call(daemon::handle_set, request).stored);
    protocol::ops::ExistsRequest exists;
    exists.key = "absent";
    CHECK_FALSE(daemon::handle_exists(f.context(), exists).found);

    f.set("absent", "old");
    CHECK(f.call(daemon::handle_set, request).replaced);
  }

  TEST_CASE("set refuses an empty key, an unknown layer, an empty tenant and both conditions")
  {
    HandlerFixture f;
    auto empty_key = HandlerFixture::set_request("", "v");
    CHECK(refusal([&] { f.call(daemon::handle_set, empty_key); }) == "BAD_REQUEST: field 'key' must not be empty");

    auto bad_layer = HandlerFixture::set_request("k", "v");
    bad_layer.layer = "nonsense";
    CHECK(refusal([&] { f.call(daemon::handle_set, bad_layer); })
          == "BAD_REQUEST: unknown layer 'nonsense' (layers: kv, response, embedding, retrieval, context, semantic, "
             "run)");

    auto empty_tenant = HandlerFixture::set_request("k", "v");
    empty_tenant.tenant = "";
    CHECK(refusal([&] { f.call(daemon::handle_set, empty_tenant); })
          == "BAD_REQUEST: field 'tenant' must not be empty");

    auto both = HandlerFixture::set_request("k", "v");
    both.only_missing = true;
    both.only_present = true;
    CHECK(refusal([&] { f.call(daemon::handle_set, both); })
          == "BAD_REQUEST: 'only_missing' and 'only_present' cannot both be true");

    auto empty_tag = HandlerFixture::set_request("k", "v");
    empty_tag.tags = {""};
    CHECK(refusal([&] { f.call(daemon::handle_set, empty_tag); }) == "BAD_REQUEST: a tag must not be empty");

    auto negative_ttl = HandlerFixture::set_request("k", "v");
    negative_ttl.ttl_ms = -5;
    CHECK(refusal([&] { f.call(daemon::handle_set, negative_ttl); }).starts_with("BAD_REQUEST: field 'ttl_ms' "));

    protocol::ops::ExistsRequest exists;
    exists.key = "k";
    CHECK_FALSE(daemon::handle_exists(f.context(), exists).found);
  }

  TEST_CASE("set refuses a key over limits.max_key_bytes as too large")
  {
    HandlerFixture f;
    f.settings().max_key_bytes = 8;
    auto request = HandlerFixture::set_request("123456789", "v");
    CHECK(refusal([&] { f.call(daemon::handle_set, request); })
          == "TOO_LARGE: key of 9 bytes is over the limit of 8 bytes (limits.max_key_bytes)");
  }

  TEST_CASE("tenants keep their own entries")
  {
    HandlerFixture f;
    auto request = HandlerFixture::set_request("shared-name", "theirs");
    request.tenant = "team-a";
    CHECK(f.call(daemon::handle_set, request).stored);

    protocol::ops::GetRequest get;
    get.key = "shared-name";
    CHECK_FALSE(daemon::handle_get(f.context(), get).found);
    get.tenant = "team-a";
    CHECK(daemon::handle_get(f.context(), get).value == "theirs");
  }
}
