#include "store/codec.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>
#include <zstd.h>

#include <memory>

namespace omnicache::store {

namespace {

constexpr std::size_t k_sample_bytes = 256 << 10;

} // namespace

struct Compressor::Context
{
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  // Uninitialised on purpose: pages zstd never writes are never touched.
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;

  ~Context() { ZSTD_freeCCtx(cctx); }

  char* scratch(std::size_t size)
  {
    if (capacity < size) {
      buffer.reset(new char[size]);
      capacity = size;
    }
    return buffer.get();
  }

  void release_large_scratch()
  {
    if (capacity > 4 * k_sample_bytes) {
      buffer.reset();
      capacity = 0;
    }
  }
};

Compressor::Compressor()
  : m_context(std::make_unique<Context>())
{
}

Compressor::~Compressor() = default;

Encoding
Compressor::compress(std::string_view value, std::uint64_t threshold, int level, std::string& out)
{
  if (threshold == 0 || value.size() < threshold) {
    return Encoding::raw;
  }
  // Compression must save a sixteenth to be worth a decompression per hit.
  const std::size_t limit = value.size() - value.size() / 16;
  if (value.size() > k_sample_bytes) {
    // A large value that does not compress (media, archives, random bytes)
    // is found out from a sample, not by compressing all of it.
    const std::string_view sample = value.substr(0, k_sample_bytes);
    const std::size_t n = ZSTD_compressCCtx(m_context->cctx, m_context->scratch(ZSTD_compressBound(sample.size())),
                                            ZSTD_compressBound(sample.size()), sample.data(), sample.size(), 1);
    if (ZSTD_isError(n) || n > sample.size() - sample.size() / 16) {
      return Encoding::raw;
    }
  }
  // Output beyond `limit` would be useless, so the buffer stops there and
  // zstd fails rather than growing it.
  char* buffer = m_context->scratch(limit);
  const std::size_t n = ZSTD_compressCCtx(m_context->cctx, buffer, limit, value.data(), value.size(), level);
  if (ZSTD_isError(n)) {
    return Encoding::raw;
  }
  out.assign(buffer, n);
  m_context->release_large_scratch();
  return Encoding::zstd;
}

struct Decompressor::Context
{
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~Context() { ZSTD_freeDCtx(dctx); }
};

Decompressor::Decompressor()
  : m_context(std::make_unique<Context>())
{
}

Decompressor::~Decompressor() = default;

void
Decompressor::decompress(std::string_view stored, std::uint64_t raw_size, std::string& out)
{
  out.resize(raw_size);
  const std::size_t n = ZSTD_decompressDCtx(m_context->dctx, out.data(), out.size(), stored.data(), stored.size());
  if (ZSTD_isError(n) || n != raw_size) {
    throw protocol::Error(protocol::ErrorCode::internal,
                          fmt::format("stored value does not decompress to its recorded {} bytes{}{}", raw_size,
                                      ZSTD_isError(n) ? ": " : "", ZSTD_isError(n) ? ZSTD_getErrorName(n) : ""));
  }
}

} // namespace omnicache::store
