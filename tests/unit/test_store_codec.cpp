#include "store/codec.hpp"

#include "protocol/error.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace omnicache::store;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using omnicache::unit::thrown;

namespace {

std::string
repetitive(std::size_t n)
{
  std::string out;
  for (int i = 0; out.size() < n; ++i) {
    out += "line " + std::to_string(i % 100) + " of a cached prompt\n";
  }
  out.resize(n);
  return out;
}

std::string
noise(std::size_t n)
{
  std::mt19937 rng(42);
  std::string out(n, '\0');
  for (auto& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

} // namespace

TEST_SUITE("store.codec")
{
  TEST_CASE("a compressible value at the threshold is compressed and decompresses to the same bytes")
  {
    Compressor compressor;
    Decompressor decompressor;
    const std::string value = repetitive(4096);
    std::string stored;
    REQUIRE(compressor.compress(value, 4096, 3, stored) == Encoding::zstd);
    CHECK(stored.size() < value.size() - value.size() / 16);
    std::string back;
    decompressor.decompress(stored, value.size(), back);
    CHECK(back == value);
  }

  TEST_CASE("a value below the threshold is left raw")
  {
    Compressor compressor;
    std::string stored = "untouched";
    CHECK(compressor.compress(repetitive(4095), 4096, 3, stored) == Encoding::raw);
    CHECK(stored == "untouched");
    CHECK(compressor.compress("", 1, 3, stored) == Encoding::raw);
  }

  TEST_CASE("a threshold of 0 never compresses")
  {
    Compressor compressor;
    std::string stored;
    CHECK(compressor.compress(repetitive(100000), 0, 3, stored) == Encoding::raw);
  }

  TEST_CASE("a value that would not shrink by a sixteenth is left raw")
  {
    Compressor compressor;
    std::string stored;
    CHECK(compressor.compress(noise(8192), 1, 3, stored) == Encoding::raw);
  }

  TEST_CASE("binary values round trip at every level")
  {
    Compressor compressor;
    Decompressor decompressor;
    std::string value = repetitive(20000);
    value[100] = '\0';
    value[5000] = '\xff';
    for (const int level : {1, 3, 19}) {
      CAPTURE(level);
      std::string stored;
      REQUIRE(compressor.compress(value, 1, level, stored) == Encoding::zstd);
      std::string back;
      decompressor.decompress(stored, value.size(), back);
      CHECK(back == value);
    }
  }

  TEST_CASE("decompress refuses bytes that are not zstd")
  {
    Decompressor decompressor;
    std::string out;
    const auto error = thrown<Error>([&] { decompressor.decompress("definitely not zstd", 100, out); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::internal);
  }

  TEST_CASE("decompress refuses a value whose size is not the recorded size")
  {
    Compressor compressor;
    Decompressor decompressor;
    const std::string value = repetitive(10000);
    std::string stored;
    REQUIRE(compressor.compress(value, 1, 3, stored) == Encoding::zstd);
    std::string out;
    for (const std::uint64_t size : {std::uint64_t{9999}, std::uint64_t{10001}}) {
      CAPTURE(size);
      const auto error = thrown<Error>([&] { decompressor.decompress(stored, size, out); });
      REQUIRE(error);
      CHECK(error->code() == ErrorCode::internal);
    }
  }
}
