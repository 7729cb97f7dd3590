#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

protocol::Reply
handle_ping(Context&, const protocol::Request& request)
{
  return ok_reply(request, {{"time_ms", store::now_ms()}});
}

} // namespace omnicache::daemon
