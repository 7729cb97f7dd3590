#include "daemon/handlers/typed.hpp"

#include <array>
#include <stdexcept>
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
  Binding{"get",             nullptr,         handle_get_tiered},
  Binding{"exists",          handle_exists,   nullptr},
  Binding{"inspect",         handle_inspect,  nullptr},
  typed<ops::Keys, handle_keys>(),
  Binding{"stats",           handle_stats,    nullptr},
  Binding{"set",             nullptr,         handle_set},
  Binding{"del",             nullptr,         handle_del},
  Binding{"invalidate",      nullptr,         handle_invalidate},
  Binding{"flush",           nullptr,         handle_flush},
  typed<ops::Shutdown, handle_shutdown>(),
  Binding{"get_or_lease",    nullptr,         handle_get_or_lease},
  Binding{"release",         handle_release,  nullptr},
  Binding{"mset",            nullptr,         handle_mset},
  Binding{"semantic_set",    nullptr,         handle_semantic_set},
  Binding{"semantic_get",    nullptr,         handle_semantic_get},
  Binding{"semantic_reject", nullptr,         handle_semantic_reject},
  typed<ops::Export, handle_export>(),
  typed_async<ops::Reload, handle_reload>(),
  typed<ops::Config, handle_config>(),
  Binding{"mget",            handle_mget,     nullptr},
  Binding{"expire",          nullptr,         handle_expire},
  Binding{"touch",           nullptr,         handle_touch},
  Binding{"stats_reset",     nullptr,         handle_stats_reset},
};
// clang-format on

std::vector<OpSpec>
make_specs()
{
  const auto ops_table = ops::op_table();
  if (ops_table.size() != k_bindings.size()) {
    throw std::logic_error("the daemon's handlers and protocol::ops::op_table() list different operations");
  }
  std::vector<OpSpec> specs;
  for (std::size_t i = 0; i < ops_table.size(); ++i) {
    const auto& info = ops_table[i];
    const auto& binding = k_bindings[i];
    if (binding.name != info.name || (binding.sync == nullptr) == (binding.async == nullptr)) {
      throw std::logic_error("the daemon's handler table is out of step with protocol::ops::op_table()");
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
