// embed_text: the configured embedder, called so that a slow one never
// holds up the connection's thread. A remote embedder's vectors are kept in
// the embedding layer (the tenant's, key embedding_key(model, text), value
// little-endian float32 as `omnicache embedding set` stores it), so a text
// is sent to it once, even across restarts.
#include "daemon/handlers/handler.hpp"
#include "daemon/log.hpp"
#include "protocol/canonical.hpp"
#include "protocol/layers.hpp"

#include <boost/asio/post.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <optional>

namespace omnicache::daemon {

using protocol::Json;

namespace {

constexpr std::string_view k_layer = "embedding";

std::string
float32_bytes(const std::vector<float>& vector)
{
  std::string out;
  out.reserve(vector.size() * 4);
  for (const float x : vector) {
    auto bits = std::bit_cast<std::uint32_t>(x);
    if constexpr (std::endian::native == std::endian::big) {
      bits = __builtin_bswap32(bits);
    }
    out.append(reinterpret_cast<const char*>(&bits), 4);
  }
  return out;
}

std::optional<std::vector<float>>
normalised(std::vector<float> vector)
{
  double norm = 0;
  for (const float x : vector) {
    norm += static_cast<double>(x) * x;
  }
  if (vector.empty() || !std::isfinite(norm) || norm == 0) {
    return std::nullopt;
  }
  const double scale = 1.0 / std::sqrt(norm);
  for (auto& x : vector) {
    x = static_cast<float>(x * scale);
  }
  return vector;
}

// A stored embedding: float32 bytes, or a JSON array of numbers written by
// a client of its own. Anything else (all zeros, not finite) is a miss.
std::optional<std::vector<float>>
stored_vector(std::string_view value)
{
  std::vector<float> vector;
  const auto start = value.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && value[start] == '[') {
    const Json parsed = Json::parse(value, nullptr, false);
    if (parsed.is_array()) {
      for (const auto& item : parsed) {
        if (!item.is_number()) {
          return std::nullopt;
        }
        vector.push_back(static_cast<float>(item.get<double>()));
      }
      return normalised(std::move(vector));
    }
  }
  if (value.size() % 4 != 0) {
    return std::nullopt;
  }
  vector.resize(value.size() / 4);
  for (std::size_t i = 0; i < vector.size(); ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, value.data() + i * 4, 4);
    if constexpr (std::endian::native == std::endian::big) {
      bits = __builtin_bswap32(bits);
    }
    vector[i] = std::bit_cast<float>(bits);
  }
  return normalised(std::move(vector));
}

// The embedding layer's entry for `text`, when it holds a usable vector.
std::optional<std::vector<float>>
kept_vector(Context& context, const std::string& tenant, const std::string& key)
{
  try {
    // Not the client's lookup: counts no hit or miss.
    auto hit = context.reader.get(tenant, key, k_layer, store::now_ms(), false);
    auto vector = hit ? stored_vector(hit->value) : std::nullopt;
    const auto length = context.shared.embedder.dimensions();
    if (vector && length != 0 && vector->size() != length) {
      return std::nullopt;
    }
    return vector;
  } catch (const std::exception& e) {
    log::warn("embedding layer: cannot read {}: {}", key, e.what());
    return std::nullopt;
  }
}

// Queued to the writer; nobody waits for it.
void
keep_vector(store::Store& store, std::string tenant, std::string key, const std::string& model,
            const std::vector<float>& vector, std::int64_t ttl_ms)
{
  store::EntryWrite entry;
  entry.tenant = std::move(tenant);
  entry.layer = k_layer;
  entry.key = std::move(key);
  entry.value = float32_bytes(vector);
  entry.ttl_ms = ttl_ms;
  entry.tags = {"model:" + model};
  entry.meta = Json{{"model", model}}.dump();
  store.submit(store::WriteJob{
    [entry = std::move(entry)](store::Writer& writer) { writer.set(entry, store::now_ms()); },
    [](std::exception_ptr error) {
      if (!error) {
        return;
      }
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log::debug("embedding layer: a vector was not kept: {}", e.what());
      }
    },
  });
}

} // namespace

void
embed_text(Context& context, std::string tenant, std::string text, std::function<void(Embedded)> done)
{
  auto& embedder = context.shared.embedder;
  const bool local = embedder.local();
  std::string key;
  if (!local) {
    try {
      key = protocol::embedding_key(embedder.model(), text);
    } catch (const std::exception&) {
      // Not valid UTF-8: embedded, not kept.
    }
    if (!key.empty()) {
      if (auto vector = kept_vector(context, tenant, key)) {
        done(Embedded{std::move(*vector), embedder.version(), {}});
        return;
      }
    }
  }
  std::vector<std::string> texts;
  texts.push_back(std::move(text));
  embedder.embed(std::move(texts), [&embedder, &metrics = context.shared.metrics, &store = context.shared.store,
                                    executor = context.connection->executor, local, key = std::move(key),
                                    tenant = std::move(tenant),
                                    ttl_ms = context.settings.ttl_embedding_ms,
                                    done = std::move(done)](Embeddings result) mutable {
    Embedded out;
    out.embedder = embedder.version();
    if (!result.error.empty() || result.vectors.size() != 1) {
      ++metrics.embed_failures;
      out.warning = result.error.empty() ? "the embedder returned no vector" : std::move(result.error);
    } else {
      out.vector = std::move(result.vectors.front());
    }
    if (local) {
      done(std::move(out));
      return;
    }
    if (!out.vector.empty() && !key.empty()) {
      keep_vector(store, std::move(tenant), std::move(key), embedder.model(), out.vector, ttl_ms);
    }
    boost::asio::post(executor, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  });
}

} // namespace omnicache::daemon
