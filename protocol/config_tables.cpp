#include "protocol/config_tables.hpp"

#include "protocol/layers.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace omnicache::protocol::config_tables {

namespace {

std::string
where(const std::string& file, const toml::node& node)
{
  return fmt::format("{}:{}", file, node.source().begin.line);
}

double
price_of(const toml::node& node, const std::string& file, const std::string& key)
{
  std::optional<double> value;
  if (const auto* number = node.as_floating_point()) {
    value = number->get();
  } else if (const auto* integer = node.as_integer()) {
    value = static_cast<double>(integer->get());
  }
  if (!value || *value < 0) {
    throw ConfigError(fmt::format("{}: {} must be a number of US dollars per million tokens, 0 or more",
                                  where(file, node), key));
  }
  return *value;
}

std::vector<std::string>
strings_of(const toml::node& node, const std::string& file, const std::string& key)
{
  std::vector<std::string> out;
  if (const auto* text = node.as_string()) {
    out.push_back(text->get());
    return out;
  }
  const auto* array = node.as_array();
  if (array != nullptr) {
    for (const auto& item : *array) {
      if (const auto* text = item.as_string(); text != nullptr && !text->get().empty()) {
        out.push_back(text->get());
        continue;
      }
      array = nullptr;
      break;
    }
  }
  if (array == nullptr) {
    throw ConfigError(fmt::format("{}: {} must be a string or an array of non-empty strings", where(file, node), key));
  }
  return out;
}

void
load_price(const std::string& model, const toml::table& table, const std::string& file, Settings& settings)
{
  Price price;
  for (const auto& [name, node] : table) {
    const std::string key = fmt::format("prices.{}.{}", model, name.str());
    if (name.str() == "input") {
      price.input = price_of(node, file, key);
    } else if (name.str() == "output") {
      price.output = price_of(node, file, key);
    } else if (name.str() == "cached_input") {
      price.cached_input = price_of(node, file, key);
    } else {
      throw ConfigError(fmt::format("{}: unknown key '{}' (a price has input, output and cached_input)",
                                    where(file, node), key));
    }
  }
  settings.prices[model] = price;
}

void
load_rule(const std::string& event, const toml::table& table, const std::string& file, Settings& settings)
{
  Rule rule;
  for (const auto& [name, node] : table) {
    const std::string key = fmt::format("rules.{}.{}", event, name.str());
    if (name.str() == "tags") {
      rule.tags = strings_of(node, file, key);
    } else if (name.str() == "patterns") {
      rule.patterns = strings_of(node, file, key);
    } else if (name.str() == "deps") {
      rule.deps = strings_of(node, file, key);
    } else if (name.str() == "layers") {
      rule.layers = strings_of(node, file, key);
      for (const auto& layer : rule.layers) {
        if (!is_layer(layer)) {
          throw ConfigError(fmt::format("{}: {}: unknown layer '{}'", where(file, node), key, layer));
        }
      }
    } else {
      throw ConfigError(fmt::format("{}: unknown key '{}' (a rule has tags, patterns, layers and deps)",
                                    where(file, node), key));
    }
  }
  if (rule.tags.empty() && rule.patterns.empty() && rule.layers.empty() && rule.deps.empty()) {
    throw ConfigError(fmt::format("{}: rules.{} has no targets (tags, patterns, layers or deps)",
                                  where(file, table), event));
  }
  settings.rules[event] = std::move(rule);
}

// TENANT = "TOKEN": kept from token to tenant, the way requests look it up.
void
load_tokens(const toml::table& table, const std::string& file, Settings& settings)
{
  for (const auto& [name, node] : table) {
    const std::string key = fmt::format("proxy.tokens.{}", name.str());
    const auto* token = node.as_string();
    if (token == nullptr || token->get().empty()) {
      throw ConfigError(fmt::format("{}: {} must be a non-empty string: the token clients of tenant {} send as "
                                    "Authorization: Bearer TOKEN or x-api-key: TOKEN",
                                    where(file, node), key, name.str()));
    }
    if (name.str().empty()) {
      throw ConfigError(fmt::format("{}: {}: the tenant name is empty", where(file, node), key));
    }
    const auto [it, added] = settings.proxy_tokens.emplace(token->get(), std::string(name.str()));
    if (!added) {
      throw ConfigError(fmt::format("{}: {}: the same token is already given to tenant {}; each token names one "
                                    "tenant",
                                    where(file, node), key, it->second));
    }
  }
}

std::string
joined(const std::vector<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : ", ";
    out += item;
  }
  return out;
}

} // namespace

bool
is_table_section(std::string_view section)
{
  return section == "prices" || section == "rules" || section == "proxy.tokens";
}

void
load(std::string_view section, const toml::table& table, const std::string& file, Settings& settings)
{
  if (section == "proxy.tokens") {
    load_tokens(table, file, settings);
    return;
  }
  for (const auto& [name, node] : table) {
    const auto* entry = node.as_table();
    const std::string key = fmt::format("{}.{}", section, name.str());
    if (entry == nullptr) {
      throw ConfigError(fmt::format("{}: {} must be a table, e.g. [{}]", where(file, node), key, key));
    }
    if (section == "prices") {
      load_price(std::string(name.str()), *entry, file, settings);
    } else {
      load_rule(std::string(name.str()), *entry, file, settings);
    }
  }
}

std::vector<std::pair<std::string, std::string>>
show(const Settings& settings)
{
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [model, price] : settings.prices) {
    out.emplace_back(fmt::format("prices.{}.input", model), fmt::format("{}", price.input));
    out.emplace_back(fmt::format("prices.{}.output", model), fmt::format("{}", price.output));
    if (price.cached_input) {
      out.emplace_back(fmt::format("prices.{}.cached_input", model), fmt::format("{}", *price.cached_input));
    }
  }
  for (const auto& [event, rule] : settings.rules) {
    const std::pair<const char*, const std::vector<std::string>*> parts[] = {
      {"tags", &rule.tags}, {"patterns", &rule.patterns}, {"layers", &rule.layers}, {"deps", &rule.deps}};
    for (const auto& [name, items] : parts) {
      if (!items->empty()) {
        out.emplace_back(fmt::format("rules.{}.{}", event, name), joined(*items));
      }
    }
  }
  // The tokens are secrets: only which tenants have one is shown.
  std::vector<std::string> tenants;
  for (const auto& [token, tenant] : settings.proxy_tokens) {
    tenants.push_back(tenant);
  }
  std::sort(tenants.begin(), tenants.end());
  for (const auto& tenant : tenants) {
    out.emplace_back(fmt::format("proxy.tokens.{}", tenant), "********");
  }
  return out;
}

std::string
template_text()
{
  return R"(
# Prices turn cache hits into money saved (omnicache stats shows it per
# model): US dollars per million input (prompt) and output (completion)
# tokens. One table per model, named as requests name it. cached_input, when
# given, is what the provider charges for input tokens served from its own
# prompt cache: stats then shows what that caching saved.
#   [prices."gpt-4o"]
#   input = 2.50
#   output = 10.00
#   cached_input = 1.25

# Events: `omnicache event NAME key=value...` removes every entry matching any
# target of [rules.NAME]. {key} placeholders take the event's values.
#   [rules.model_updated]
#   tags = ["model:{model}"]
#   [rules.document_changed]
#   deps = ["doc:{doc}"]
#   patterns = ["summary:{doc}:*"]
#   layers = ["retrieval"]

# Proxy tokens: with this table, every proxy request must carry one of these
# tokens (Authorization: Bearer TOKEN or x-api-key: TOKEN) and is cached in
# the tenant it names; the proxy then sends the upstream the keys named by
# proxy.openai_key_env and proxy.anthropic_key_env. TENANT = "TOKEN".
#   [proxy.tokens]
#   team-a = "a-long-random-token"
#   team-b = "another-long-random-token"
)";
}

} // namespace omnicache::protocol::config_tables
