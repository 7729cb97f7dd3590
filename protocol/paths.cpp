#include "protocol/paths.hpp"

#include <fmt/core.h>

#include <cstdlib>
#include <filesystem>
#include <pwd.h>
#include <unistd.h>

namespace omnicache::protocol {

namespace {

std::optional<std::string>
non_empty(const GetEnv& env, const char* name)
{
  auto value = env(name);
  if (value && value->empty()) {
    return std::nullopt;
  }
  return value;
}

} // namespace

GetEnv
process_environment()
{
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

std::string
home_directory(const GetEnv& env)
{
  if (auto home = non_empty(env, "HOME")) {
    return *home;
  }
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/";
}

std::string
current_directory()
{
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  return ec ? std::string("/") : cwd.string();
}

std::string
parent_directory(const std::string& path)
{
  return std::filesystem::path(path).parent_path().string();
}

std::string
default_socket_path(const GetEnv& env)
{
  if (auto runtime = non_empty(env, "XDG_RUNTIME_DIR")) {
    return *runtime + "/omnicache/omnicached.sock";
  }
  return fmt::format("/tmp/omnicache-{}/omnicached.sock", getuid());
}

std::string
default_database_path(const GetEnv& env)
{
  if (auto cache = non_empty(env, "XDG_CACHE_HOME")) {
    return *cache + "/omnicache/cache.db";
  }
  return home_directory(env) + "/.cache/omnicache/cache.db";
}

std::string
default_config_path(const GetEnv& env)
{
  if (auto config = non_empty(env, "XDG_CONFIG_HOME")) {
    return *config + "/omnicache/config.toml";
  }
  return home_directory(env) + "/.config/omnicache/config.toml";
}

std::string
expand_path(std::string_view path, const std::string& base_dir, const GetEnv& env)
{
  std::filesystem::path out;
  if (path == "~") {
    // Not home / "": appending an empty component leaves a trailing slash.
    out = std::filesystem::path(home_directory(env));
  } else if (path.starts_with("~/")) {
    out = std::filesystem::path(home_directory(env)) / std::string(path.substr(2));
  } else {
    out = std::filesystem::path(std::string(path));
    if (out.is_relative()) {
      out = std::filesystem::path(base_dir) / out;
    }
  }
  return out.lexically_normal().string();
}

} // namespace omnicache::protocol
