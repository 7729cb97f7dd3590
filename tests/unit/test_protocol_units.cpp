#include "protocol/units.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace omnicache::protocol;

namespace {

constexpr std::int64_t k_s = 1000;
constexpr std::int64_t k_m = 60 * k_s;
constexpr std::int64_t k_h = 60 * k_m;
constexpr std::int64_t k_d = 24 * k_h;

} // namespace

TEST_SUITE("protocol.units")
{
  TEST_CASE("durations in every unit parse to milliseconds")
  {
    CHECK(parse_duration_ms("30") == 30 * k_s); // a bare number is seconds
    CHECK(parse_duration_ms("30s") == 30 * k_s);
    CHECK(parse_duration_ms("10m") == 10 * k_m);
    CHECK(parse_duration_ms("2h") == 2 * k_h);
    CHECK(parse_duration_ms("7d") == 7 * k_d);
    CHECK(parse_duration_ms("1w") == 7 * k_d);
    CHECK(parse_duration_ms("500ms") == 500);
    CHECK(parse_duration_ms("1h30m") == k_h + 30 * k_m);
    CHECK(parse_duration_ms("1d2h3m4s5ms") == k_d + 2 * k_h + 3 * k_m + 4 * k_s + 5);
    CHECK(parse_duration_ms("1m500ms") == k_m + 500);
  }

  TEST_CASE("zero and never both mean no expiry")
  {
    CHECK(parse_duration_ms("0") == 0);
    CHECK(parse_duration_ms("never") == 0);
    CHECK(parse_duration_ms("0s") == 0);
  }

  TEST_CASE("text that is not a duration is refused")
  {
    for (const char* text : {"", "abc", "10x", "-5", "s", "1.5h", "10 s", " 10s", "10s ", "1m30", "Never", "1S",
                             "1h-30m", "+5"}) {
      CAPTURE(text);
      CHECK_FALSE(parse_duration_ms(text));
    }
  }

  TEST_CASE("durations that overflow 64 bits of milliseconds are refused")
  {
    // The largest whole number of seconds that fits, and one more.
    CHECK(parse_duration_ms("9223372036854775s") == 9223372036854775000);
    CHECK_FALSE(parse_duration_ms("9223372036854776s"));
    CHECK_FALSE(parse_duration_ms("9223372036854776"));
    CHECK(parse_duration_ms("9223372036854775807ms") == std::numeric_limits<std::int64_t>::max());
    CHECK_FALSE(parse_duration_ms("9223372036854775808ms"));
    CHECK_FALSE(parse_duration_ms("99999999999999999999"));
    CHECK(parse_duration_ms("15250284452w") == 15250284452 * 7 * k_d);
    CHECK_FALSE(parse_duration_ms("15250284453w"));
    // Each part fits, the sum does not.
    CHECK_FALSE(parse_duration_ms("9223372036854775s9223372036854775s"));
  }

  TEST_CASE("format_duration_ms gives the shortest exact form")
  {
    CHECK(format_duration_ms(0) == "never");
    CHECK(format_duration_ms(-5) == "never");
    CHECK(format_duration_ms(250) == "250ms");
    CHECK(format_duration_ms(30 * k_s) == "30s");
    CHECK(format_duration_ms(k_h + 30 * k_m) == "1h30m");
    CHECK(format_duration_ms(7 * k_d) == "7d");
    CHECK(format_duration_ms(14 * k_d) == "14d");
    CHECK(format_duration_ms(k_d + k_h + k_m + k_s + 1) == "1d1h1m1s1ms");
  }

  TEST_CASE("formatted durations parse back to the same value")
  {
    for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{999}, std::int64_t{1000},
                                  std::int64_t{1001}, 59 * k_s, k_m, 90 * k_m, k_d - 1, 3 * k_d + 7,
                                  std::int64_t{123456789012}, std::numeric_limits<std::int64_t>::max()}) {
      CAPTURE(ms);
      CHECK(parse_duration_ms(format_duration_ms(ms)) == ms);
    }
  }

  TEST_CASE("sizes take decimal and binary units")
  {
    CHECK(parse_size("1024") == 1024u);
    CHECK(parse_size("0") == 0u);
    CHECK(parse_size("100B") == 100u);
    CHECK(parse_size("64k") == 64000u);
    CHECK(parse_size("64K") == 64000u);
    CHECK(parse_size("64KB") == 64000u);
    CHECK(parse_size("64Ki") == 65536u);
    CHECK(parse_size("64KiB") == 65536u);
    CHECK(parse_size("1M") == 1000000u);
    CHECK(parse_size("1MiB") == 1048576u);
    CHECK(parse_size("1G") == 1000000000u);
    CHECK(parse_size("1GiB") == 1073741824u);
    CHECK(parse_size("2T") == 2000000000000u);
    CHECK(parse_size("1TiB") == 1099511627776u);
  }

  TEST_CASE("text that is not a size is refused")
  {
    for (const char* text : {"", "1.5G", "KB", "-1", "1 KiB", "1X", "1KiBB", "1KBB", "1iB", "B", " 1", "1e3"}) {
      CAPTURE(text);
      CHECK_FALSE(parse_size(text));
    }
  }

  TEST_CASE("sizes that overflow 64 bits are refused")
  {
    CHECK(parse_size("18446744073709551615") == std::numeric_limits<std::uint64_t>::max());
    CHECK_FALSE(parse_size("18446744073709551616"));
    CHECK(parse_size("16777215TiB") == 16777215ull << 40);
    CHECK_FALSE(parse_size("16777216TiB"));
    CHECK_FALSE(parse_size("18446745T"));
  }

  TEST_CASE("format_size uses binary units with one decimal")
  {
    CHECK(format_size(0) == "0 B");
    CHECK(format_size(512) == "512 B");
    CHECK(format_size(1023) == "1023 B");
    CHECK(format_size(1024) == "1.0 KiB");
    CHECK(format_size(1536) == "1.5 KiB");
    CHECK(format_size(2ull << 30) == "2.0 GiB");
    CHECK(format_size(5ull << 40) == "5.0 TiB");
    CHECK(format_size(2048ull << 40) == "2048.0 TiB");
  }

  TEST_CASE("a refused duration or size says why")
  {
    const auto word = parse_duration_ms("soon");
    REQUIRE_FALSE(word);
    CHECK(word.error().code() == ErrorCode::bad_request);
    CHECK(std::string(word.error().what()) == "'soon' is not a duration");
    CHECK(std::string(parse_duration_ms("9223372036854776s").error().what())
          == "'9223372036854776s' is a duration too large to count in 64 bits");
    CHECK(std::string(parse_duration_ms("1h99999999999999999999s").error().what()).find("too large") != std::string::npos);
    CHECK(std::string(parse_duration_ms("1h30").error().what()) == "'1h30' is not a duration");
    CHECK(std::string(parse_size("1X").error().what()) == "'1X' is not a size");
    CHECK(std::string(parse_size("99999999999999999999").error().what())
          == "'99999999999999999999' is a size too large to count in 64 bits");
    CHECK(std::string(parse_size("16777216TiB").error().what()).find("too large") != std::string::npos);
  }
}

