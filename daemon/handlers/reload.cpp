#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

using protocol::Json;

// The reload itself runs on the main thread, as SIGHUP's does; the session
// takes the reply back to its own.
void
handle_reload(Context& context, const protocol::ops::ReloadRequest&, Done<protocol::ops::ReloadReply> done)
{
  const auto config = context.shared.config();
  context.shared.reload([file = config->file(), done = std::move(done)](ReloadOutcome outcome) {
    protocol::ops::ReloadReply reply;
    reply.reloaded = outcome.reloaded;
    reply.file = file;
    for (const auto& change : outcome.changes) {
      reply.changes.push_back({{"key", change.key}, {"before", change.before}, {"after", change.after},
                               {"live", change.live}});
    }
    if (!outcome.reloaded) {
      reply.reason = outcome.error;
    }
    done(std::move(reply));
  });
}

} // namespace omnicache::daemon
