#include "protocol/config.hpp"

#include "protocol/config_tables.hpp"
#include "protocol/redis_url.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace omnicache::protocol {

namespace {

constexpr std::string_view k_log_levels[] = {"error", "warn", "info", "debug"};
constexpr std::string_view k_sync_modes[] = {"off", "normal", "full"};
constexpr std::string_view k_on_off[] = {"on", "off"};
constexpr std::string_view k_embedders[] = {"lexical", "openai"};
constexpr std::string_view k_proxy_scopes[] = {"shared", "per-key"};

using S = Settings;

// clang-format off
const std::array k_specs{
  // [daemon]
  SettingSpec{"daemon.socket", "OMNICACHE_SOCKET", "", Kind::path, false, &S::socket,
              "Unix socket the daemon listens on and the command connects to. Default: "
              "$XDG_RUNTIME_DIR/omnicache/omnicached.sock, else /tmp/omnicache-<uid>/omnicached.sock."},
  SettingSpec{"daemon.database", "OMNICACHE_DATABASE", "", Kind::path, false, &S::database,
              "SQLite database file. Default: $XDG_CACHE_HOME/omnicache/cache.db, else ~/.cache/omnicache/cache.db."},
  SettingSpec{"daemon.log_level", "OMNICACHE_LOG_LEVEL", "info", Kind::choice, true, &S::log_level,
              "error, warn, info or debug.", k_log_levels},
  SettingSpec{"daemon.log_file", "OMNICACHE_LOG_FILE", "", Kind::path, false, &S::log_file,
              "Where a background daemon writes its log. Default: omnicached.log beside the database. "
              "A foreground daemon logs to stderr."},
  SettingSpec{"daemon.idle_timeout", "OMNICACHE_IDLE_TIMEOUT", "0", Kind::duration, true, &S::idle_timeout_ms,
              "A daemon started by the command exits after this long without clients. 0 = never."},
  SettingSpec{"daemon.io_threads", "OMNICACHE_IO_THREADS", "1", Kind::count, false, &S::io_threads,
              "Threads serving connections (each with its own read connection to the database).", {}, 1, 64},
  SettingSpec{"daemon.sync", "OMNICACHE_SYNC", "normal", Kind::choice, false, &S::sync,
              "How hard the daemon works to keep an acknowledged write. Every mode acknowledges a "
              "write only after its transaction has committed. "
              "full: the write-ahead log is fsynced at every commit; a write survives power loss. Slowest: each "
              "group commit waits for the disk. "
              "normal: the log is written at every commit and fsynced about once a second; a write survives a "
              "crash or kill -9 of the daemon, and an OS crash or power loss can lose the last second or so "
              "(the class of Redis's appendfsync everysec). "
              "off: syncing is left to the OS; fastest, and an OS crash can lose more, or corrupt the database.",
              k_sync_modes},
  // [limits]
  SettingSpec{"limits.max_connections", "OMNICACHE_MAX_CONNECTIONS", "1024", Kind::count, true, &S::max_connections,
              "Connections served at once; one more gets a BUSY error and is closed.", {}, 1, 1000000},
  SettingSpec{"limits.max_frame_bytes", "OMNICACHE_MAX_FRAME_BYTES", "256MiB", Kind::size, true, &S::max_frame_bytes,
              "Largest request frame (everything after its 4-byte length: header and value); a larger one is "
              "refused before it is read.", {}, 1024, 0xFFF00000u},
  SettingSpec{"limits.max_header_bytes", "OMNICACHE_MAX_HEADER_BYTES", "1MiB", Kind::size, true, &S::max_header_bytes,
              "Largest JSON header of a request.", {}, 256, 0xFFFFFFF0u},
  SettingSpec{"limits.max_key_bytes", "OMNICACHE_MAX_KEY_BYTES", "4KiB", Kind::size, true, &S::max_key_bytes,
              "Longest key.", {}, 1, 1u << 30},
  SettingSpec{"limits.max_tags", "OMNICACHE_MAX_TAGS", "64", Kind::count, true, &S::max_tags,
              "Most tags on one entry.", {}, 0, 100000},
  SettingSpec{"limits.max_tag_bytes", "OMNICACHE_MAX_TAG_BYTES", "256", Kind::size, true, &S::max_tag_bytes,
              "Longest tag.", {}, 1, 1u << 20},
  SettingSpec{"limits.max_in_flight", "OMNICACHE_MAX_IN_FLIGHT", "1024", Kind::count, true, &S::max_in_flight,
              "Pipelined requests a connection may have waiting; the daemon stops reading from it until "
              "replies drain.", {}, 1, 1000000},
  // [store]
  SettingSpec{"store.max_bytes", "OMNICACHE_MAX_BYTES", "2GiB", Kind::size, true, &S::max_bytes,
              "Stored bytes (keys plus values as stored, after compression) before least recently used "
              "entries are evicted. 0 = no limit."},
  SettingSpec{"store.max_entries", "OMNICACHE_MAX_ENTRIES", "0", Kind::count, true, &S::max_entries,
              "Entries before least recently used ones are evicted. 0 = no limit."},
  SettingSpec{"store.compress_threshold", "OMNICACHE_COMPRESS_THRESHOLD", "4KiB", Kind::size, true,
              &S::compress_threshold,
              "Values at least this large are stored zstd-compressed when that saves space. 0 = never compress."},
  SettingSpec{"store.compress_level", "OMNICACHE_COMPRESS_LEVEL", "3", Kind::count, true, &S::compress_level,
              "zstd level, 1 (fastest) to 19.", {}, 1, 19},
  SettingSpec{"store.sweep_interval", "OMNICACHE_SWEEP_INTERVAL", "1s", Kind::duration, true, &S::sweep_interval_ms,
              "How often expired entries are swept out. Expired entries are never returned in between."},
  SettingSpec{"store.sweep_budget", "OMNICACHE_SWEEP_BUDGET", "20ms", Kind::duration, true, &S::sweep_budget_ms,
              "Longest time one sweep may hold the writer.", {}, 1, 10000},
  // [ttl]
  SettingSpec{"ttl.kv", "OMNICACHE_TTL_KV", "never", Kind::duration, true, &S::ttl_kv_ms,
              "Default TTL of plain keys (omnicache set)."},
  SettingSpec{"ttl.response", "OMNICACHE_TTL_RESPONSE", "10m", Kind::duration, true, &S::ttl_response_ms,
              "Default TTL of LLM responses."},
  SettingSpec{"ttl.embedding", "OMNICACHE_TTL_EMBEDDING", "24h", Kind::duration, true, &S::ttl_embedding_ms,
              "Default TTL of embeddings."},
  SettingSpec{"ttl.retrieval", "OMNICACHE_TTL_RETRIEVAL", "1h", Kind::duration, true, &S::ttl_retrieval_ms,
              "Default TTL of retrieval results."},
  SettingSpec{"ttl.context", "OMNICACHE_TTL_CONTEXT", "30m", Kind::duration, true, &S::ttl_context_ms,
              "Default TTL of conversation context."},
  SettingSpec{"ttl.semantic", "OMNICACHE_TTL_SEMANTIC", "10m", Kind::duration, true, &S::ttl_semantic_ms,
              "Default TTL of semantic entries."},
  SettingSpec{"ttl.run", "OMNICACHE_TTL_RUN", "7d", Kind::duration, true, &S::ttl_run_ms,
              "Default TTL of cached command output (omnicache run)."},
  // [semantic]
  SettingSpec{"semantic.threshold", "OMNICACHE_SEMANTIC_THRESHOLD", "0.95", Kind::fraction, true,
              &S::semantic_threshold,
              "Least cosine similarity (inclusive) for a semantic hit when a request names none. Compared "
              "after rounding both sides to 6 decimals. With the lexical embedder and the guard, 0.95 keeps "
              "wrong hits under 1% (bench/README.md); lower it only with a real embedding model."},
  SettingSpec{"semantic.guard", "OMNICACHE_SEMANTIC_GUARD", "on", Kind::choice, true, &S::semantic_guard,
              "Reject a near neighbour that differs from the question in a number, a name, a negation, a "
              "replaced or added content word, or the order of its words: on or off.", k_on_off},
  SettingSpec{"semantic.dim", "OMNICACHE_SEMANTIC_DIM", "512", Kind::count, false, &S::semantic_dim,
              "Dimensions of the lexical embedder's vectors. Changing it re-embeds nothing: older semantic "
              "entries stop matching until they are set again.", {}, 16, 4096},
  SettingSpec{"semantic.m", "OMNICACHE_SEMANTIC_M", "16", Kind::count, false, &S::semantic_m,
              "hnswlib M: links per node. More is better recall and more memory.", {}, 2, 100},
  SettingSpec{"semantic.ef_construction", "OMNICACHE_SEMANTIC_EF_CONSTRUCTION", "200", Kind::count, false,
              &S::semantic_ef_construction, "hnswlib ef_construction: effort spent building the index.", {}, 10,
              10000},
  SettingSpec{"semantic.ef", "OMNICACHE_SEMANTIC_EF", "64", Kind::count, true, &S::semantic_ef,
              "hnswlib ef: effort spent per lookup. More is better recall and slower.", {}, 1, 10000},
  SettingSpec{"semantic.embedder", "OMNICACHE_SEMANTIC_EMBEDDER", "lexical", Kind::choice, false,
              &S::semantic_embedder,
              "What turns a question into a vector. lexical: built in, offline, no model. openai: any "
              "OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, llama.cpp server, vLLM, TEI), set with "
              "the openai_* keys below; each text is sent once, its vector kept in the embedding layer. An entry "
              "matches only questions embedded the same way: after a change, older semantic entries are found by "
              "their exact question only, until they are set again.", k_embedders},
  SettingSpec{"semantic.openai_url", "OMNICACHE_SEMANTIC_OPENAI_URL", "", Kind::string, false, &S::openai_url,
              "Base URL of the embeddings endpoint, with its version path: the daemon posts to URL/embeddings. "
              "http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp server), "
              "https://api.openai.com/v1. An https:// peer must present a certificate the system trusts for its "
              "host name. Required with embedder = \"openai\"."},
  SettingSpec{"semantic.openai_model", "OMNICACHE_SEMANTIC_OPENAI_MODEL", "", Kind::string, false,
              &S::openai_model,
              "Model the endpoint embeds with, such as nomic-embed-text or text-embedding-3-small. Required with "
              "embedder = \"openai\"."},
  SettingSpec{"semantic.openai_api_key_env", "OMNICACHE_SEMANTIC_OPENAI_API_KEY_ENV", "OPENAI_API_KEY", Kind::string,
              false, &S::openai_api_key_env,
              "Environment variable, in the daemon's environment, holding the API key sent as Authorization: "
              "Bearer. Unset or empty: no key is sent (local servers need none). Keep the key itself out of "
              "this file."},
  SettingSpec{"semantic.openai_timeout", "OMNICACHE_SEMANTIC_OPENAI_TIMEOUT", "10s", Kind::duration, false,
              &S::openai_timeout_ms,
              "Longest one embeddings request may take, from connecting to the last byte of the answer. When "
              "the endpoint fails or times out, lookups fall back to exact match (with a warning, counted in "
              "stats as semantic_embed_failures) and nothing fails.", {}, 1, 600000},
  SettingSpec{"semantic.openai_batch", "OMNICACHE_SEMANTIC_OPENAI_BATCH", "64", Kind::count, false, &S::openai_batch,
              "Most texts in one request. Texts that arrive while a request is in flight go together in the "
              "next one.", {}, 1, 2048},
  SettingSpec{"semantic.openai_dimensions", "OMNICACHE_SEMANTIC_OPENAI_DIMENSIONS", "0", Kind::count, false,
              &S::openai_dimensions,
              "Vector length to ask the model for (the text-embedding-3 models can shorten theirs); 0 = the "
              "model's own. An answer of another length is an error.", {}, 0, 65536},
  // [client]
  SettingSpec{"client.tenant", "OMNICACHE_TENANT", "default", Kind::string, true, &S::tenant,
              "Tenant the command works in. Tenants isolate keys, tags, invalidation and stats."},
  SettingSpec{"client.start_timeout", "OMNICACHE_START_TIMEOUT", "5s", Kind::duration, true, &S::start_timeout_ms,
              "How long the command waits for a daemon it started to answer."},
  SettingSpec{"client.timeout", "OMNICACHE_TIMEOUT", "1m", Kind::duration, true, &S::timeout_ms,
              "How long the command waits for a reply before giving up. 0 = forever."},
  // [proxy]
  SettingSpec{"proxy.listen", "OMNICACHE_PROXY_LISTEN", "", Kind::string, false, &S::proxy_listen,
              "HOST:PORT where the daemon serves its HTTP caching proxy for OpenAI- and Anthropic-style APIs, "
              "such as 127.0.0.1:8411 or [::1]:8411; port 0 takes any free port. Empty: no proxy. Point "
              "clients at it with OPENAI_BASE_URL=http://127.0.0.1:8411/v1 or "
              "ANTHROPIC_BASE_URL=http://127.0.0.1:8411. Anyone who can reach the address can use it: keep it "
              "on loopback, or set [proxy.tokens]."},
  SettingSpec{"proxy.upstream", "OMNICACHE_PROXY_UPSTREAM", "https://api.openai.com", Kind::string, false,
              &S::proxy_upstream,
              "Base URL that OpenAI-style requests (and every path the proxy does not cache) are forwarded to; "
              "the request's path is appended, without repeating /v1 when the URL ends in it: "
              "https://api.openai.com, http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM)."},
  SettingSpec{"proxy.anthropic_upstream", "OMNICACHE_PROXY_ANTHROPIC_UPSTREAM", "https://api.anthropic.com",
              Kind::string, false, &S::proxy_anthropic_upstream,
              "Base URL that Anthropic-style requests (paths under /v1/messages) are forwarded to."},
  SettingSpec{"proxy.scope", "OMNICACHE_PROXY_SCOPE", "shared", Kind::choice, true, &S::proxy_scope,
              "Whose answers a request may be served. shared: every client shares the tenant proxy.tenant. "
              "per-key: each API key gets a tenant of its own (key- and a hash of the key), so clients with "
              "different keys never see each other's answers. Ignored when [proxy.tokens] is set: each token "
              "names its tenant.", k_proxy_scopes},
  SettingSpec{"proxy.tenant", "OMNICACHE_PROXY_TENANT", "default", Kind::string, true, &S::proxy_tenant,
              "Tenant the proxy caches in with scope = \"shared\", and for requests without an API key."},
  SettingSpec{"proxy.tenant_header", "OMNICACHE_PROXY_TENANT_HEADER", "off", Kind::choice, true,
              &S::proxy_tenant_header,
              "on: a request's X-Omnicache-Tenant header chooses its tenant. Turn it on only when every client "
              "is trusted to pick its own: on or off.", k_on_off},
  SettingSpec{"proxy.semantic", "OMNICACHE_PROXY_SEMANTIC", "off", Kind::choice, true, &S::proxy_semantic,
              "on: a request that misses is also looked up by meaning (the [semantic] settings), and answered "
              "from a near enough earlier question. A request's X-Omnicache-Semantic header (on, off or a "
              "threshold such as 0.92) overrides it: on or off.", k_on_off},
  SettingSpec{"proxy.timeout", "OMNICACHE_PROXY_TIMEOUT", "10m", Kind::duration, true, &S::proxy_timeout_ms,
              "Longest wait for the head of the upstream's answer; past it the client gets 504. A streamed "
              "answer may then take as long as it needs.", {}, 1, 86'400'000},
  SettingSpec{"proxy.idle_timeout", "OMNICACHE_PROXY_IDLE_TIMEOUT", "75s", Kind::duration, true,
              &S::proxy_idle_timeout_ms,
              "A kept-alive client connection with no request for this long is closed.", {}, 1, 86'400'000},
  SettingSpec{"proxy.max_body", "OMNICACHE_PROXY_MAX_BODY", "32MiB", Kind::size, true, &S::proxy_max_body_bytes,
              "Largest request body the proxy accepts; a larger one gets 413.", {}, 1024, 1ull << 32},
  SettingSpec{"proxy.openai_key_env", "OMNICACHE_PROXY_OPENAI_KEY_ENV", "OPENAI_API_KEY", Kind::string, true,
              &S::proxy_openai_key_env,
              "With [proxy.tokens]: environment variable, in the daemon's environment, holding the key the proxy "
              "sends to the OpenAI upstream (Authorization: Bearer) in place of the client's token. Unset or "
              "empty: no key is sent. Without tokens the client's own key is forwarded."},
  SettingSpec{"proxy.anthropic_key_env", "OMNICACHE_PROXY_ANTHROPIC_KEY_ENV", "ANTHROPIC_API_KEY", Kind::string,
              true, &S::proxy_anthropic_key_env,
              "With [proxy.tokens]: environment variable holding the key sent to the Anthropic upstream "
              "(x-api-key) in place of the client's token."},
  // [tier.redis]
  SettingSpec{"tier.redis.url", "OMNICACHE_TIER_REDIS_URL", "", Kind::string, false, &S::redis_url,
              "Redis (or a Redis-compatible service) that daemons share as a second tier behind their local "
              "database: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], rediss://... for TLS, or "
              "unix:///PATH/redis.sock[?db=N]. Empty: no shared tier. The password is masked wherever the URL is "
              "shown; to keep it out of this file, set the URL in the environment variable instead."},
  SettingSpec{"tier.redis.prefix", "OMNICACHE_TIER_REDIS_PREFIX", "omnicache:", Kind::string, false,
              &S::redis_prefix,
              "Start of every Redis key the daemons use, so that several caches (or other data) can share one "
              "Redis. Daemons that are to share entries need the same prefix."},
  SettingSpec{"tier.redis.connect_timeout", "OMNICACHE_TIER_REDIS_CONNECT_TIMEOUT", "1s", Kind::duration, false,
              &S::redis_connect_timeout_ms,
              "Longest a connection to Redis may take, TLS and AUTH included; then the daemon retries with "
              "backoff (100 ms, doubling up to 5 s) and serves from its local tier meanwhile.", {}, 1, 600000},
  SettingSpec{"tier.redis.timeout", "OMNICACHE_TIER_REDIS_TIMEOUT", "250ms", Kind::duration, false,
              &S::redis_timeout_ms,
              "Longest a lookup waits for Redis after a local miss; a slower answer counts as a miss (and an "
              "error), and a connection that keeps a reply waiting this long is closed and made again.", {}, 1,
              600000},
  SettingSpec{"tier.redis.queue", "OMNICACHE_TIER_REDIS_QUEUE", "100000", Kind::count, false, &S::redis_queue,
              "Most writes and invalidations waiting to reach Redis (while it is slow or down). Past it the "
              "oldest write's value is dropped (counted) and only a delete of its key is kept, so that Redis "
              "holds no older value; an invalidation is never dropped.", {}, 1, 100000000},
  SettingSpec{"tier.redis.log_length", "OMNICACHE_TIER_REDIS_LOG_LENGTH", "100000", Kind::count, false,
              &S::redis_log_length,
              "Invalidations kept in Redis for daemons that were away. A daemon that comes back after more "
              "than this many drops its local entries rather than serve one that was invalidated.", {}, 100,
              100000000},
};
// clang-format on

bool
is_port(std::string_view text)
{
  std::uint32_t port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && port <= 65535;
}

// An IPv4 address, a host name such as localhost, or an IPv6 address in
// brackets.
bool
is_host(std::string_view host)
{
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    const auto inner = host.substr(1, host.size() - 2);
    return inner.find(':') != std::string_view::npos
           && inner.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos;
  }
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.'
      || host.find("..") != std::string_view::npos) {
    return false;
  }
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    int parts = 0;
    for (std::size_t start = 0; start <= host.size(); ++parts) {
      const auto dot = std::min(host.find('.', start), host.size());
      std::uint32_t part = 0;
      const auto text = host.substr(start, dot - start);
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), part);
      if (text.empty() || text.size() > 3 || ec != std::errc() || end != text.data() + text.size() || part > 255) {
        return false;
      }
      start = dot + 1;
    }
    return parts == 4;
  }
  return host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
         == std::string_view::npos;
}

// HOST:PORT, with the port required.
bool
is_host_port(std::string_view text)
{
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  return is_host(text.substr(0, colon)) && is_port(text.substr(colon + 1));
}

// http:// or https://, a host, an optional port, then any path.
bool
is_http_url(std::string_view url)
{
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return false;
  }
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return false; // credentials belong in the key variables, not in a URL that is logged
  }
  const auto bracket = authority.rfind(']');
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    return is_host(authority.substr(0, colon)) && is_port(authority.substr(colon + 1));
  }
  return is_host(authority);
}

// Reads a setting's text into its field; throws ConfigError with a message
// that the caller prefixes with where the value came from.
void
apply(const SettingSpec& spec, Settings& settings, std::string_view text, const std::string& base_dir,
      const GetEnv& env)
{
  auto fail = [&](std::string_view expected) {
    throw ConfigError(fmt::format("invalid value '{}' for {} (expected {})", text, spec.key, expected));
  };
  switch (spec.kind) {
  case Kind::string:
    if (text.empty() && !spec.fallback.empty()) { // no default: empty means unset
      fail("a non-empty string");
    }
    if (spec.key == "proxy.listen" && !text.empty() && !is_host_port(text)) {
      fail("HOST:PORT such as 127.0.0.1:8411, localhost:8411 or [::1]:8411, port 0 to 65535, or empty for no "
           "proxy");
    }
    if ((spec.key == "proxy.upstream" || spec.key == "proxy.anthropic_upstream") && !is_http_url(text)) {
      fail("a URL starting with http:// or https:// and naming a host, such as https://api.openai.com");
    }
    if (spec.key == "tier.redis.url" && !text.empty()) {
      std::string why;
      if (!parse_redis_url(text, &why)) {
        throw ConfigError(fmt::format("invalid value '{}' for {}: {} (expected redis://HOST[:PORT][/DB], "
                                      "rediss://... or unix:///PATH)",
                                      mask_redis_url(text), spec.key, why));
      }
    }
    settings.*std::get<std::string Settings::*>(spec.field) = std::string(text);
    return;
  case Kind::path:
    settings.*std::get<std::string Settings::*>(spec.field) = text.empty() ? std::string()
                                                                           : expand_path(text, base_dir, env);
    return;
  case Kind::choice: {
    if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
      std::string names;
      for (auto c : spec.choices) {
        names += names.empty() ? "" : ", ";
        names += c;
      }
      fail(fmt::format("one of {}", names));
    }
    settings.*std::get<std::string Settings::*>(spec.field) = std::string(text);
    return;
  }
  case Kind::size:
  case Kind::count: {
    std::optional<std::uint64_t> value;
    if (spec.kind == Kind::size) {
      value = parse_size(text);
    } else {
      value = parse_size(text);
      if (value && text.find_first_not_of("0123456789") != std::string_view::npos) {
        value.reset(); // counts are plain numbers
      }
    }
    const std::string_view what = spec.kind == Kind::size ? "a size such as 512MiB" : "a whole number";
    if (!value) {
      fail(what);
    }
    if (*value < spec.min || *value > spec.max) {
      fail(fmt::format("{} from {} to {}", what, spec.min, spec.max));
    }
    settings.*std::get<std::uint64_t Settings::*>(spec.field) = *value;
    return;
  }
  case Kind::fraction: {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
      fail("a number from 0 to 1, such as 0.92");
    }
    settings.*std::get<double Settings::*>(spec.field) = value;
    return;
  }
  case Kind::duration: {
    const auto ms = parse_duration_ms(text);
    if (!ms) {
      fail("a duration such as 30s, 10m, 2h, 7d, or never");
    }
    if (static_cast<std::uint64_t>(*ms) < spec.min || static_cast<std::uint64_t>(*ms) > spec.max) {
      fail(fmt::format("a duration from {} to {}", format_duration_ms(static_cast<std::int64_t>(spec.min)),
                       format_duration_ms(static_cast<std::int64_t>(spec.max))));
    }
    settings.*std::get<std::int64_t Settings::*>(spec.field) = *ms;
    return;
  }
  }
}

std::string
read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read the config file", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string>
toml_scalar_text(const toml::node& node)
{
  if (auto s = node.as_string()) {
    return s->get();
  }
  if (auto i = node.as_integer()) {
    if (i->get() < 0) {
      return std::nullopt;
    }
    return std::to_string(i->get());
  }
  if (auto f = node.as_floating_point()) {
    return fmt::format("{}", f->get());
  }
  return std::nullopt;
}

} // namespace

std::string_view
origin_name(Origin origin)
{
  switch (origin) {
  case Origin::default_value:
    return "default";
  case Origin::file:
    return "file";
  case Origin::env:
    return "env";
  case Origin::flag:
    return "flag";
  }
  return "default";
}

std::int64_t
Settings::default_ttl_ms(std::string_view layer) const
{
  if (layer == "response") {
    return ttl_response_ms;
  }
  if (layer == "embedding") {
    return ttl_embedding_ms;
  }
  if (layer == "retrieval") {
    return ttl_retrieval_ms;
  }
  if (layer == "context") {
    return ttl_context_ms;
  }
  if (layer == "semantic") {
    return ttl_semantic_ms;
  }
  if (layer == "run") {
    return ttl_run_ms;
  }
  return ttl_kv_ms;
}

std::span<const SettingSpec>
setting_specs()
{
  return k_specs;
}

const SettingSpec*
find_setting(std::string_view key)
{
  for (const auto& spec : k_specs) {
    if (spec.key == key) {
      return &spec;
    }
  }
  return nullptr;
}

Config
Config::load(const ConfigSources& sources)
{
  Config config;
  config.m_origins.assign(k_specs.size(), {Origin::default_value, ""});
  const std::string cwd = current_directory();
  auto index_of = [](const SettingSpec& spec) { return static_cast<std::size_t>(&spec - k_specs.data()); };

  for (const auto& spec : k_specs) {
    apply(spec, config.m_settings, spec.fallback, cwd, sources.env);
  }

  // 3. The config file.
  bool explicit_file = !sources.config_file.empty();
  std::string file = sources.config_file;
  if (!explicit_file) {
    if (auto from_env = sources.env("OMNICACHE_CONFIG"); from_env && !from_env->empty()) {
      file = *from_env;
      explicit_file = true;
    } else {
      file = default_config_path(sources.env);
    }
  }
  config.m_file = expand_path(file, cwd, sources.env);
  std::error_code ec;
  config.m_file_exists = std::filesystem::exists(config.m_file, ec);
  if (!config.m_file_exists && explicit_file) {
    throw ConfigError(fmt::format("{}: config file not found", config.m_file));
  }
  if (config.m_file_exists) {
    const std::string text = read_file(config.m_file);
    toml::table root;
    try {
      root = toml::parse(text, config.m_file);
    } catch (const toml::parse_error& e) {
      throw ConfigError(
        fmt::format("{}:{}: {}", config.m_file, e.source().begin.line, std::string(e.description())));
    }
    const std::string base_dir = parent_directory(config.m_file);
    // Reads the keys of one section; a section inside it ([tier.redis]) is read the same way.
    std::function<void(const std::string&, const toml::table&)> load_section;
    load_section = [&](const std::string& section_name, const toml::table& table) {
      for (const auto& [name, node] : table) {
        const std::string key = fmt::format("{}.{}", section_name, name.str());
        const auto where = fmt::format("{}:{}", config.m_file, node.source().begin.line);
        if (const auto* inner = node.as_table(); inner != nullptr && find_setting(key) == nullptr
                                                   && !config_tables::is_table_section(key)) {
          load_section(key, *inner);
          continue;
        }
        if (config_tables::is_table_section(key)) { // [proxy.tokens] is a table inside [proxy]
          if (const auto* inner = node.as_table(); inner != nullptr) {
            config_tables::load(key, *inner, config.m_file, config.m_settings);
            continue;
          }
          throw ConfigError(fmt::format("{}: {} must be a table, e.g. [{}]", where, key, key));
        }
        const SettingSpec* spec = find_setting(key);
        if (spec == nullptr) {
          throw ConfigError(fmt::format("{}: unknown key '{}'", where, key));
        }
        const auto value = toml_scalar_text(node);
        if (!value) {
          throw ConfigError(fmt::format("{}: key '{}' must be a string or a non-negative integer", where, key));
        }
        try {
          apply(*spec, config.m_settings, *value, base_dir, sources.env);
        } catch (const ConfigError& e) {
          throw ConfigError(fmt::format("{}: {}", where, e.what()));
        }
        config.m_origins[index_of(*spec)] = {Origin::file, where};
      }
    };
    for (const auto& [section_key, section] : root) {
      const auto* table = section.as_table();
      const auto line = section.source().begin.line;
      if (table == nullptr) {
        throw ConfigError(fmt::format("{}:{}: unknown key '{}' (settings belong in sections such as [store])",
                                      config.m_file, line, section_key.str()));
      }
      if (config_tables::is_table_section(section_key.str())) {
        config_tables::load(section_key.str(), *table, config.m_file, config.m_settings);
        continue;
      }
      load_section(std::string(section_key.str()), *table);
    }
  }

  // 2. The environment.
  for (const auto& spec : k_specs) {
    if (spec.env.empty()) {
      continue;
    }
    const auto value = sources.env(std::string(spec.env).c_str());
    if (!value) {
      continue;
    }
    try {
      apply(spec, config.m_settings, *value, cwd, sources.env);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("environment variable {}: {}", spec.env, e.what()));
    }
    config.m_origins[index_of(spec)] = {Origin::env, std::string(spec.env)};
  }

  // 1. Flags.
  for (const auto& flag : sources.flags) {
    const SettingSpec* spec = find_setting(flag.key);
    if (spec == nullptr) {
      throw ConfigError(fmt::format("{}: unknown key '{}'", flag.where, flag.key));
    }
    try {
      apply(*spec, config.m_settings, flag.value, cwd, sources.env);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: {}", flag.where, e.what()));
    }
    config.m_origins[index_of(*spec)] = {Origin::flag, flag.where};
  }

  // Computed defaults, which depend on other settings.
  Settings& s = config.m_settings;
  if (s.socket.empty()) {
    s.socket = default_socket_path(sources.env);
  }
  if (s.database.empty()) {
    s.database = default_database_path(sources.env);
  }
  if (s.log_file.empty()) {
    s.log_file = parent_directory(s.database) + "/omnicached.log";
  }
  if (s.max_header_bytes > s.max_frame_bytes) {
    throw ConfigError(fmt::format("limits.max_header_bytes ({}) must not exceed limits.max_frame_bytes ({})",
                                  s.max_header_bytes, s.max_frame_bytes));
  }
  config.check_embedder();
  return config;
}

// The openai embedder needs an endpoint and a model; a URL names its scheme.
void
Config::check_embedder() const
{
  const Settings& s = m_settings;
  if (s.semantic_embedder != "openai") {
    return;
  }
  auto where = [this](std::string_view key) {
    const auto& origin = m_origins[static_cast<std::size_t>(find_setting(key) - k_specs.data())];
    return origin.second.empty() ? std::string() : origin.second + ": ";
  };
  const auto embedder = where("semantic.embedder");
  if (s.openai_url.empty()) {
    throw ConfigError(fmt::format("{}semantic.embedder is openai, but semantic.openai_url is not set (the "
                                  "endpoint's base URL, such as http://127.0.0.1:11434/v1)",
                                  embedder));
  }
  if (s.openai_model.empty()) {
    throw ConfigError(fmt::format("{}semantic.embedder is openai, but semantic.openai_model is not set (such as "
                                  "nomic-embed-text or text-embedding-3-small)",
                                  embedder));
  }
  if (!s.openai_url.starts_with("http://") && !s.openai_url.starts_with("https://")) {
    throw ConfigError(fmt::format("{}invalid value '{}' for semantic.openai_url (expected a URL starting with "
                                  "http:// or https://)",
                                  where("semantic.openai_url"), s.openai_url));
  }
}

std::string
setting_text(const SettingSpec& spec, const Settings& settings)
{
  switch (spec.kind) {
  case Kind::string:
  case Kind::path:
  case Kind::choice:
    return settings.*std::get<std::string Settings::*>(spec.field);
  case Kind::count:
    return std::to_string(settings.*std::get<std::uint64_t Settings::*>(spec.field));
  case Kind::size: {
    const auto bytes = settings.*std::get<std::uint64_t Settings::*>(spec.field);
    static constexpr std::array<std::pair<std::uint64_t, std::string_view>, 4> k_units{
      {{1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}}};
    for (const auto& [scale, unit] : k_units) {
      if (bytes != 0 && bytes % scale == 0) {
        return fmt::format("{}{}", bytes / scale, unit);
      }
    }
    return std::to_string(bytes);
  }
  case Kind::duration:
    return format_duration_ms(settings.*std::get<std::int64_t Settings::*>(spec.field));
  case Kind::fraction:
    return fmt::format("{}", settings.*std::get<double Settings::*>(spec.field));
  }
  return {};
}

namespace {

void
append_comment(std::string& out, std::string_view text)
{
  constexpr std::size_t k_width = 78;
  std::string line = "#";
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const auto word = text.substr(start, end - start);
    if (line.size() + 1 + word.size() > k_width && line.size() > 1) {
      out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
    start = end + 1;
  }
  out += line + "\n";
}

} // namespace

std::string
config_template()
{
  std::string out;
  append_comment(out, "omnicache configuration. Written by `omnicache config template`; every key is shown with "
                      "its default, commented out. Environment variables (named beside each key) override this "
                      "file, and flags override both. Sizes take k/M/G (x1000) or Ki/Mi/Gi (x1024); durations "
                      "take ms, s, m, h, d, w, or never. The daemon reloads the keys marked 'live' on SIGHUP.");
  std::string_view section;
  Settings defaults;
  const GetEnv no_env = [](const char*) { return std::optional<std::string>(); };
  for (const auto& spec : k_specs) {
    apply(spec, defaults, spec.fallback, "/", no_env);
  }
  for (const auto& spec : k_specs) {
    const auto dot = spec.key.rfind('.');
    const auto this_section = spec.key.substr(0, dot);
    if (this_section != section) {
      section = this_section;
      out += fmt::format("\n[{}]\n", section);
    }
    out += "\n";
    append_comment(out, spec.help);
    out += fmt::format("# env: {}{}\n", spec.env, spec.live ? "; live" : "; needs a restart");
    const std::string value = spec.fallback.empty() && spec.kind == Kind::path ? std::string() : setting_text(spec, defaults);
    const bool bare = spec.kind == Kind::count || spec.kind == Kind::fraction;
    out += fmt::format("#{} = {}\n", spec.key.substr(dot + 1), bare ? value : fmt::format("\"{}\"", value));
  }
  out += config_tables::template_text();
  return out;
}

std::vector<Config::Shown>
Config::show() const
{
  std::vector<Shown> out;
  out.reserve(k_specs.size());
  for (std::size_t i = 0; i < k_specs.size(); ++i) {
    auto value = setting_text(k_specs[i], m_settings);
    if (k_specs[i].key == "tier.redis.url") {
      value = mask_redis_url(value);
    }
    out.push_back({std::string(k_specs[i].key), std::move(value), m_origins[i].first, m_origins[i].second});
  }
  for (auto& [key, value] : config_tables::show(m_settings)) {
    out.push_back({std::move(key), std::move(value), Origin::file, m_file});
  }
  return out;
}

std::vector<std::string>
Config::changed_keys(const Config& other) const
{
  std::vector<std::string> out;
  for (const auto& spec : k_specs) {
    if (setting_text(spec, m_settings) != setting_text(spec, other.m_settings)) {
      out.emplace_back(spec.key);
    }
  }
  if (m_settings.prices != other.m_settings.prices) {
    out.emplace_back("prices");
  }
  if (m_settings.rules != other.m_settings.rules) {
    out.emplace_back("rules");
  }
  if (m_settings.proxy_tokens != other.m_settings.proxy_tokens) {
    out.emplace_back("proxy.tokens");
  }
  return out;
}

} // namespace omnicache::protocol
