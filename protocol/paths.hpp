#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

// Where things live by default (DESIGN.md, "Processes").
namespace omnicache::protocol {

// Reads an environment variable; tests pass their own.
using GetEnv = std::function<std::optional<std::string>(const char* name)>;
GetEnv process_environment();

// $XDG_RUNTIME_DIR/omnicache/omnicached.sock, else /tmp/omnicache-<uid>/omnicached.sock
std::string default_socket_path(const GetEnv& env);
// $XDG_CACHE_HOME/omnicache/cache.db, else ~/.cache/omnicache/cache.db
std::string default_database_path(const GetEnv& env);
// $XDG_CONFIG_HOME/omnicache/config.toml, else ~/.config/omnicache/config.toml
std::string default_config_path(const GetEnv& env);

// Expands a leading "~/" and makes a relative path absolute against `base_dir`
// (the config file's folder, or the working directory).
std::string expand_path(std::string_view path, const std::string& base_dir, const GetEnv& env);

std::string home_directory(const GetEnv& env);
std::string current_directory();
std::string parent_directory(const std::string& path);

} // namespace omnicache::protocol
