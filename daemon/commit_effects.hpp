#pragma once

#include "daemon/leases.hpp"
#include "store/commit.hpp"
#include "store/semantic/index.hpp"

// What follows a commit in the daemon, one observer of the store per part
// that reacts (store/commit.hpp). The handlers only write; these hear what
// every write changed, whichever handler made it.
namespace omnicache::daemon {

// Clients waiting for a key (get_or_lease) look again once a job that meant
// to set it is over, whether it wrote, skipped or failed.
store::CommitObserver wake_waiters(LeaseTable& leases);

// The index holds every committed vector: an entry set with one is added, an
// entry gone (replaced, removed, expired, evicted) is forgotten, so that its
// memory follows the live entries. Runs on the writer thread, as the index
// must be complete before the write's reply.
store::CommitObserver follow_vectors(store::semantic::Index& index);

} // namespace omnicache::daemon
