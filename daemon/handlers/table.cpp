#include "daemon/handlers/typed.hpp"
#include "protocol/error.hpp"

#include <array>
#include <vector>

namespace omnicache::daemon {

namespace {

namespace ops = protocol::ops;

struct Binding
{
  std::string_view name;
  protocol::Reply (*sync)(Context&, const protocol::Request&);
  void (*async)(Context&, const protocol::Request&, Completion);
};

template <class Op, TypedHandler<Op> handler>
constexpr Binding
typed()
{
  return {Op::name, run_typed<Op, handler>, nullptr};
}

template <class Op, TypedAsyncHandler<Op> handler>
constexpr Binding
typed_async()
{
  return {Op::name, nullptr, run_typed_async<Op, handler>};
}

// Which handler answers each operation; the operations themselves, their
// kinds and order, are protocol::ops::op_table().
// clang-format off
constexpr std::array k_bindings{
  typed<ops::Hello, handle_hello>(),
  typed<ops::Ping, handle_ping>(),
  typed_async<ops::Get, handle_get_tiered>(),
  typed<ops::Exists, handle_exists>(),
  typed<ops::Inspect, handle_inspect>(),
  typed<ops::Keys, handle_keys>(),
  typed<ops::Stats, handle_stats>(),
  typed_async<ops::Set, handle_set>(),
  typed_async<ops::Del, handle_del>(),
  typed_async<ops::Invalidate, handle_invalidate>(),
  typed_async<ops::Flush, handle_flush>(),
  typed<ops::Shutdown, handle_shutdown>(),
  typed_async<ops::GetOrLease, handle_get_or_lease>(),
  typed<ops::Release, handle_release>(),
  typed_async<ops::Mset, handle_mset>(),
  typed_async<ops::SemanticSet, handle_semantic_set>(),
  typed_async<ops::SemanticGet, handle_semantic_get>(),
  typed_async<ops::SemanticReject, handle_semantic_reject>(),
  typed<ops::Export, handle_export>(),
  typed_async<ops::Reload, handle_reload>(),
  typed<ops::Config, handle_config>(),
  typed<ops::Mget, handle_mget>(),
  typed_async<ops::Expire, handle_expire>(),
  typed_async<ops::Touch, handle_touch>(),
  typed_async<ops::StatsReset, handle_stats_reset>(),
};
// clang-format on

std::vector<OpSpec>
make_specs()
{
  const auto ops_table = ops::op_table();
  if (ops_table.size() != k_bindings.size()) {
    throw protocol::Error(protocol::ErrorCode::internal,
                          "the daemon's handlers and protocol::ops::op_table() list different operations");
  }
  std::vector<OpSpec> specs;
  for (std::size_t i = 0; i < ops_table.size(); ++i) {
    const auto& info = ops_table[i];
    const auto& binding = k_bindings[i];
    if (binding.name != info.name || (binding.sync == nullptr) == (binding.async == nullptr)) {
      throw protocol::Error(protocol::ErrorCode::internal,
                            "the daemon's handler table is out of step with protocol::ops::op_table()");
    }
    specs.push_back({info.name, info.kind, binding.sync, binding.async});
  }
  return specs;
}

const std::vector<OpSpec>&
specs()
{
  static const std::vector<OpSpec> all = make_specs();
  return all;
}

} // namespace

std::span<const OpSpec>
op_table()
{
  return specs();
}

const OpSpec*
find_op(std::string_view name)
{
  const auto* info = ops::find_op(name);
  return info == nullptr ? nullptr : &specs()[ops::op_index(*info)];
}

std::size_t
op_index(const OpSpec& spec)
{
  return static_cast<std::size_t>(&spec - specs().data());
}

} // namespace omnicache::daemon
