// stats_reset: zeroes what `stats` counts (ccache -z), keeping the entries
// and the figures that describe what is stored now.
#include "daemon/handlers/handler.hpp"

namespace omnicache::daemon {

using protocol::Json;

void
handle_stats_reset(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  const bool all = protocol::optional_bool(request.header, "all_tenants", false);
  // Through the writer, so that the saved counters are cleared in order with
  // the writes before it.
  submit_write(
    context, request,
    [tenant, all](store::Writer& writer) {
      writer.reset_counters(all ? std::nullopt : std::optional<std::string_view>(tenant));
      return Json{{"tenant", all ? Json(nullptr) : Json(tenant)}};
    },
    [done = std::move(done), &metrics = context.shared.metrics](protocol::Reply reply) {
      // The daemon's own figures are not per tenant: a reset of any tenant
      // zeroes them, so that the next `stats` starts from nothing.
      if (reply.ok) {
        metrics.reset_counters();
      }
      done(std::move(reply));
    });
}

} // namespace omnicache::daemon
