#include "protocol/ops/ops.hpp"

#include <algorithm>
#include <array>

namespace omnicache::protocol::ops {

namespace {

template <class O>
constexpr OpInfo
row(Kind kind, std::string_view capability, std::string_view summary)
{
  return {O::name, kind, capability, summary, &field_names<typename O::Request>, &field_names<typename O::Reply>};
}

// clang-format off
const std::array k_ops{
  row<Hello>(Kind::control,        "",            "protocol version, server capabilities and limits"),
  row<Ping>(Kind::read,            "",            "round trip; the server's clock"),
  row<Get>(Kind::read,             "kv",          "the value of a live key"),
  row<Exists>(Kind::read,          "kv",          "whether a key is live"),
  row<Inspect>(Kind::read,         "kv",          "an entry's metadata"),
  row<Keys>(Kind::read,            "keys-cursor", "live keys by glob, tag and layer, a page at a time"),
  row<Stats>(Kind::read,           "stats",       "counters, sizes and latencies"),
  row<Set>(Kind::write,            "kv",          "store a value with TTL, layer and tags"),
  row<Del>(Kind::write,            "kv",          "remove keys"),
  row<Invalidate>(Kind::write,     "tags",        "remove entries by tag, pattern and layer"),
  row<Flush>(Kind::write,          "kv",          "remove every entry of a tenant, or of all"),
  row<Shutdown>(Kind::control,     "",            "stop the daemon after the requests in flight"),
  row<GetOrLease>(Kind::read,      "leases",      "the value, or the right to compute it while others wait"),
  row<Release>(Kind::read,         "leases",      "give back a lease without storing"),
  row<Mset>(Kind::write,           "mset",        "store many entries in one transaction"),
  row<SemanticSet>(Kind::write,    "semantic",    "store an answer with the embedding of its question"),
  row<SemanticGet>(Kind::read,     "semantic",    "the answer to a question, or to one meaning the same"),
  row<SemanticReject>(Kind::write, "semantic",    "record that an entry wrongly answered a question"),
  row<Export>(Kind::read,          "export",      "whole live entries by glob, tag and layer, a page at a time"),
  row<Reload>(Kind::control,       "config",      "read the configuration again; what changed, what needs a restart"),
  row<Config>(Kind::control,       "config",      "the configuration in force, each value with its origin"),
  row<Mget>(Kind::read,            "mget",        "the values of several keys in one round trip"),
  row<Expire>(Kind::write,         "expire",      "give a live entry a new TTL, or none"),
  row<Touch>(Kind::write,          "expire",      "mark live entries as used now without reading them"),
  row<StatsReset>(Kind::write,     "stats-reset", "zero the counters stats shows; entries stay"),
};
// clang-format on

// Capabilities that are not one operation: what every request may carry
// (tags, ttl, layers, tenants, deps, meta, conditional sets) and how a
// session behaves (pipelining).
constexpr std::string_view k_features[] = {"tags", "ttl", "layers", "tenants", "pipelining", "deps", "meta",
                                           "conditional-set"};

std::vector<std::string_view>
all_capabilities()
{
  std::vector<std::string_view> out(std::begin(k_features), std::end(k_features));
  for (const auto& op : k_ops) {
    if (!op.capability.empty() && std::find(out.begin(), out.end(), op.capability) == out.end()) {
      out.push_back(op.capability);
    }
  }
  return out;
}

} // namespace

std::span<const OpInfo>
op_table()
{
  return k_ops;
}

const OpInfo*
find_op(std::string_view name)
{
  const auto it = std::find_if(k_ops.begin(), k_ops.end(), [name](const OpInfo& op) { return op.name == name; });
  return it == k_ops.end() ? nullptr : &*it;
}

std::size_t
op_index(const OpInfo& op)
{
  return static_cast<std::size_t>(&op - k_ops.data());
}

std::string_view
kind_name(Kind kind)
{
  switch (kind) {
  case Kind::read:
    return "read";
  case Kind::write:
    return "write";
  case Kind::control:
    return "control";
  }
  return "?";
}

std::span<const std::string_view>
capabilities()
{
  static const auto all = all_capabilities();
  return all;
}

bool
has_capability(std::string_view name)
{
  const auto all = capabilities();
  return std::find(all.begin(), all.end(), name) != all.end();
}

} // namespace omnicache::protocol::ops
