// stats_reset: zeroes what `stats` counts (ccache -z), keeping the entries
// and the figures that describe what is stored now.
#include "daemon/handlers/typed.hpp"

namespace omnicache::daemon {

void
handle_stats_reset(Context& context, const protocol::ops::StatsResetRequest& request,
                   Done<protocol::ops::StatsResetReply> done)
{
  const std::string tenant = tenant_of(request.tenant);
  const bool all = request.all_tenants;
  // Through the writer, so that the saved counters are cleared in order with
  // the writes before it.
  submit_job(
    context,
    [tenant, all](store::Writer& writer) {
      writer.reset_counters(all ? std::nullopt : std::optional<std::string_view>(tenant));
    },
    [done = std::move(done), tenant, all, &metrics = context.shared.metrics](std::exception_ptr error) {
      if (error) {
        done.fail(error);
        return;
      }
      // The daemon's own figures are not per tenant: a reset of any tenant
      // zeroes them, so that the next `stats` starts from nothing.
      metrics.reset_counters();
      protocol::ops::StatsResetReply reply;
      reply.tenant = all ? std::nullopt : std::optional<std::string>(tenant);
      done(std::move(reply));
    },
    {});
}

} // namespace omnicache::daemon
