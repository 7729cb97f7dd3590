#include "daemon/handlers/handler.hpp"
#include "protocol/ops/ops.hpp"

#include <doctest/doctest.h>

using namespace omnicache;

TEST_SUITE("daemon.handlers.table")
{
  TEST_CASE("every operation of the protocol has one handler, in the protocol's order and kind")
  {
    const auto ops = protocol::ops::op_table();
    const auto handlers = daemon::op_table();
    REQUIRE(handlers.size() == ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      CAPTURE(ops[i].name);
      CHECK(handlers[i].name == ops[i].name);
      CHECK(handlers[i].kind == ops[i].kind);
      CHECK((handlers[i].sync == nullptr) != (handlers[i].async == nullptr));
      CHECK(daemon::find_op(ops[i].name) == &handlers[i]);
      CHECK(daemon::op_index(handlers[i]) == i);
    }
    CHECK(daemon::find_op("time_travel") == nullptr);
  }
}
