#pragma once

#include "protocol/error.hpp"
#include "protocol/expected.hpp"
#include "protocol/paths.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// Configuration: one table of settings drives loading, validation,
// `omnicache config show` and the documentation.
//
// Precedence, highest first:
//   1. flags (--socket, --tenant, omnicached -o KEY=VALUE ...)
//   2. environment (OMNICACHE_*)
//   3. the config file (--config, $OMNICACHE_CONFIG, $XDG_CONFIG_HOME/omnicache/config.toml)
//   4. built-in defaults
namespace omnicache::protocol {

enum class Origin { default_value, file, env, flag };
std::string_view origin_name(Origin origin);

// [prices.MODEL]: what a model costs, in US dollars per million tokens.
struct Price
{
  double input = 0;
  double output = 0;
  std::optional<double> cached_input; // what a provider charges for input tokens it had cached
  bool operator==(const Price&) const = default;
};

// [rules.EVENT]: what `omnicache event EVENT name=value...` removes. Each
// target may hold {name} placeholders filled from the event's arguments;
// an entry matching any one target goes.
struct Rule
{
  std::vector<std::string> tags;
  std::vector<std::string> patterns; // key globs
  std::vector<std::string> layers;
  std::vector<std::string> deps;
  bool operator==(const Rule&) const = default;
};

// Typed, validated values. Durations are milliseconds; 0 means "never"/"off".
struct Settings
{
  // [daemon]
  std::string socket;
  std::string database;
  std::string log_level;
  std::string log_file;
  std::int64_t idle_timeout_ms = 0;
  std::uint64_t io_threads = 1;
  std::string sync;
  // [limits]
  std::uint64_t max_connections = 0;
  std::uint64_t max_frame_bytes = 0;
  std::uint64_t max_header_bytes = 0;
  std::uint64_t max_key_bytes = 0;
  std::uint64_t max_tags = 0;
  std::uint64_t max_tag_bytes = 0;
  std::uint64_t max_in_flight = 0;
  // [store]
  std::uint64_t max_bytes = 0;
  std::uint64_t max_entries = 0;
  std::uint64_t compress_threshold = 0;
  std::uint64_t compress_level = 0;
  std::int64_t sweep_interval_ms = 0;
  std::int64_t sweep_budget_ms = 0;
  // [ttl]
  std::int64_t ttl_kv_ms = 0;
  std::int64_t ttl_response_ms = 0;
  std::int64_t ttl_embedding_ms = 0;
  std::int64_t ttl_retrieval_ms = 0;
  std::int64_t ttl_context_ms = 0;
  std::int64_t ttl_semantic_ms = 0;
  std::int64_t ttl_run_ms = 0;
  // [semantic]
  double semantic_threshold = 0;
  std::uint64_t semantic_dim = 0;
  std::uint64_t semantic_m = 0;
  std::uint64_t semantic_ef_construction = 0;
  std::uint64_t semantic_ef = 0;
  std::string semantic_guard;
  std::string semantic_embedder; // lexical or openai
  std::string openai_url;        // base URL, up to and including /v1
  std::string openai_model;
  std::string openai_api_key_env;
  std::int64_t openai_timeout_ms = 0;
  std::uint64_t openai_batch = 0;
  std::uint64_t openai_dimensions = 0; // 0: the model's own
  // [client]
  std::string tenant;
  std::int64_t start_timeout_ms = 0;
  std::int64_t timeout_ms = 0;
  // [proxy]
  std::string proxy_listen; // HOST:PORT, or empty: no proxy
  std::string proxy_upstream;
  std::string proxy_anthropic_upstream;
  std::string proxy_scope; // shared or per-key
  std::string proxy_tenant;
  std::string proxy_tenant_header; // on or off
  std::string proxy_semantic;      // on or off
  std::int64_t proxy_timeout_ms = 0;
  std::int64_t proxy_idle_timeout_ms = 0;
  std::uint64_t proxy_max_body_bytes = 0;
  std::string proxy_openai_key_env;
  std::string proxy_anthropic_key_env;
  // [tier.redis]
  std::string redis_url; // empty: no shared tier
  std::string redis_prefix;
  std::int64_t redis_connect_timeout_ms = 0;
  std::int64_t redis_timeout_ms = 0;
  std::uint64_t redis_queue = 0;
  std::uint64_t redis_log_length = 0;
  // [prices], [rules] and [proxy.tokens]: tables keyed by model, by event and
  // by token; file only.
  std::map<std::string, Price, std::less<>> prices;
  std::map<std::string, Rule, std::less<>> rules;
  std::map<std::string, std::string, std::less<>> proxy_tokens; // token -> tenant

  // The default TTL of a layer; 0 means no expiry.
  std::int64_t default_ttl_ms(std::string_view layer) const;
};

enum class Kind { string, path, choice, size, count, duration, fraction };

struct SettingSpec
{
  std::string_view key;      // "section.name", as written in the file
  std::string_view env;      // environment variable, or empty
  std::string_view fallback; // default as text; empty for a computed default
  Kind kind;
  bool live;                 // SIGHUP applies it without a restart
  std::variant<std::string Settings::*, std::uint64_t Settings::*, std::int64_t Settings::*, double Settings::*> field;
  std::string_view help;
  std::span<const std::string_view> choices = {};
  std::uint64_t min = 0;
  std::uint64_t max = UINT64_MAX;
};

std::span<const SettingSpec> setting_specs();
const SettingSpec* find_setting(std::string_view key);

// A bad file, value or key; the message names the file and line, the
// environment variable or the flag, and the key. An Error with the code
// `config`; the type stays so that each program's edge (omnicache,
// omnicached, the bench) can catch a bad configuration by itself and exit
// with its usage status, apart from any other failure while starting.
class ConfigError : public Error
{
public:
  explicit ConfigError(const std::string& message)
    : Error(ErrorCode::config, message)
  {
  }
};

struct FlagValue
{
  std::string key;   // setting key, e.g. "daemon.socket"
  std::string value;
  std::string where; // the flag as the user wrote it, for messages: "--socket"
};

// Reads a setting's text into its field of `settings`. The Error (code
// config) names the key and what was expected, not where the text came
// from, which the caller adds.
Expected<Ok> apply_setting(const SettingSpec& spec, Settings& settings, std::string_view text,
                           const std::string& base_dir, const GetEnv& env);

struct ConfigSources
{
  std::string config_file; // from --config; empty: $OMNICACHE_CONFIG or the default path
  std::vector<FlagValue> flags;
  GetEnv env = process_environment();
};

class Config
{
public:
  // Throws ConfigError.
  static Config load(const ConfigSources& sources);

  const Settings& settings() const { return m_settings; }
  const std::string& file() const { return m_file; }
  bool file_exists() const { return m_file_exists; }

  struct Shown
  {
    std::string key;
    std::string value;
    Origin origin;
    std::string where; // "config.toml:12", "OMNICACHE_MAX_BYTES", "--socket" ...
  };
  std::vector<Shown> show() const;

  // Keys whose values differ between two configurations.
  std::vector<std::string> changed_keys(const Config& other) const;

  // A copy in which each setting that needs a restart keeps its value and
  // origin in `running`: what a daemon running `running` has in force after
  // reloading this one.
  Config keeping_restart_settings(const Config& running) const;

private:
  void check_embedder() const; // throws ConfigError

  Settings m_settings;
  std::string m_file;
  bool m_file_exists = false;
  std::vector<std::pair<Origin, std::string>> m_origins; // by setting index
};

// An annotated config file with every key at its default, commented out.
std::string config_template();

// The text form of a setting's current value, as `config show` prints it.
std::string setting_text(const SettingSpec& spec, const Settings& settings);

} // namespace omnicache::protocol
