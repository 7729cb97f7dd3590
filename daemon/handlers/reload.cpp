#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Json;

// The reload itself runs on the main thread, as SIGHUP's does; the session
// takes the reply back to its own.
void
handle_reload(Context& context, const protocol::Request& request, Completion done)
{
  const auto config = context.shared.config();
  context.shared.reload([id = request.id, file = config->file(), done = std::move(done)](ReloadOutcome outcome) {
    Json changes = Json::array();
    for (const auto& change : outcome.changes) {
      changes.push_back({{"key", change.key}, {"before", change.before}, {"after", change.after},
                         {"live", change.live}});
    }
    protocol::Reply reply;
    reply.id = id;
    reply.header = {{"reloaded", outcome.reloaded}, {"file", file}, {"changes", std::move(changes)}};
    if (!outcome.reloaded) {
      reply.header["reason"] = outcome.error;
    }
    done(std::move(reply));
  });
}

} // namespace omnicache::daemon
