#include "protocol/paths.hpp"

#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <pwd.h>
#include <string>
#include <unistd.h>

using namespace omnicache::protocol;
using omnicache::unit::fake_env;

TEST_SUITE("protocol.paths")
{
  TEST_CASE("the default paths follow the XDG variables")
  {
    const GetEnv env = fake_env({{"HOME", "/home/ada"},
                                 {"XDG_RUNTIME_DIR", "/run/user/1000"},
                                 {"XDG_CACHE_HOME", "/var/cache/ada"},
                                 {"XDG_CONFIG_HOME", "/etc/ada"}});
    CHECK(default_socket_path(env) == "/run/user/1000/omnicache/omnicached.sock");
    CHECK(default_database_path(env) == "/var/cache/ada/omnicache/cache.db");
    CHECK(default_config_path(env) == "/etc/ada/omnicache/config.toml");
  }

  TEST_CASE("without XDG variables the default paths are under HOME and tmp")
  {
    const GetEnv env = fake_env({{"HOME", "/home/ada"}, {"XDG_RUNTIME_DIR", ""}});
    CHECK(default_socket_path(env) == "/tmp/omnicache-" + std::to_string(getuid()) + "/omnicached.sock");
    CHECK(default_database_path(env) == "/home/ada/.cache/omnicache/cache.db");
    CHECK(default_config_path(env) == "/home/ada/.config/omnicache/config.toml");
  }

  TEST_CASE("an empty HOME falls back to the password database")
  {
    const passwd* pw = getpwuid(getuid());
    const std::string expected = pw != nullptr && pw->pw_dir != nullptr ? pw->pw_dir : "/";
    CHECK(home_directory(fake_env({{"HOME", ""}})) == expected);
    CHECK(home_directory(fake_env({{"HOME", "/home/ada"}})) == "/home/ada");
  }

  TEST_CASE("expand_path expands a leading tilde and resolves relative paths against the base")
  {
    const GetEnv env = fake_env({{"HOME", "/home/ada"}});
    CHECK(expand_path("~/cache.db", "/etc/omnicache", env) == "/home/ada/cache.db");
    CHECK(expand_path("~", "/etc/omnicache", env) == "/home/ada");
    CHECK(expand_path("data/cache.db", "/etc/omnicache", env) == "/etc/omnicache/data/cache.db");
    CHECK(expand_path("../cache.db", "/etc/omnicache", env) == "/etc/cache.db");
    CHECK(expand_path("/abs/./cache.db", "/etc/omnicache", env) == "/abs/cache.db");
    // Only "~" and "~/" are the home directory.
    CHECK(expand_path("~ada/x", "/base", env) == "/base/~ada/x");
  }

  TEST_CASE("parent_directory drops the last component")
  {
    CHECK(parent_directory("/etc/omnicache/config.toml") == "/etc/omnicache");
    CHECK(parent_directory("config.toml").empty());
  }
}
