#include "tests/unit/daemon_fixture.hpp"

#include <doctest/doctest.h>

using namespace omnicache;
using unit::HandlerFixture;
using unit::refusal;

namespace {

protocol::ops::GetOrLeaseRequest
lease_test_request(std::string key)
{
  protocol::ops::GetOrLeaseRequest out;
  out.key = std::move(key);
  return out;
}

protocol::ops::ReleaseRequest
lease_test_release(std::string key)
{
  protocol::ops::ReleaseRequest out;
  out.key = std::move(key);
  return out;
}

} // namespace

TEST_SUITE("daemon.handlers.lease")
{
  TEST_CASE("get_or_lease of a missing key grants a lease, which release ends")
  {
    HandlerFixture f;
    const auto reply = f.call(daemon::handle_get_or_lease, lease_test_request("job"));
    CHECK_FALSE(reply.found);
    CHECK(reply.lease == std::optional<bool>(true));
    CHECK(reply.lease_ms == std::optional<std::int64_t>(600'000));
    CHECK_FALSE(reply.waited);
    CHECK_FALSE(reply.timed_out.has_value());
    CHECK(f.leases().held() == 1);

    CHECK(daemon::handle_release(f.context(), lease_test_release("job")).released);
    CHECK(f.leases().held() == 0);
    CHECK_FALSE(daemon::handle_release(f.context(), lease_test_release("job")).released);
  }

  TEST_CASE("get_or_lease of a present key returns the value and no lease")
  {
    HandlerFixture f;
    f.set("job", "done");
    const auto reply = f.call(daemon::handle_get_or_lease, lease_test_request("job"));
    CHECK(reply.found);
    CHECK(reply.value == "done");
    CHECK(reply.layer == "kv");
    CHECK_FALSE(reply.lease.has_value());
    CHECK(f.leases().held() == 0);
  }

  TEST_CASE("a waiter gets the value that the lease holder sets")
  {
    HandlerFixture f;
    REQUIRE(f.call(daemon::handle_get_or_lease, lease_test_request("job")).lease == std::optional<bool>(true));

    const auto other = f.connect();
    auto on_other = f.context(other);
    const auto waiting = f.start(on_other, daemon::handle_get_or_lease, lease_test_request("job"));
    CHECK_FALSE(f.answered(waiting));

    // The set's commit wakes the waiter (commit_effects.hpp) and ends the lease.
    f.set("job", "computed");
    const auto reply = f.wait(waiting);
    CHECK(reply.found);
    CHECK(reply.waited);
    CHECK(reply.value == "computed");
    CHECK_FALSE(reply.lease.has_value());
    CHECK(f.leases().held() == 0);
  }

  TEST_CASE("a waiter gets the lease once its holder releases it")
  {
    HandlerFixture f;
    REQUIRE(f.call(daemon::handle_get_or_lease, lease_test_request("job")).lease == std::optional<bool>(true));

    const auto other = f.connect();
    auto on_other = f.context(other);
    const auto waiting = f.start(on_other, daemon::handle_get_or_lease, lease_test_request("job"));
    CHECK_FALSE(f.answered(waiting));

    // Another connection cannot end a lease it does not hold.
    CHECK_FALSE(daemon::handle_release(on_other, lease_test_release("job")).released);
    CHECK_FALSE(f.answered(waiting));

    CHECK(daemon::handle_release(f.context(), lease_test_release("job")).released);
    const auto reply = f.wait(waiting);
    CHECK_FALSE(reply.found);
    CHECK(reply.waited);
    CHECK(reply.lease == std::optional<bool>(true));
    CHECK(daemon::handle_release(on_other, lease_test_release("job")).released);
  }

  TEST_CASE("get_or_lease refuses an empty key and durations out of range")
  {
    HandlerFixture f;
    CHECK(refusal([&] { f.call(daemon::handle_get_or_lease, lease_test_request("")); })
          == "BAD_REQUEST: field 'key' must not be empty");
    auto request = lease_test_request("job");
    request.lease_ms = 0;
    CHECK(refusal([&] { f.call(daemon::handle_get_or_lease, request); })
          == "BAD_REQUEST: field 'lease_ms' must be from 1 to 604800000, got 0");
    request.lease_ms = std::nullopt;
    request.wait_ms = -1;
    CHECK(refusal([&] { f.call(daemon::handle_get_or_lease, request); })
          == "BAD_REQUEST: field 'wait_ms' must be from 1 to 604800000, got -1");
    CHECK(f.leases().held() == 0);
    CHECK(refusal([&] { daemon::handle_release(f.context(), lease_test_release("")); })
          == "BAD_REQUEST: field 'key' must not be empty");
  }
}
