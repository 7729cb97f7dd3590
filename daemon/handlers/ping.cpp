#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

protocol::ops::PingReply
handle_ping(Context&, const protocol::ops::PingRequest&)
{
  return {store::now_ms()};
}

} // namespace omnicache::daemon
