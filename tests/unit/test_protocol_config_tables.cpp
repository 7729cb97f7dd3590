// The configuration's tables and sections: [proxy] with its tokens,
// [prices], and the shared tier's [tier.redis].
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
  TEST_CASE("the proxy settings have their defaults")
  {
    ConfigFixture f;
    const Settings s = f.load().settings();
    CHECK(s.proxy_listen.empty());
    CHECK(s.proxy_upstream == "https://api.openai.com");
    CHECK(s.proxy_anthropic_upstream == "https://api.anthropic.com");
    CHECK(s.proxy_scope == "shared");
    CHECK(s.proxy_tenant == "default");
    CHECK(s.proxy_tenant_header == "off");
    CHECK(s.proxy_semantic == "off");
    CHECK(s.proxy_timeout_ms == 600'000);
    CHECK(s.proxy_idle_timeout_ms == 75'000);
    CHECK(s.proxy_max_body_bytes == 32u << 20);
    CHECK(s.proxy_openai_key_env == "OPENAI_API_KEY");
    CHECK(s.proxy_anthropic_key_env == "ANTHROPIC_API_KEY");
    CHECK(s.proxy_tokens.empty());
    CHECK_FALSE(find_setting("proxy.listen")->live);
    CHECK_FALSE(find_setting("proxy.upstream")->live);
    CHECK(find_setting("proxy.scope")->live);
  }

  TEST_CASE("the proxy settings come from the file and the environment overrides them")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[proxy]\nlisten = \"127.0.0.1:8411\"\nscope = \"per-key\"\n"
                                             "upstream = \"http://127.0.0.1:11434/v1\"\ntimeout = \"30s\"\n");
    f.vars["OMNICACHE_PROXY_LISTEN"] = "[::1]:0";
    f.vars["OMNICACHE_PROXY_SEMANTIC"] = "on";
    f.vars["OMNICACHE_PROXY_MAX_BODY"] = "1MiB";
    const Config config = f.load();
    const Settings& s = config.settings();
    CHECK(s.proxy_listen == "[::1]:0");
    CHECK(s.proxy_scope == "per-key");
    CHECK(s.proxy_upstream == "http://127.0.0.1:11434/v1");
    CHECK(s.proxy_timeout_ms == 30'000);
    CHECK(s.proxy_semantic == "on");
    CHECK(s.proxy_max_body_bytes == 1u << 20);
    CHECK(shown(config, "proxy.listen").where == "OMNICACHE_PROXY_LISTEN");
    CHECK(shown(config, "proxy.scope").where == file + ":3");
  }

  TEST_CASE("proxy.listen takes HOST:PORT with an IPv4 address, a name or a bracketed IPv6 address")
  {
    for (const std::string good : {"127.0.0.1:8411", "0.0.0.0:0", "localhost:65535", "[::1]:8411", "[::]:80",
                                   "proxy.example.com:443"}) {
      CAPTURE(good);
      ConfigFixture f;
      CHECK(f.load({{"proxy.listen", good, "-o"}}).settings().proxy_listen == good);
    }
    for (const std::string bad : {"8411", "127.0.0.1", "127.0.0.1:", ":8411", "127.0.0.1:65536", "127.0.0.1:-1",
                                  "127.0.0.1:84x", "::1:8411", "[::1]", "1.2.3:80", "300.1.1.1:80", "bad host:80",
                                  "[zz::1]:80"}) {
      CAPTURE(bad);
      ConfigFixture f;
      f.vars["OMNICACHE_PROXY_LISTEN"] = bad;
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), "OMNICACHE_PROXY_LISTEN"), error->what());
      CHECK_MESSAGE(contains(error->what(), "proxy.listen"), error->what());
      CHECK_MESSAGE(contains(error->what(), "HOST:PORT"), error->what());
    }
  }

  TEST_CASE("a bad proxy.listen in the file names the file line and key")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[proxy]\n\nlisten = \"localhost\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":3"), error->what());
    CHECK_MESSAGE(contains(error->what(), "proxy.listen"), error->what());
  }

  TEST_CASE("the upstreams must be http or https URLs naming a host")
  {
    for (const std::string good : {"http://127.0.0.1:11434/v1", "https://api.openai.com", "http://[::1]:8000/v1",
                                   "https://example.com/"}) {
      CAPTURE(good);
      ConfigFixture f;
      CHECK(f.load({{"proxy.upstream", good, "-o"}}).settings().proxy_upstream == good);
      CHECK(f.load({{"proxy.anthropic_upstream", good, "-o"}}).settings().proxy_anthropic_upstream == good);
    }
    for (const std::string bad : {"", "api.openai.com", "ftp://example.com", "http://", "https:///v1",
                                  "http://:80/v1", "http://example.com:99999", "http://user:secret@example.com"}) {
      CAPTURE(bad);
      ConfigFixture f;
      const std::string file = f.write_default("[proxy]\nanthropic_upstream = \"" + bad + "\"\n");
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), file + ":2"), error->what());
      CHECK_MESSAGE(contains(error->what(), "proxy.anthropic_upstream"), error->what());
      const auto flag_error = ConfigFixture().load_error({{"proxy.upstream", bad, "-o proxy.upstream"}});
      REQUIRE(flag_error);
      CHECK_MESSAGE(contains(flag_error->what(), "-o proxy.upstream"), flag_error->what());
    }
  }

  TEST_CASE("proxy.scope is shared or per-key")
  {
    ConfigFixture f;
    f.vars["OMNICACHE_PROXY_SCOPE"] = "per-user";
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "shared, per-key"), error->what());
  }

  TEST_CASE("proxy tokens map each token to its tenant and show only masked")
  {
    ConfigFixture f;
    const std::string file = f.write_default("[proxy]\nlisten = \"127.0.0.1:0\"\n\n[proxy.tokens]\n"
                                             "team-a = \"tok-a\"\n\"team b\" = \"tok-b\"\n");
    const Config config = f.load();
    const auto& tokens = config.settings().proxy_tokens;
    CHECK(tokens == std::map<std::string, std::string, std::less<>>{{"tok-a", "team-a"}, {"tok-b", "team b"}});
    CHECK(config.settings().proxy_listen == "127.0.0.1:0");
    const auto item = shown(config, "proxy.tokens.team-a");
    CHECK(item.value == "********");
    CHECK(item.origin == Origin::file);
    CHECK(shown(config, "proxy.tokens.team b").value == "********");
    for (const auto& shown_item : config.show()) {
      CHECK_FALSE(contains(shown_item.value, "tok-"));
    }
    CHECK(config.changed_keys(f.load()).empty());
    f.write_default("[proxy.tokens]\nteam-a = \"tok-c\"\n");
    CHECK(config.changed_keys(f.load()) == std::vector<std::string>{"proxy.listen", "proxy.tokens"});
  }

  TEST_CASE("a proxy token given twice, empty or not a string is refused naming the file line and key")
  {
    const std::pair<std::string, std::string> cases[] = {
      {"[proxy.tokens]\na = \"s3cr3t-token\"\nb = \"s3cr3t-token\"\n", "proxy.tokens.b"},
      {"[proxy.tokens]\na = \"x\"\nb = \"\"\n", "proxy.tokens.b"},
      {"[proxy.tokens]\na = \"x\"\nb = 12\n", "proxy.tokens.b"},
      {"[proxy]\nlisten = \"\"\ntokens = \"x\"\n", "proxy.tokens"},
    };
    for (const auto& [text, key] : cases) {
      CAPTURE(text);
      ConfigFixture f;
      const std::string file = f.write_default(text);
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), file + ":"), error->what());
      CHECK_MESSAGE(contains(error->what(), key), error->what());
      CHECK_FALSE(contains(error->what(), "s3cr3t"));
    }
    ConfigFixture f;
    const std::string file = f.write_default("[proxy.tokens]\na = \"s3cr3t-token\"\nb = \"s3cr3t-token\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), file + ":3"), error->what());
  }

  TEST_CASE("a price may give cached_input and show lists it only when set")
  {
    ConfigFixture f;
    f.write_default("[prices.\"gpt-4o\"]\ninput = 2.5\noutput = 10\ncached_input = 1.25\n"
                    "[prices.other]\ninput = 1\noutput = 2\n");
    const Config config = f.load();
    const auto& prices = config.settings().prices;
    REQUIRE(prices.count("gpt-4o") == 1);
    CHECK(prices.at("gpt-4o").cached_input == 1.25);
    CHECK(prices.at("gpt-4o").input == 2.5);
    CHECK_FALSE(prices.at("other").cached_input.has_value());
    CHECK(shown(config, "prices.gpt-4o.cached_input").value == "1.25");
    for (const auto& item : config.show()) {
      CHECK(item.key != "prices.other.cached_input");
    }
    f.write_default("[prices.m]\ninput = 1\ncached_input = -1\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "prices.m.cached_input"), error->what());
  }

  TEST_CASE("the config template shows a commented [proxy.tokens] example")
  {
    const std::string text = config_template();
    CHECK(contains(text, "#   [proxy.tokens]"));
    CHECK(contains(text, "\n[proxy]\n"));
    CHECK(contains(text, "#   cached_input = "));
  }

  TEST_CASE("the shared tier is off by default and [tier.redis] in the file turns it on")
  {
    ConfigFixture f;
    const Settings defaults = f.load().settings();
    CHECK(defaults.redis_url.empty());
    CHECK(defaults.redis_prefix == "omnicache:");
    CHECK(defaults.redis_timeout_ms == 250);
    CHECK(defaults.redis_connect_timeout_ms == 1000);
    CHECK(defaults.redis_queue == 100000);
    CHECK(defaults.redis_log_length == 100000);

    const std::string file = f.write_default("[tier.redis]\nurl = \"redis://:s3cret@cache.internal:6380/2\"\n"
                                             "prefix = \"team:\"\ntimeout = \"50ms\"\n");
    f.vars["OMNICACHE_TIER_REDIS_QUEUE"] = "500";
    const Config config = f.load();
    const Settings& s = config.settings();
    CHECK(s.redis_url == "redis://:s3cret@cache.internal:6380/2");
    CHECK(s.redis_prefix == "team:");
    CHECK(s.redis_timeout_ms == 50);
    CHECK(s.redis_queue == 500);
    CHECK(shown(config, "tier.redis.url").where == file + ":2");
    // The password never shows.
    CHECK(shown(config, "tier.redis.url").value == "redis://:****@cache.internal:6380/2");
  }

  TEST_CASE("a dotted key under [tier] reads like [tier.redis]")
  {
    ConfigFixture f;
    f.write_default("[tier]\nredis.url = \"unix:///run/redis/redis.sock?db=3\"\n");
    CHECK(f.load().settings().redis_url == "unix:///run/redis/redis.sock?db=3");
  }

  TEST_CASE("a bad tier.redis.url names the key, says what is wrong and hides the password")
  {
    for (const std::string bad : {"http://cache:6379", "redis://", "redis://host:0", "redis://host:99999",
                                  "redis://host/x", "unix://relative.sock", "unix:///s.sock?db=x",
                                  "redis://user:pw%zz@host"}) {
      CAPTURE(bad);
      ConfigFixture f;
      f.vars["OMNICACHE_TIER_REDIS_URL"] = bad;
      const auto error = f.load_error();
      REQUIRE(error);
      CHECK_MESSAGE(contains(error->what(), "OMNICACHE_TIER_REDIS_URL"), error->what());
      CHECK_MESSAGE(contains(error->what(), "tier.redis.url"), error->what());
    }
    ConfigFixture f;
    f.write_default("[tier.redis]\nurl = \"ftp://user:topsecret@host\"\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), ":2:"), error->what());
    CHECK_MESSAGE(!contains(error->what(), "topsecret"), error->what());
  }

  TEST_CASE("an unknown key under [tier.redis] is refused with its full name")
  {
    ConfigFixture f;
    f.write_default("[tier.redis]\nurl = \"redis://localhost\"\nport = 6379\n");
    const auto error = f.load_error();
    REQUIRE(error);
    CHECK_MESSAGE(contains(error->what(), "unknown key 'tier.redis.port'"), error->what());
  }

  TEST_CASE("the config template has a [tier.redis] section")
  {
    const std::string text = config_template();
    CHECK(contains(text, "\n[tier.redis]\n"));
    CHECK(contains(text, "#url = \"\""));
    CHECK(contains(text, "#prefix = \"omnicache:\""));
  }
}
