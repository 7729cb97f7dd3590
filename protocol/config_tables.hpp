#pragma once

#include "protocol/config.hpp"

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

// The config file's free-form sections, [prices.MODEL], [rules.EVENT] and
// [proxy.tokens], whose keys are names the user chooses rather than settings
// of the table.
namespace omnicache::protocol::config_tables {

bool is_table_section(std::string_view section);

// Reads one such section into `settings`; throws ConfigError naming
// file:line and the key for anything unknown or malformed.
void load(std::string_view section, const toml::table& table, const std::string& file, Settings& settings);

// "prices.gpt-4o.input = 2.5", "rules.model_updated.tags = model:{model}",
// "proxy.tokens.team-a = ********" (a token is never shown) ...
std::vector<std::pair<std::string, std::string>> show(const Settings& settings);

// Commented examples for the config template.
std::string template_text();

} // namespace omnicache::protocol::config_tables
