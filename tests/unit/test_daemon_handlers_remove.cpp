#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

namespace {

bool
remove_test_exists(HandlerFixture& f, std::string key, std::optional<std::string> tenant = std::nullopt)
{
  protocol::ops::ExistsRequest exists;
  exists.tenant = std::move(tenant);
  exists.key = std::move(key);
  return daemon::handle_exists(f.context(), exists).found;
}

} // namespace

TEST_SUITE("daemon.handlers.remove")
{
  TEST_CASE("del counts only the live keys it removed")
  {
    HandlerFixture f;
    f.set("a", "v");
    f.set("b", "v");
    f.set("c", "v");
    protocol::ops::DelRequest request;
    request.keys = {"a", "b", "missing"};
    CHECK(f.call(daemon::handle_del, request).removed == 2);
    CHECK_FALSE(remove_test_exists(f, "a"));
    CHECK_FALSE(remove_test_exists(f, "b"));
    CHECK(remove_test_exists(f, "c"));
    CHECK(f.call(daemon::handle_del, request).removed == 0);
  }

  TEST_CASE("del refuses no keys")
  {
    HandlerFixture f;
    CHECK(refusal([&] { f.call(daemon::handle_del, protocol::ops::DelRequest{}); })
          == "BAD_REQUEST: field 'keys' must name at least one key");
  }

  TEST_CASE("invalidate by tag removes the tagged entries and counts them")
  {
    HandlerFixture f;
    f.set("red-1", "v", {"red"});
    f.set("red-2", "v", {"red", "blue"});
    f.set("blue", "v", {"blue"});
    f.set("plain", "v");
    protocol::ops::InvalidateRequest request;
    request.tags = std::vector<std::string>{"red"};
    CHECK(f.call(daemon::handle_invalidate, request).removed == 2);
    CHECK_FALSE(remove_test_exists(f, "red-1"));
    CHECK_FALSE(remove_test_exists(f, "red-2"));
    CHECK(remove_test_exists(f, "blue"));
    CHECK(remove_test_exists(f, "plain"));
  }

  TEST_CASE("invalidate by pattern and by dependency")
  {
    HandlerFixture f;
    f.set("page:1", "v");
    f.set("page:2", "v");
    auto derived = HandlerFixture::set_request("report", "v");
    derived.deps = protocol::Json::array({"schema"});
    f.call(daemon::handle_set, derived);

    protocol::ops::InvalidateRequest by_pattern;
    by_pattern.pattern = "page:*";
    CHECK(f.call(daemon::handle_invalidate, by_pattern).removed == 2);

    protocol::ops::InvalidateRequest by_dep;
    by_dep.deps = protocol::Json::array({"schema"});
    CHECK(f.call(daemon::handle_invalidate, by_dep).removed == 1);
    CHECK_FALSE(remove_test_exists(f, "report"));
  }

  TEST_CASE("invalidate refuses no selector, and deps beside a selector")
  {
    HandlerFixture f;
    CHECK(refusal([&] { f.call(daemon::handle_invalidate, protocol::ops::InvalidateRequest{}); })
          == "BAD_REQUEST: invalidate needs 'tags', 'pattern' or 'layer' (to remove everything, use flush)");
    protocol::ops::InvalidateRequest mixed;
    mixed.deps = protocol::Json::array({"schema"});
    mixed.pattern = "*";
    CHECK(refusal([&] { f.call(daemon::handle_invalidate, mixed); })
          == "BAD_REQUEST: 'deps' cannot be combined with 'tags', 'pattern' or 'layer'");
  }

  TEST_CASE("flush empties the tenant and leaves the others, unless all tenants are asked")
  {
    HandlerFixture f;
    f.set("a", "v");
    f.set("b", "v");
    auto theirs = HandlerFixture::set_request("c", "v");
    theirs.tenant = "other";
    f.call(daemon::handle_set, theirs);

    CHECK(f.call(daemon::handle_flush, protocol::ops::FlushRequest{}).removed == 2);
    CHECK_FALSE(remove_test_exists(f, "a"));
    CHECK(remove_test_exists(f, "c", "other"));

    f.set("a", "v");
    protocol::ops::FlushRequest all;
    all.all_tenants = true;
    CHECK(f.call(daemon::handle_flush, all).removed == 2);
    CHECK_FALSE(remove_test_exists(f, "c", "other"));
  }
}
