#include "cli/commands/command.hpp"

#include <array>

namespace omnicache::cli {

namespace {

// In the order --help lists them.
constexpr std::array k_commands{
  CommandSpec{"set", add_set},
  CommandSpec{"get", add_get},
  CommandSpec{"exists", add_exists},
  CommandSpec{"mget", add_mget},
  CommandSpec{"ttl", add_ttl},
  CommandSpec{"expire", add_expire},
  CommandSpec{"persist", add_persist},
  CommandSpec{"touch", add_touch},
  CommandSpec{"del", add_del},
  CommandSpec{"inspect", add_inspect},
  CommandSpec{"keys", add_keys},
  CommandSpec{"run", add_run},
  CommandSpec{"response", add_response},
  CommandSpec{"embedding", add_embedding},
  CommandSpec{"retrieval", add_retrieval},
  CommandSpec{"context", add_context},
  CommandSpec{"semantic", add_semantic},
  CommandSpec{"invalidate", add_invalidate},
  CommandSpec{"event", add_event},
  CommandSpec{"warm", add_warm},
  CommandSpec{"export", add_export},
  CommandSpec{"flush", add_flush},
  CommandSpec{"stats", add_stats},
  CommandSpec{"config", add_config},
  CommandSpec{"ping", add_ping},
  CommandSpec{"daemon", add_daemon},
  CommandSpec{"doctor", add_doctor},
  CommandSpec{"completion", add_completion},
  CommandSpec{"help", add_help},
};

} // namespace

std::span<const CommandSpec>
command_table()
{
  return k_commands;
}

} // namespace omnicache::cli
