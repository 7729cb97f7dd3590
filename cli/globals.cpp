#include "cli/globals.hpp"

#include "cli/exit_codes.hpp"

namespace omnicache::cli {

const protocol::Config&
Globals::config()
{
  if (!m_config) {
    protocol::ConfigSources sources;
    if (config_file) {
      sources.config_file = *config_file;
    }
    if (socket) {
      sources.flags.push_back({"daemon.socket", *socket, "--socket"});
    }
    if (tenant) {
      sources.flags.push_back({"client.tenant", *tenant, "--tenant"});
    }
    try {
      m_config = protocol::Config::load(sources);
    } catch (const protocol::ConfigError& e) {
      throw CliError(k_exit_usage, e.what());
    }
  }
  return *m_config;
}

} // namespace omnicache::cli
