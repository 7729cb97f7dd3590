#pragma once

#include "protocol/config.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// What the configuration's tests share: a sandbox of folders and variables
// to load a Config from, and a setting's line of show().
namespace omnicache::unit {


inline std::string
norm(const std::string& path)
{
  return std::filesystem::path(path).lexically_normal().string();
}

// A home, XDG folders and an environment that points at them; nothing comes
// from the real environment.
struct ConfigFixture
{
  TempDir dir;
  std::map<std::string, std::string> vars{
    {"HOME", dir.file("home")},
    {"XDG_CONFIG_HOME", dir.file("config")},
    {"XDG_CACHE_HOME", dir.file("cache")},
    {"XDG_RUNTIME_DIR", dir.file("run")},
  };

  std::string default_file() const { return norm(dir.file("config/omnicache/config.toml")); }

  // Writes the config file at its default place.
  std::string write_default(std::string_view text) const
  {
    return norm(dir.write("config/omnicache/config.toml", text));
  }

  protocol::ConfigSources sources(std::vector<protocol::FlagValue> flags = {}, std::string config_file = {}) const
  {
    protocol::ConfigSources out;
    out.config_file = std::move(config_file);
    out.flags = std::move(flags);
    out.env = fake_env(vars);
    return out;
  }

  protocol::Config load(std::vector<protocol::FlagValue> flags = {}, std::string config_file = {}) const
  {
    return protocol::Config::load(sources(std::move(flags), std::move(config_file)));
  }

  std::optional<protocol::ConfigError> load_error(std::vector<protocol::FlagValue> flags = {}, std::string config_file = {}) const
  {
    return thrown<protocol::ConfigError>([&] { load(flags, config_file); });
  }
};

inline protocol::Config::Shown
shown(const protocol::Config& config, std::string_view key)
{
  for (auto& item : config.show()) {
    if (item.key == key) {
      return item;
    }
  }
  FAIL((std::string("no setting ") + std::string(key) + " in show()"));
  return {};
}


} // namespace omnicache::unit
