#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

protocol::ops::ShutdownReply
handle_shutdown(Context& context, const protocol::ops::ShutdownRequest&)
{
  context.shared.request_shutdown();
  return {};
}

} // namespace omnicache::daemon
