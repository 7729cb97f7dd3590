#include "daemon/handlers/handler.hpp"

#include <array>

namespace omnicache::daemon {

namespace {

// clang-format off
constexpr std::array k_ops{
  OpSpec{"hello",      OpKind::control, handle_hello,    nullptr,           "protocol version, server capabilities and limits"},
  OpSpec{"ping",       OpKind::read,    handle_ping,     nullptr,           "round trip; the server's clock"},
  OpSpec{"get",        OpKind::read,    nullptr,         handle_get_tiered, "the value of a live key"},
  OpSpec{"exists",     OpKind::read,    handle_exists,   nullptr,           "whether a key is live"},
  OpSpec{"inspect",    OpKind::read,    handle_inspect,  nullptr,           "an entry's metadata"},
  OpSpec{"keys",       OpKind::read,    handle_keys,     nullptr,           "live keys by glob, tag and layer, a page at a time"},
  OpSpec{"export",     OpKind::read,    handle_export,   nullptr,           "whole live entries by glob, tag and layer, a page at a time"},
  OpSpec{"stats",      OpKind::read,    handle_stats,    nullptr,           "counters, sizes and latencies"},
  OpSpec{"set",        OpKind::write,   nullptr,         handle_set,        "store a value with TTL, layer and tags"},
  OpSpec{"del",        OpKind::write,   nullptr,         handle_del,        "remove keys"},
  OpSpec{"invalidate", OpKind::write,   nullptr,         handle_invalidate, "remove entries by tag, pattern and layer"},
  OpSpec{"flush",      OpKind::write,   nullptr,         handle_flush,      "remove every entry of a tenant, or of all"},
  OpSpec{"get_or_lease", OpKind::read,  nullptr,         handle_get_or_lease, "the value, or the lease to compute it, or wait for who has it"},
  OpSpec{"release",    OpKind::read,    handle_release,  nullptr,           "give up a lease without setting the key"},
  OpSpec{"mset",       OpKind::write,   nullptr,         handle_mset,       "store many entries in one transaction"},
  OpSpec{"mget",       OpKind::read,    handle_mget,     nullptr,           "the values of several keys in one round trip"},
  OpSpec{"expire",     OpKind::write,   nullptr,         handle_expire,     "give a live entry a new TTL, or none"},
  OpSpec{"touch",      OpKind::write,   nullptr,         handle_touch,      "mark live entries as used now without reading them"},
  OpSpec{"stats_reset", OpKind::write,  nullptr,         handle_stats_reset, "zero the counters stats shows; entries stay"},
  OpSpec{"semantic_set", OpKind::write, nullptr,         handle_semantic_set, "store an answer with the embedding of its question"},
  OpSpec{"semantic_get", OpKind::read,  nullptr,         handle_semantic_get, "an answer to this question or one meaning the same"},
  OpSpec{"semantic_reject", OpKind::write, nullptr,      handle_semantic_reject, "record that an entry wrongly answered a question"},
  OpSpec{"shutdown",   OpKind::control, handle_shutdown, nullptr,           "stop the daemon after the requests in flight"},
  OpSpec{"reload",     OpKind::control, nullptr,         handle_reload,     "read the configuration again; what changed, what needs a restart"},
  OpSpec{"config",     OpKind::control, handle_config,   nullptr,           "the configuration in force, each value with its origin"},
};
// clang-format on

} // namespace

std::span<const OpSpec>
op_table()
{
  return k_ops;
}

const OpSpec*
find_op(std::string_view name)
{
  for (const auto& op : k_ops) {
    if (op.name == name) {
      return &op;
    }
  }
  return nullptr;
}

std::size_t
op_index(const OpSpec& spec)
{
  return static_cast<std::size_t>(&spec - k_ops.data());
}

} // namespace omnicache::daemon
