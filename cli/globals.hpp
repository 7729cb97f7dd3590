#pragma once

#include "protocol/config.hpp"

#include <optional>
#include <string>

namespace omnicache::cli {

// Options that every command takes, and the configuration they lead to.
struct Globals
{
  std::optional<std::string> socket;
  std::optional<std::string> config_file;
  std::optional<std::string> tenant;
  bool json = false;
  bool quiet = false;
  bool verbose = false;

  // Loads the configuration once (file, environment, these flags).
  // Throws CliError(k_exit_usage) naming what is wrong.
  const protocol::Config& config();

  // The command's result, set by its callback.
  int exit_code = 0;

private:
  std::optional<protocol::Config> m_config;
};

} // namespace omnicache::cli
