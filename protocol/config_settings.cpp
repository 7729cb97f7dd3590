#include "protocol/config.hpp"

#include <array>
#include <span>
#include <string_view>

// The setting table: every key omnicache reads, with its environment
// variable, default, kind, field and help text. Config::load, the template,
// `config show` and the omnicache.toml(5) page all walk it; a new key needs
// only a line here (and its field in Settings).
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

} // namespace

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

} // namespace omnicache::protocol
