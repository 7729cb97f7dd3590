#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

// Value compression. Each thread keeps its own zstd contexts.
namespace omnicache::store {

enum class Encoding : std::int64_t { raw = 0, zstd = 1 };

class Compressor
{
public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Compresses `value` into `out` when it is at least `threshold` bytes
  // (threshold 0: never) and compression saves at least 1/16 of it.
  // Returns the encoding chosen; `out` is filled only for zstd.
  Encoding compress(std::string_view value, std::uint64_t threshold, int level, std::string& out);

private:
  struct Context;
  std::unique_ptr<Context> m_context;
};

class Decompressor
{
public:
  Decompressor();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Throws Error(internal) when the stored bytes do not decode to raw_size bytes.
  void decompress(std::string_view stored, std::uint64_t raw_size, std::string& out);

private:
  struct Context;
  std::unique_ptr<Context> m_context;
};

} // namespace omnicache::store
