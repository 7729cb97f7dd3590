#include "daemon/commit_effects.hpp"

#include <map>
#include <string_view>
#include <vector>

namespace omnicache::daemon {

store::CommitObserver
wake_waiters(LeaseTable& leases)
{
  return [&leases](const store::Commit& commit) {
    // Most writes have nobody waiting: one look at the table spares the rest.
    if (commit.settled.empty() || !leases.any()) {
      return;
    }
    for (const auto& settled : commit.settled) {
      for (const auto& key : settled.keys.keys) {
        leases.on_set(settled.keys.tenant, key, settled.origin.client);
      }
    }
  };
}

store::CommitObserver
follow_vectors(store::semantic::Index& index)
{
  return [&index](const store::Commit& commit) {
    // Added in commit order, then forgotten: an id is never reused, so an
    // entry set and removed in one batch ends up forgotten.
    for (const auto& change : commit.changes) {
      if (change.kind == store::Change::Kind::set && change.entry->vector) {
        const auto& vector = *change.entry->vector;
        index.add(change.entry->tenant, vector.scope, change.id, vector.vector);
      }
    }
    std::map<std::string_view, std::vector<std::int64_t>> by_tenant;
    for (const auto& entry : commit.removed) {
      by_tenant[entry.tenant].push_back(entry.id);
    }
    for (const auto& [tenant, ids] : by_tenant) {
      index.forget(tenant, ids);
    }
  };
}

} // namespace omnicache::daemon
