#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/commands/running_daemon.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/config_manual.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <memory>
#include <set>
#include <vector>

namespace omnicache::cli {

namespace {

using protocol::Json;

// One setting as the running daemon has it, beside what this command reads.
struct DaemonSetting
{
  std::string key;
  Json daemon; // {value, origin, where, live}, or null when the daemon lacks it
  std::optional<protocol::Config::Shown> here;
  bool differs = false;
  bool needs_restart = false; // a reload would not bring the daemon to this command's value
};

// In the order of the setting table, then what only the daemon has. Without
// `here` (a configuration the command cannot read), nothing is compared.
std::vector<DaemonSetting>
compare_daemon_settings(const Json& daemon_settings, const std::string& daemon_file, const protocol::Config* here)
{
  std::vector<DaemonSetting> out;
  std::set<std::string> seen;
  const bool same_file = here != nullptr && daemon_file == here->file();
  for (const auto& shown : here != nullptr ? here->show() : std::vector<protocol::Config::Shown>()) {
    DaemonSetting setting{shown.key, daemon_settings.value(shown.key, Json(nullptr)), shown};
    seen.insert(shown.key);
    out.push_back(std::move(setting));
  }
  for (const auto& [key, daemon] : daemon_settings.items()) {
    if (!seen.contains(key)) {
      out.push_back({key, daemon, std::nullopt});
    }
  }
  if (here == nullptr) {
    return out;
  }
  for (auto& setting : out) {
    // A flag of this command (--socket, --tenant) is not something to reload.
    if (setting.here && setting.here->origin == protocol::Origin::flag) {
      continue;
    }
    const auto daemon_value = setting.daemon.is_null() ? "" : setting.daemon.value("value", "");
    const auto here_value = setting.here ? setting.here->value : "";
    setting.differs = setting.daemon.is_null() || !setting.here || daemon_value != here_value;
    if (setting.differs) {
      const auto from_file_or_default = [](std::string_view origin) { return origin == "file" || origin == "default"; };
      const bool live = setting.daemon.is_null() || setting.daemon.value("live", true);
      setting.needs_restart = !live || !same_file
                              || (setting.here && !from_file_or_default(protocol::origin_name(setting.here->origin)))
                              || (!setting.daemon.is_null() && !from_file_or_default(setting.daemon.value("origin", "")));
    }
  }
  return out;
}

void
print_daemon_json(const protocol::ops::ConfigReply& reply, std::int64_t pid, const RunningDaemon& daemon, Globals& globals,
                  const std::vector<DaemonSetting>& settings)
{
  Json shown = Json::object();
  Json differs = Json::array();
  for (const auto& setting : settings) {
    Json entry = setting.daemon.is_null() ? Json{{"value", nullptr}, {"origin", nullptr}, {"where", nullptr}}
                                          : setting.daemon;
    entry["differs"] = setting.differs;
    entry["here"] = setting.here ? Json(setting.here->value) : Json(nullptr);
    if (setting.differs) {
      entry["needs_restart"] = setting.needs_restart;
      differs.push_back(setting.key);
    }
    shown[setting.key] = std::move(entry);
  }
  output::print_json({{"pid", pid},
                      {"file", reply.file},
                      {"file_exists", reply.file_exists},
                      {"environment", reply.environment},
                      {"here_file", daemon.config_error.empty() ? Json(globals.config().file()) : Json(nullptr)},
                      {"here_error", daemon.config_error.empty() ? Json(nullptr) : Json(daemon.config_error)},
                      {"settings", std::move(shown)},
                      {"differs", std::move(differs)}});
}

void
print_daemon_text(const protocol::ops::ConfigReply& reply, std::int64_t pid, const RunningDaemon& daemon,
                  Globals& globals, const std::vector<DaemonSetting>& settings)
{
  const auto& file = reply.file;
  const auto& environment = reply.environment;
  output::print_line(fmt::format("# omnicached (pid {}) config file: {}{}", pid, file,
                                 reply.file_exists ? "" : " (absent)"));
  output::print_line(fmt::format("# its environment: {}",
                                 environment.empty() ? "no OMNICACHE_* variables" : fmt::format("{}", fmt::join(environment, " "))));
  std::vector<std::string> reloadable;
  std::vector<std::string> restart;
  for (const auto& setting : settings) {
    const std::string origin = setting.daemon.is_null() ? "-" : setting.daemon.value("origin", "");
    const std::string value = setting.daemon.is_null() ? "(unset)" : setting.daemon.value("value", "");
    output::print_line(fmt::format("{} ({}) {} = {}", setting.differs ? "*" : " ", origin, setting.key, value));
    if (setting.differs) {
      (setting.needs_restart ? restart : reloadable).push_back(setting.key);
    }
  }
  if (!daemon.config_error.empty()) {
    output::print_line(fmt::format("# nothing marked: this command cannot read its configuration: {}",
                                   daemon.config_error));
    return;
  }
  if (reloadable.empty() && restart.empty()) {
    return;
  }
  const auto& here = globals.config();
  const auto differs_from = file == here.file() ? here.file() : fmt::format("{} (this command's file)", here.file());
  if (restart.empty()) {
    output::print_line(fmt::format("* differs from {}: run `omnicache daemon reload`", differs_from));
    return;
  }
  output::print_line(fmt::format("* differs from {} or this command's environment: run `omnicache daemon restart` "
                                 "({} {} a restart)",
                                 differs_from, fmt::join(restart, ", "), restart.size() == 1 ? "needs" : "need"));
}

// `config show --daemon`: what the running daemon has in force.
void
show_daemon_config(Globals& globals)
{
  auto daemon = find_running_daemon(globals);
  if (!daemon.client) {
    throw CliError(k_exit_miss, fmt::format("omnicached is not running on {}; `omnicache config show` prints "
                                            "what it would start with",
                                            daemon.socket));
  }
  const auto reply = daemon.client->call<protocol::ops::Config>({});
  const auto pid = daemon.client->server().value("pid", std::int64_t{0});
  const auto settings = compare_daemon_settings(reply.settings, reply.file,
                                                daemon.config_error.empty() ? &globals.config() : nullptr);
  if (globals.json) {
    print_daemon_json(reply, pid, daemon, globals, settings);
  } else {
    print_daemon_text(reply, pid, daemon, globals, settings);
  }
}

} // namespace

void
add_config(CLI::App& app, Globals& globals)
{
  auto* command = app.add_subcommand("config", "Configuration");
  command->require_subcommand(1);
  auto* show = command->add_subcommand("show", "Print the effective configuration, each value with its origin");
  show->footer("Origins, highest first: flag, env (OMNICACHE_*), file, default.\n"
               "--daemon prints the running daemon's values instead, and marks with * those that differ from\n"
               "what this command reads now (a file edited since the daemon started, or another environment).\n"
               "Example: omnicache config show --daemon | grep '^\\*'");
  auto daemon = std::make_shared<bool>(false);
  show->add_flag("--daemon", *daemon,
                 "The running daemon's values and origins, * marking those that differ from this command's "
                 "(exit 1 when no daemon runs)");
  show->callback([&globals, daemon] {
    if (*daemon) {
      show_daemon_config(globals);
      return;
    }
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
