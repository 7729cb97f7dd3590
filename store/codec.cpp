#include "store/codec.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>
#include <zstd.h>

namespace omnicache::store {

struct Compressor::Context
{
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Context() { ZSTD_freeCCtx(cctx); }
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
  out.resize(ZSTD_compressBound(value.size()));
  const std::size_t n = ZSTD_compressCCtx(m_context->cctx, out.data(), out.size(), value.data(), value.size(), level);
  if (ZSTD_isError(n) || n > value.size() - value.size() / 16) {
    return Encoding::raw;
  }
  out.resize(n);
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
