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

} // namespace

Expected<Ok>
apply_setting(const SettingSpec& spec, Settings& settings, std::string_view text, const std::string& base_dir,
              const GetEnv& env)
{
  auto fail = [&](std::string_view expected) {
    return Error(ErrorCode::config, fmt::format("invalid value '{}' for {} (expected {})", text, spec.key, expected));
  };
  switch (spec.kind) {
  case Kind::string:
    if (text.empty() && !spec.fallback.empty()) { // no default: empty means unset
      return fail("a non-empty string");
    }
    if (spec.key == "proxy.listen" && !text.empty() && !is_host_port(text)) {
      return fail("HOST:PORT such as 127.0.0.1:8411, localhost:8411 or [::1]:8411, port 0 to 65535, or empty for "
                  "no proxy");
    }
    if ((spec.key == "proxy.upstream" || spec.key == "proxy.anthropic_upstream") && !is_http_url(text)) {
      return fail("a URL starting with http:// or https:// and naming a host, such as https://api.openai.com");
    }
    if (spec.key == "tier.redis.url" && !text.empty()) {
      if (const auto url = parse_redis_url(text); !url) {
        return Error(ErrorCode::config, fmt::format("invalid value '{}' for {}: {} (expected redis://HOST[:PORT][/DB], "
                                                    "rediss://... or unix:///PATH)",
                                                    mask_redis_url(text), spec.key, url.error().what()));
      }
    }
    settings.*std::get<std::string Settings::*>(spec.field) = std::string(text);
    return Ok();
  case Kind::path:
    settings.*std::get<std::string Settings::*>(spec.field) = text.empty() ? std::string()
                                                                           : expand_path(text, base_dir, env);
    return Ok();
  case Kind::choice: {
    if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
      std::string names;
      for (auto c : spec.choices) {
        names += names.empty() ? "" : ", ";
        names += c;
      }
      return fail(fmt::format("one of {}", names));
    }
    settings.*std::get<std::string Settings::*>(spec.field) = std::string(text);
    return Ok();
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
      return fail(what);
    }
    if (*value < spec.min || *value > spec.max) {
      return fail(fmt::format("{} from {} to {}", what, spec.min, spec.max));
    }
    settings.*std::get<std::uint64_t Settings::*>(spec.field) = *value;
    return Ok();
  }
  case Kind::fraction: {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
      return fail("a number from 0 to 1, such as 0.92");
    }
    settings.*std::get<double Settings::*>(spec.field) = value;
    return Ok();
  }
  case Kind::duration: {
    const auto ms = parse_duration_ms(text);
    if (!ms) {
      return fail("a duration such as 30s, 10m, 2h, 7d, or never");
    }
    if (static_cast<std::uint64_t>(*ms) < spec.min || static_cast<std::uint64_t>(*ms) > spec.max) {
      return fail(fmt::format("a duration from {} to {}", format_duration_ms(static_cast<std::int64_t>(spec.min)),
                              format_duration_ms(static_cast<std::int64_t>(spec.max))));
    }
    settings.*std::get<std::int64_t Settings::*>(spec.field) = *ms;
    return Ok();
  }
  }
  return Ok();
}

namespace {

// A default that does not parse is a mistake in the setting table.
void
apply_default(const SettingSpec& spec, Settings& settings, const std::string& base_dir, const GetEnv& env)
{
  if (const auto applied = apply_setting(spec, settings, spec.fallback, base_dir, env); !applied) {
    throw ConfigError(applied.error().what());
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

Config
Config::load(const ConfigSources& sources)
{
  Config config;
  config.m_origins.assign(setting_specs().size(), {Origin::default_value, ""});
  const std::string cwd = current_directory();
  auto index_of = [](const SettingSpec& spec) { return static_cast<std::size_t>(&spec - setting_specs().data()); };

  for (const auto& spec : setting_specs()) {
    apply_default(spec, config.m_settings, cwd, sources.env);
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
        if (const auto applied = apply_setting(*spec, config.m_settings, *value, base_dir, sources.env); !applied) {
          throw ConfigError(fmt::format("{}: {}", where, applied.error().what()));
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
  for (const auto& spec : setting_specs()) {
    if (spec.env.empty()) {
      continue;
    }
    const auto value = sources.env(std::string(spec.env).c_str());
    if (!value) {
      continue;
    }
    if (const auto applied = apply_setting(spec, config.m_settings, *value, cwd, sources.env); !applied) {
      throw ConfigError(fmt::format("environment variable {}: {}", spec.env, applied.error().what()));
    }
    config.m_origins[index_of(spec)] = {Origin::env, std::string(spec.env)};
  }

  // 1. Flags.
  for (const auto& flag : sources.flags) {
    const SettingSpec* spec = find_setting(flag.key);
    if (spec == nullptr) {
      throw ConfigError(fmt::format("{}: unknown key '{}'", flag.where, flag.key));
    }
    if (const auto applied = apply_setting(*spec, config.m_settings, flag.value, cwd, sources.env); !applied) {
      throw ConfigError(fmt::format("{}: {}", flag.where, applied.error().what()));
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
    const auto& origin = m_origins[static_cast<std::size_t>(find_setting(key) - setting_specs().data())];
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
  for (const auto& spec : setting_specs()) {
    apply_default(spec, defaults, "/", no_env);
  }
  for (const auto& spec : setting_specs()) {
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
  out.reserve(setting_specs().size());
  for (std::size_t i = 0; i < setting_specs().size(); ++i) {
    auto value = setting_text(setting_specs()[i], m_settings);
    if (setting_specs()[i].key == "tier.redis.url") {
      value = mask_redis_url(value);
    }
    out.push_back({std::string(setting_specs()[i].key), std::move(value), m_origins[i].first, m_origins[i].second});
  }
  for (auto& [key, value] : config_tables::show(m_settings)) {
    out.push_back({std::move(key), std::move(value), Origin::file, m_file});
  }
  return out;
}

Config
Config::keeping_restart_settings(const Config& running) const
{
  Config out = *this;
  for (std::size_t i = 0; i < setting_specs().size(); ++i) {
    const auto& spec = setting_specs()[i];
    if (!spec.live) {
      std::visit([&](auto field) { out.m_settings.*field = running.m_settings.*field; }, spec.field);
      out.m_origins[i] = running.m_origins[i];
    }
  }
  return out;
}

std::vector<std::string>
Config::changed_keys(const Config& other) const
{
  std::vector<std::string> out;
  for (const auto& spec : setting_specs()) {
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
