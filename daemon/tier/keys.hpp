#pragma once

#include "daemon/tier/redis.hpp"
#include "daemon/tier/shared_tier.hpp"
#include "store/entry.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// How the shared tier lays its data out in Redis, and the commands that
// read and change it. For a tenant T (escaped so that it holds no ':', '{'
// or '}') and the prefix P:
//   P{T}:e:KEY    hash: v value, l layer, m meta, t tags (JSON), d deps (JSON); the entry's TTL
//   P{T}:t:TAG    set of the keys with the tag; lives as long as its longest-lived key
//   P{T}:d:NAME   set of the keys that depend on NAME; likewise
//   Plog          stream: the invalidation log every daemon follows
//   Pepoch        string: a random word made when Redis had none (a new one means Redis lost its data)
// Every key of a tenant has the hash tag {T}, so the scripts, which touch
// several keys of one tenant, work on one node of a cluster.
namespace omnicache::daemon::tier {

class Keys
{
public:
  explicit Keys(std::string prefix) : m_prefix(std::move(prefix)) {}

  std::string entry(std::string_view tenant, std::string_view key) const;
  std::string tag(std::string_view tenant, std::string_view tag) const;
  std::string dep(std::string_view tenant, std::string_view name) const;
  std::string log() const { return m_prefix + "log"; }
  std::string epoch() const { return m_prefix + "epoch"; }

  RedisCommand lookup(std::string_view tenant, std::string_view key) const;
  RedisCommand set(const store::EntryWrite& entry) const;
  // Where in set()'s command its TTL in milliseconds is, counted from the end.
  static constexpr std::size_t k_set_ttl_from_end = 2;
  // What removes the entries from Redis, then the log record.
  std::vector<RedisCommand> invalidate(const Invalidation& change, std::string_view origin,
                                       std::uint64_t log_length) const;
  // The log record alone.
  RedisCommand log_record(const Invalidation& change, std::string_view origin, std::uint64_t log_length) const;

private:
  std::string tenant_part(std::string_view tenant) const;
  std::string m_prefix;
};

// A glob as SQLite's GLOB reads it (* ? [abc] [^a-z]), as an anchored Lua pattern.
std::string glob_to_lua(std::string_view glob);

// The entry a lookup sent at `sent_ms` found, or nullopt when there was none
// (or it was not one of ours).
std::optional<SharedEntry> parse_lookup(const RedisReply& reply, std::int64_t sent_ms);

// The log record's body, and back; nullopt for a record this version cannot read.
std::string encode_invalidation(const Invalidation& change);
std::optional<Invalidation> decode_invalidation(std::string_view text);

} // namespace omnicache::daemon::tier
