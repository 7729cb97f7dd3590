#include "cli/commands/command.hpp"
#include "cli/output.hpp"
#include "protocol/config_manual.hpp"

#include <fmt/core.h>

#include <memory>

namespace omnicache::cli {

void
add_config(CLI::App& app, Globals& globals)
{
  auto* command = app.add_subcommand("config", "Configuration");
  command->require_subcommand(1);
  auto* show = command->add_subcommand("show", "Print the effective configuration, each value with its origin");
  show->footer("Origins, highest first: flag, env (OMNICACHE_*), file, default.");
  show->callback([&globals] {
    const auto& config = globals.config();
    if (globals.json) {
      protocol::Json settings = protocol::Json::object();
      for (const auto& shown : config.show()) {
        settings[shown.key] = {{"value", shown.value},
                               {"origin", std::string(protocol::origin_name(shown.origin))},
                               {"where", shown.where.empty() ? protocol::Json(nullptr) : protocol::Json(shown.where)}};
      }
      output::print_json({{"file", config.file()}, {"file_exists", config.file_exists()}, {"settings", settings}});
      return;
    }
    output::print_line(fmt::format("# config file: {}{}", config.file(), config.file_exists() ? "" : " (absent)"));
    for (const auto& shown : config.show()) {
      output::print_line(fmt::format("({}) {} = {}", protocol::origin_name(shown.origin), shown.key, shown.value));
    }
  });
  auto* make_template = command->add_subcommand(
    "template", "Print an annotated config file with every key at its default, to start your own from");
  make_template->footer("Example: omnicache config template > ~/.config/omnicache/config.toml");
  // scdoc: the KEYS section of omnicache.toml(5), which the build makes from this table. Hidden: only the
  // build asks for it.
  auto format = std::make_shared<std::string>("toml");
  make_template->add_option("--format", *format, "toml (default) or scdoc")
    ->check(CLI::IsMember({"toml", "scdoc"}))
    ->group("");
  make_template->callback([format] {
    fmt::print("{}", *format == "scdoc" ? protocol::config_manual() : protocol::config_template());
  });
}

} // namespace omnicache::cli
