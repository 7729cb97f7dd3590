#include "daemon/embedders/make.hpp"

#include "daemon/embedders/openai.hpp"
#include "daemon/log.hpp"
#include "protocol/error.hpp"

#include <fmt/core.h>

#include <cstdlib>

namespace omnicache::daemon {

std::unique_ptr<Embedder>
make_embedder(const protocol::Settings& s)
{
  if (s.semantic_embedder != "openai") {
    return std::make_unique<LexicalEmbedderAdapter>(store::semantic::LexicalConfig{s.semantic_dim});
  }
  OpenAiOptions options;
  options.url = s.openai_url;
  options.model = s.openai_model;
  const char* key = s.openai_api_key_env.empty() ? nullptr : std::getenv(s.openai_api_key_env.c_str());
  options.api_key = key == nullptr ? "" : key;
  options.timeout = std::chrono::milliseconds(s.openai_timeout_ms);
  options.batch = s.openai_batch;
  options.dimensions = s.openai_dimensions;
  std::unique_ptr<OpenAiEmbedder> embedder;
  try {
    embedder = std::make_unique<OpenAiEmbedder>(std::move(options));
  } catch (const protocol::Error& e) {
    throw protocol::Error(protocol::ErrorCode::bad_request,
                          fmt::format("semantic.openai_url '{}' cannot be used: {}", s.openai_url, e.what()));
  }
  log::info("semantic embedder: {} at {} ({})", embedder->version(), embedder->endpoint(),
            key != nullptr && *key != '\0' ? fmt::format("API key from ${}", s.openai_api_key_env)
                                           : fmt::format("no API key: ${} is unset or empty", s.openai_api_key_env));
  return embedder;
}

} // namespace omnicache::daemon
