#include "protocol/redis_url.hpp"

#include <doctest/doctest.h>

using omnicache::protocol::mask_redis_url;
using omnicache::protocol::parse_redis_url;

TEST_SUITE("protocol.redis_url")
{
  TEST_CASE("a host alone means port 6379, database 0, no TLS and no password")
  {
    const auto url = parse_redis_url("redis://localhost");
    REQUIRE(url);
    CHECK(url->host == "localhost");
    CHECK(url->port == 6379);
    CHECK(url->db == 0);
    CHECK_FALSE(url->tls);
    CHECK(url->password.empty());
    CHECK(url->socket.empty());
  }

  TEST_CASE("port, database, user and password are read; %-escapes are decoded")
  {
    const auto url = parse_redis_url("rediss://app:p%40ss%3Aword@cache.example.com:6380/4");
    REQUIRE(url);
    CHECK(url->tls);
    CHECK(url->host == "cache.example.com");
    CHECK(url->port == 6380);
    CHECK(url->db == 4);
    CHECK(url->user == "app");
    CHECK(url->password == "p@ss:word");
  }

  TEST_CASE("a lone word before @ is the password, as redis-cli reads it; :word too")
  {
    CHECK(parse_redis_url("redis://secret@h")->password == "secret");
    CHECK(parse_redis_url("redis://secret@h")->user.empty());
    CHECK(parse_redis_url("redis://:secret@h")->password == "secret");
    CHECK(parse_redis_url("redis://:secret@h")->user.empty());
  }

  TEST_CASE("an IPv6 address is written in brackets")
  {
    const auto url = parse_redis_url("redis://[::1]:7000");
    REQUIRE(url);
    CHECK(url->host == "::1");
    CHECK(url->port == 7000);
  }

  TEST_CASE("a Unix socket takes an absolute path and an optional database")
  {
    const auto url = parse_redis_url("unix:///run/redis/redis.sock?db=2");
    REQUIRE(url);
    CHECK(url->socket == "/run/redis/redis.sock");
    CHECK(url->db == 2);
    CHECK(url->host.empty());
    CHECK(parse_redis_url("unix://:pw@/tmp/r.sock")->password == "pw");
  }

  TEST_CASE("what is wrong is said")
  {
    const auto why = [](const char* text) {
      const auto url = parse_redis_url(text);
      REQUIRE_FALSE(url);
      CHECK(url.error().code() == omnicache::protocol::ErrorCode::config);
      return std::string(url.error().what());
    };
    CHECK(why("http://h").find("redis://") != std::string::npos);
    CHECK(why("redis://h:port").find("port") != std::string::npos);
    CHECK(why("redis://h/db").find("database") != std::string::npos);
    CHECK(why("unix://r.sock").find("absolute") != std::string::npos);
    CHECK(why("redis://%4@h").find("%-escape") != std::string::npos);
    CHECK(why("redis://:pw@").find("host") != std::string::npos);
  }

  TEST_CASE("masking hides the password and keeps the rest")
  {
    CHECK(mask_redis_url("redis://app:secret@h:1/2") == "redis://app:****@h:1/2");
    CHECK(mask_redis_url("redis://secret@h") == "redis://****@h");
    CHECK(mask_redis_url("redis://h:6379") == "redis://h:6379");
    CHECK(mask_redis_url("unix://:pw@/tmp/r.sock") == "unix://:****@/tmp/r.sock");
  }
}
