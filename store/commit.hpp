#pragma once

#include "store/entry.hpp"
#include "store/stats.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// What a batch of writes changed, told once its transaction is over to
// whoever reacts to changes (a shared tier, waiters for a key, an index of
// vectors): the one place where effects that follow a commit start, so that
// no write has to remember them.
namespace omnicache::store {

// Who asked for a write job, as the observers of its commit see it.
struct Origin
{
  std::uint64_t client = 0; // the client connection that asked (0: the daemon itself)
  // Whether its changes go on to the other stores of a shared tier: not
  // those that came from there, nor what a daemon keeps for itself.
  bool replicate = false;
};

// A removal as it was asked for (keys, a selector, dependencies, or
// everything), so that another store can remove the same.
struct Removal
{
  enum class Kind { keys, selector, deps, flush };
  Kind kind = Kind::keys;
  std::string tenant;
  std::vector<std::string> keys; // keys
  Selector selector;             // selector
  std::vector<std::string> deps; // deps: names, and the version recorded for them
  std::string version;
  bool all_tenants = false; // flush
};

// One change a job made, in the order the jobs of the batch made them. A job
// that failed left none.
struct Change
{
  enum class Kind {
    set,     // an entry written
    ttl,     // a live entry given a new TTL; recorded only when an observer asked for whole entries
    removal, // a removal asked for by name (sweeps and evictions are the store's own)
  };
  Kind kind = Kind::set;
  Origin origin;
  // set: the entry as written, where the job keeps it; ttl: as it now is.
  // Valid only while the observers are told.
  const EntryWrite* entry = nullptr;
  std::int64_t id = 0;         // set: the entry's id
  std::int64_t written_ms = 0; // set, ttl: the `now` it was written with
  bool replaced = false;       // set: it replaced a live entry; ttl: always
  Removal removal;             // removal
  std::shared_ptr<const EntryWrite> owned; // ttl: what `entry` points at
};

// Keys a job meant to set.
struct TenantKeys
{
  std::string tenant;
  std::vector<std::string> keys;
};

// Keys a job meant to set, once the job is over, whatever became of it
// (written, skipped, refused, rolled back): whoever waits for them may look again.
struct Settled
{
  Origin origin;
  TenantKeys keys;
};

// What one batch did, told once after its transaction is over.
struct Commit
{
  bool committed = false;              // false: rolled back or refused; only `settled` is filled
  std::vector<Change> changes;         // committed changes, in order
  std::vector<RemovedEntry> removed;   // entries of the layers that keep vectors, removed for any reason
  std::vector<Settled> settled;        // every job's keys, committed or not

  bool empty() const { return changes.empty() && removed.empty() && settled.empty(); }
};

// Runs on the writer thread (or, for jobs refused at stop, on the thread that
// submitted them) before any job of the batch hears its outcome, so that what
// it sets in motion comes before the replies. Every write waits for it: it
// hands slow work (network, waking other threads) on to a thread of its own.
using CommitObserver = std::function<void(const Commit&)>;

} // namespace omnicache::store
