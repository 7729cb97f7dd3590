#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

protocol::Reply
handle_shutdown(Context& context, const protocol::Request& request)
{
  context.shared.request_shutdown();
  return ok_reply(request, {{"stopping", true}});
}

} // namespace omnicache::daemon
