#include "store/touch_log.hpp"

#include <doctest/doctest.h>

using namespace omnicache::store;

TEST_SUITE("store.touch_log")
{
  TEST_CASE("recording keeps the latest access and counts every hit")
  {
    TouchLog log;
    log.record(1, 100);
    log.record(1, 50); // a reader with an older clock reading
    log.record(1, 200);
    log.record(2, 10);
    const auto one = log.peek(1);
    REQUIRE(one);
    CHECK(one->access_ms == 200);
    CHECK(one->hits == 3);
    CHECK(log.peek(2)->hits == 1);
    CHECK_FALSE(log.peek(3));
  }

  TEST_CASE("taken touches stay visible until their transaction settles")
  {
    TouchLog log;
    log.record(1, 100);
    log.record(2, 200);
    const auto taken = log.take();
    CHECK(taken.size() == 2);
    CHECK(taken.at(2).access_ms == 200);
    CHECK(log.take().empty()); // each touch is handed over once
    REQUIRE(log.peek(1));
    CHECK(log.peek(1)->hits == 1);
    log.settle(true);
    CHECK_FALSE(log.peek(1));
    CHECK_FALSE(log.peek(2));
  }

  TEST_CASE("a rolled back write makes its touches pending again without losing newer ones")
  {
    TouchLog log;
    log.record(1, 100);
    log.record(1, 110);
    (void)log.take();
    log.record(1, 105); // arrived while the taken ones were being written
    log.record(2, 300);
    CHECK(log.peek(1)->hits == 3);
    log.settle(false);
    const auto one = log.peek(1);
    REQUIRE(one);
    CHECK(one->access_ms == 110);
    CHECK(one->hits == 3);
    CHECK(log.peek(2)->hits == 1);
    CHECK(log.take().at(1).hits == 3);
  }
}
