#include "protocol/config.hpp"

#include "tests/unit/config_fixture.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace omnicache::protocol;
using omnicache::unit::contains;
using omnicache::unit::fake_env;
using omnicache::unit::TempDir;
using omnicache::unit::thrown;

using omnicache::unit::ConfigFixture;
using omnicache::unit::shown;
using omnicache::unit::norm;

TEST_SUITE("protocol.config")
{
  TEST_CASE("the defaults load when there is no config file")
  {
    ConfigFixture f;
    const Config config = f.load();
    CHECK_FALSE(config.file_exists());
    CHECK(config.file() == f.default_file());
    const Settings& s = config.settings();
    CHECK(s.socket == norm(f.dir.file("run")) + "/omnicache/omnicached.sock");
    CHECK(s.database == norm(f.dir.file("cache")) + "/omnicache/cache.db");
    CHECK(s.log_file == norm(f.dir.file("cache")) + "/omnicache/omnicached.log");
    CHECK(s.log_level == "info");
    CHECK(s.idle_timeout_ms == 0);
    CHECK(s.io_threads == 1);
    CHECK(s.sync == "normal");
    CHECK(s.max_connections == 1024);
    CHECK(s.max_frame_bytes == 256u << 20);
    CHECK(s.max_header_bytes == 1u << 20);
    CHECK(s.max_key_bytes == 4096);
    CHECK(s.max_tags == 64);
    CHECK(s.max_tag_bytes == 256);
    CHECK(s.max_in_flight == 1024);
    CHECK(s.max_bytes == 2ull << 30);
    CHECK(s.max_entries == 0);
    CHECK(s.compress_threshold == 4096);
    CHECK(s.compress_level == 3);
    CHECK(s.sweep_interval_ms == 1000);
    CHECK(s.sweep_budget_ms == 20);
    CHECK(s.tenant == "default");
    CHECK(s.start_timeout_ms == 5000);
    for (const auto& item : config.show()) {
      CAPTURE(item.key);
      CHECK(item.origin == Origin::default_value);
      CHECK(item.where.empty());
    }
  }

  TEST_CASE("without XDG variables the defaults live under HOME")
  {
    ConfigFixture f;
    f.vars = {{"HOME", f.dir.file("home")}};
    const Config config = f.load();
    const std::string home = norm(f.dir.file("home"));
    CHECK(config.file() == home + "/.config/omnicache/config.toml");
    CHECK(config.settings().database == home + "/.cache/omnicache/cache.db");
    CHECK(config.settings().log_file == home + "/.cache/omnicache/omnicached.log");
  }

  TEST_CASE("each layer has its own default TTL")
  {
    ConfigFixture f;
    const Settings s = f.load().settings();
    CHECK(s.default_ttl_ms("kv") == 0);
    CHECK(s.default_ttl_ms("response") == 10 * 60 * 1000);
    CHECK(s.default_ttl_ms("embedding") == 24 * 3600 * 1000);
    CHECK(s.default_ttl_ms("retrieval") == 3600 * 1000);
    CHECK(s.default_ttl_ms("context") == 30 * 60 * 1000);
    CHECK(s.default_ttl_ms("semantic") == 10 * 60 * 1000);
    CHECK(s.default_ttl_ms("run") == 7ll * 24 * 3600 * 1000);
  }

  TEST_CASE("the TTL of each layer can be set and other layers fall back to kv")
  {
    ConfigFixture f;
    f.write_default("[ttl]\n"
                    "kv = \"1d\"\n"
                    "embedding = \"1h\"\n"
                    "run = \"never\"\n");
    const Settings s = f.load().settings();
    CHECK(s.default_ttl_ms("kv") == 24 * 3600 * 1000);
    CHECK(s.default_ttl_ms("embedding") == 3600 * 1000);
    CHECK(s.default_ttl_ms("run") == 0);
    CHECK(s.default_ttl_ms("response") == 10 * 60 * 1000);
    CHECK(s.default_ttl_ms("no-such-layer") == 24 * 3600 * 1000);
  }

  TEST_CASE("values from the config file have origin file and name the file and line")
  {
    ConfigFixture f;
    const std::string file = f.write_default("# omnicache settings\n"
                                             "[store]\n"
                                             "max_bytes = \"512MiB\"\n"
                                             "max_entries = 1000\n"
                                             "\n"
                                             "[daemon]\n"
                                             "log_level = \"debug\"\n"
                                             "idle_timeout = 30\n");
    const Config config = f.load();
    CHECK(config.file_exists());
    CHECK(config.file() == file);
    CHECK(config.settings().max_bytes == 512u << 20);
    CHECK(config.settings().max_entries == 1000);
    CHECK(config.settings().log_level == "debug");
    CHECK(config.settings().idle_timeout_ms == 30000); // a bare integer is seconds
    const auto max_bytes = shown(config, "store.max_bytes");
    CHECK(max_bytes.origin == Origin::file);
    CHECK(max_bytes.where == file + ":3");
    CHECK(max_bytes.value == "512MiB");
    CHECK(shown(config, "store.max_entries").where == file + ":4");
    CHECK(shown(config, "daemon.log_level").where == file + ":7");
    CHECK(shown(config, "daemon.idle_timeout").value == "30s");
    // Settings the file does not name keep their defaults.
    CHECK(shown(config, "store.compress_level").origin == Origin::default_value);
  }

  TEST_CASE("relative paths in the config file resolve against its folder and tilde against HOME")
  {
    ConfigFixture f;
    f.write_default("[daemon]\n"
                    "database = \"data/cache.db\"\n"
                    "socket = \"~/sockets/omnicache.sock\"\n"
                    "log_file = \"/var/log/omnicache.log\"\n");
    const Settings s = f.load().settings();
    CHECK(s.database == norm(f.dir.file("config/omnicache/data/cache.db")));
    CHECK(s.socket == norm(f.dir.file("home/sockets/omnicache.sock")));
    CHECK(s.log_file == "/var/log/omnicache.log");
  }

  TEST_CASE("the log file defaults to the folder of the configured database")
  {
    ConfigFixture f;
    f.write_default("[daemon]\ndatabase = \"/srv/omnicache/cache.db\"\n");
    CHECK(f.load().settings().log_file == "/srv/omnicache/omnicached.log");
  }

  TEST_CASE("the environment overrides the config file")
  {
    ConfigFixture f;
    f.write_default("[store]\nmax_bytes = \"512MiB\"\nmax_entries = 5\n");
    f.vars["OMNICACHE_MAX_BYTES"] = "1GiB";
    f.vars["OMNICACHE_TENANT"] = "team-a";
    const Config config = f.load();
    CHECK(config.settings().max_bytes == 1u << 30);
    CHECK(config.settings().max_entries == 5);
    CHECK(config.settings().tenant == "team-a");
    const auto max_bytes = shown(config, "store.max_bytes");
    CHECK(max_bytes.origin == Origin::env);
    CHECK(max_bytes.where == "OMNICACHE_MAX_BYTES");
    CHECK(shown(config, "store.max_entries").origin == Origin::file);
    CHECK(shown(config, "client.tenant").origin == Origin::env);
  }

  TEST_CASE("flags override the environment and the config file")
  {
    ConfigFixture f;
    f.write_default("[store]\nmax_bytes = \"512MiB\"\n[client]\ntenant = \"from-file\"\n");
    f.vars["OMNICACHE_MAX_BYTES"] = "1GiB";
    const Config config = f.load({{"store.max_bytes", "3GiB", "--max-bytes"}, {"client.tenant", "cli", "--tenant"}});
    CHECK(config.settings().max_bytes == 3ull << 30);
    CHECK(config.settings().tenant == "cli");
    const auto max_bytes = shown(config, "store.max_bytes");
    CHECK(max_bytes.origin == Origin::flag);
    CHECK(max_bytes.where == "--max-bytes");
    CHECK(shown(config, "client.tenant").where == "--tenant");
  }

  TEST_CASE("a relative path from a flag resolves against the working directory")
  {
    ConfigFixture f;
    const Config config = f.load({{"daemon.database", "rel/cache.db", "--database"}});
    CHECK(config.settings().database == norm(current_directory() + "/rel/cache.db"));
  }

  TEST_CASE("an unknown key in a section is refused naming the file line and key")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[store]\nmax_bytes = \"1GiB\"\nmax_byte = \"1GiB\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":3"), error->what());
    CHECK_MESSAGE(contains(error->what(), "unknown key 'store.max_byte'"), error->what());
  }

  TEST_CASE("an unknown section is refused naming the key")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[storage]\nmax_bytes = 5\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":2"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'storage.max_bytes'"), error->what());
  }

  TEST_CASE("a key outside any section is refused")
  {
    ConfigFixture f;
    const std::string file = f.write_default("max_bytes = \"1GiB\"\n[store]\nmax_entries = 5\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":1"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'max_bytes'"), error->what());
  }

  TEST_CASE("a bad value in the config file names the file line and key")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[store]\n\nmax_bytes = \"lots\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":3"), error->what());
    CHECK_MESSAGE(contains(error->what(), "store.max_bytes"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'lots'"), error->what());
  }

  TEST_CASE("a value that is neither a string nor a non-negative integer is refused")
  {
    for (const char* value : {"true", "-1", "1.5", "[1, 2]", "{ a = 1 }"}) {
      CAPTURE(value);
      ConfigFixture f;
      const std::string file = f.write_default(std::string("[store]\nmax_entries = ") + value + "\n");
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), file + ":2"), error->what());
      CHECK_MESSAGE(contains(error->what(), "store.max_entries"), error->what());
    }
  }

  TEST_CASE("counts refuse units and values out of their range")
  {
    for (const char* line : {"[store]\nmax_entries = \"10k\"", "[daemon]\nio_threads = 0", "[daemon]\nio_threads = 65",
                             "[store]\ncompress_level = 20", "[store]\nsweep_budget = \"0\"",
                             "[store]\nsweep_budget = \"11s\"", "[limits]\nmax_frame_bytes = \"1000\""}) {
      CAPTURE(line);
      ConfigFixture f;
      f.write_default(line);
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), "invalid value"), error->what());
    }
  }

  TEST_CASE("the range of a setting is inclusive")
  {
    ConfigFixture f;
    f.write_default("[daemon]\nio_threads = 64\n[store]\ncompress_level = 19\nsweep_budget = \"10s\"\n");
    const Settings s = f.load().settings();
    CHECK(s.io_threads == 64);
    CHECK(s.compress_level == 19);
    CHECK(s.sweep_budget_ms == 10000);
  }

  TEST_CASE("a bad choice lists the allowed values")
  {
    ConfigFixture f;
    f.write_default("[daemon]\nlog_level = \"loud\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "daemon.log_level"), error->what());
    CHECK_MESSAGE(contains(error->what(), "error, warn, info, debug"), error->what());
  }

  TEST_CASE("an empty tenant is refused")
  {
    ConfigFixture f;
    f.vars["OMNICACHE_TENANT"] = "";
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "OMNICACHE_TENANT"), error->what());
  }

  TEST_CASE("a bad environment value names the variable")
  {
    ConfigFixture f;
    f.vars["OMNICACHE_MAX_BYTES"] = "lots";
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "OMNICACHE_MAX_BYTES"), error->what());
    CHECK_MESSAGE(contains(error->what(), "store.max_bytes"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'lots'"), error->what());
  }

  TEST_CASE("a bad flag value names the flag")
  {
    ConfigFixture f;
    const auto error = f.load_error({{"store.sweep_interval", "soon", "-o store.sweep_interval=soon"}});
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "-o store.sweep_interval=soon"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'soon'"), error->what());
  }

  TEST_CASE("a flag with an unknown key is refused naming the flag")
  {
    ConfigFixture f;
    const auto error = f.load_error({{"store.nope", "1", "-o store.nope=1"}});
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "-o store.nope=1"), error->what());
    CHECK_MESSAGE(contains(error->what(), "'store.nope'"), error->what());
  }

  TEST_CASE("an explicit config file that is missing is an error")
  {
    ConfigFixture f;
    const std::string missing = f.dir.file("missing.toml");
    const auto error = f.load_error({}, missing);
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), missing), error->what());
    CHECK_MESSAGE(contains(error->what(), "not found"), error->what());
  }

  TEST_CASE("a config file named by OMNICACHE_CONFIG is read and must exist")
  {
    ConfigFixture f;
    const std::string file = f.dir.write("elsewhere.toml", "[client]\ntenant = \"elsewhere\"\n");
    f.vars["OMNICACHE_CONFIG"] = file;
    const Config config = f.load();
    CHECK(config.file() == norm(file));
    CHECK(config.settings().tenant == "elsewhere");

    f.vars["OMNICACHE_CONFIG"] = f.dir.file("missing.toml");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "missing.toml"), error->what());
  }

  TEST_CASE("the config file given by the caller wins over OMNICACHE_CONFIG")
  {
    ConfigFixture f;
    const std::string chosen = f.dir.write("chosen.toml", "[client]\ntenant = \"chosen\"\n");
    f.vars["OMNICACHE_CONFIG"] = f.dir.write("other.toml", "[client]\ntenant = \"other\"\n");
    CHECK(f.load({}, chosen).settings().tenant == "chosen");
  }

  TEST_CASE("a TOML syntax error names the file and line")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[store]\nmax_bytes = \"1GiB\"\nmax_entries = = 3\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":3"), error->what());
  }

  TEST_CASE("max_header_bytes larger than max_frame_bytes is an error")
  {
    ConfigFixture f;
    const auto error =
      f.load_error({{"limits.max_frame_bytes", "1KiB", "--frame"}, {"limits.max_header_bytes", "2KiB", "--header"}});
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "limits.max_header_bytes"), error->what());
    CHECK_MESSAGE(contains(error->what(), "limits.max_frame_bytes"), error->what());
    // Equal is fine.
    CHECK_NOTHROW(f.load({{"limits.max_frame_bytes", "2KiB", "--frame"}, {"limits.max_header_bytes", "2KiB", "--h"}}));
  }

  TEST_CASE("changed_keys lists exactly the settings that differ")
  {
    ConfigFixture f;
    const Config before = f.load();
    f.write_default("[store]\nmax_bytes = \"1GiB\"\n[ttl]\nkv = \"1h\"\n[daemon]\nlog_level = \"info\"\n");
    const Config after = f.load();
    CHECK(before.changed_keys(before).empty());
    CHECK(before.changed_keys(after) == std::vector<std::string>{"store.max_bytes", "ttl.kv"});
    CHECK(after.changed_keys(before) == std::vector<std::string>{"store.max_bytes", "ttl.kv"});
  }

  TEST_CASE("show lists every setting once in table order with its value")
  {
    ConfigFixture f;
    const Config config = f.load();
    const auto items = config.show();
    const auto specs = setting_specs();
    REQUIRE(items.size() == specs.size());
    std::set<std::string> keys;
    for (std::size_t i = 0; i < items.size(); ++i) {
      CHECK(items[i].key == specs[i].key);
      CHECK(keys.insert(items[i].key).second);
      CHECK(find_setting(items[i].key) == &specs[i]);
      CHECK(items[i].value == setting_text(specs[i], config.settings()));
    }
    CHECK(shown(config, "store.max_bytes").value == "2GiB");
    CHECK(shown(config, "limits.max_frame_bytes").value == "256MiB");
    CHECK(shown(config, "ttl.kv").value == "never");
    CHECK(shown(config, "ttl.run").value == "7d");
    CHECK(shown(config, "store.sweep_budget").value == "20ms");
    CHECK(shown(config, "daemon.io_threads").value == "1");
    CHECK_FALSE(find_setting("store.nope"));
  }

  TEST_CASE("show prints a size that is not a whole number of KiB in bytes")
  {
    ConfigFixture f;
    f.write_default("[store]\nmax_bytes = \"64k\"\ncompress_threshold = 0\n");
    const Config config = f.load();
    CHECK(shown(config, "store.max_bytes").value == "64000");
    CHECK(shown(config, "store.compress_threshold").value == "0");
  }

  TEST_CASE("the config template with every key uncommented loads to the defaults")
  {
    ConfigFixture f;
    const Config defaults = f.load();
    std::istringstream in(config_template());
    std::string uncommented;
    int keys = 0;
    for (std::string line; std::getline(in, line);) {
      // Keys are written "#key = value"; prose is "# ...".
      if (line.size() > 1 && line[0] == '#' && line[1] != ' ' && contains(line, " = ")) {
        line.erase(0, 1);
        ++keys;
      }
      uncommented += line + "\n";
    }
    CHECK(keys == static_cast<int>(setting_specs().size()));
    f.write_default(uncommented);
    const Config config = f.load();
    CHECK(config.changed_keys(defaults).empty());
    for (const auto& item : config.show()) {
      CAPTURE(item.key);
      CHECK(item.origin == Origin::file);
    }
  }

  TEST_CASE("every setting has its own environment variable")
  {
    std::set<std::string_view> names;
    for (const auto& spec : setting_specs()) {
      CAPTURE(spec.key);
      CHECK(spec.env.starts_with("OMNICACHE_"));
      CHECK(names.insert(spec.env).second);
      CHECK_FALSE(spec.help.empty());
    }
  }

  TEST_CASE("apply_setting stores a good value and returns what is wrong with a bad one")
  {
    const GetEnv no_env = [](const char*) { return std::optional<std::string>(); };
    Settings settings;
    const SettingSpec& max_bytes = *find_setting("store.max_bytes");
    REQUIRE(apply_setting(max_bytes, settings, "64MiB", "/", no_env));
    CHECK(settings.max_bytes == 64u << 20);
    const auto bad = apply_setting(max_bytes, settings, "lots", "/", no_env);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == ErrorCode::config);
    CHECK(std::string(bad.error().what()) == "invalid value 'lots' for store.max_bytes (expected a size such as 512MiB)");
    CHECK(settings.max_bytes == 64u << 20); // a refused value changes nothing
    const auto url = apply_setting(*find_setting("tier.redis.url"), settings, "http://u:secret@h", "/", no_env);
    REQUIRE_FALSE(url);
    CHECK_MESSAGE(contains(url.error().what(), "must start with redis://"), url.error().what());
    CHECK_MESSAGE(!contains(url.error().what(), "secret"), url.error().what());
  }

  TEST_CASE("a ConfigError is an Error with the code config")
  {
    ConfigFixture f;
    const auto error = f.load_error({{"store.max_bytes", "lots", "--max-bytes"}});
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::config);
    CHECK(std::string(error->what()) == "--max-bytes: invalid value 'lots' for store.max_bytes (expected a size such "
                                        "as 512MiB)");
  }
}

