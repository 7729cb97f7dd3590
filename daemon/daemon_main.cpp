#include "daemon/daemon_main.hpp"

#include "daemon/lifetime.hpp"
#include "daemon/log.hpp"
#include "daemon/proxy/server.hpp"
#include "daemon/server.hpp"
#include "daemon/systemd.hpp"
#include "omnicache_version.hpp"
#include "protocol/config.hpp"
#include "store/sqlite.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace omnicache::daemon {

namespace {

constexpr int k_exit_failure = 1;
constexpr int k_exit_usage = 2;

struct Options
{
  bool foreground = false;
  bool check_config = false;
  std::string config_file;
  std::optional<std::string> socket;
  std::optional<std::string> database;
  std::optional<std::string> log_level;
  std::vector<std::string> settings; // KEY=VALUE
};

void
define(CLI::App& app, Options& options)
{
  app.description("omnicached: the omnicache daemon. Keeps cache entries in SQLite and serves the omnicache\n"
                  "command and other clients on a Unix socket. The omnicache command starts it on demand;\n"
                  "run it yourself with --foreground under a supervisor such as systemd.");
  app.add_flag("-f,--foreground", options.foreground, "Stay attached and log to stderr (for supervisors and tests)");
  app.add_option("-c,--config", options.config_file, "Config file (default $XDG_CONFIG_HOME/omnicache/config.toml)");
  app.add_option("-s,--socket", options.socket, "Socket to listen on (daemon.socket)");
  app.add_option("-d,--database", options.database, "Database file (daemon.database)");
  app.add_option("-l,--log-level", options.log_level, "error, warn, info or debug (daemon.log_level)");
  app.add_option("-o,--option", options.settings, "Set any config key, e.g. -o store.max_entries=100000")
    ->type_name("KEY=VALUE");
  app.add_flag("--check-config", options.check_config, "Check the configuration, print it, and exit");
  app.set_version_flag("-V,--version", fmt::format("omnicached {}", k_version));
  app.footer("Exit codes: 0 stopped cleanly, 1 could not start or failed (a database it cannot use among them:\n"
             "the message names the file; `omnicache doctor` checks it), 2 bad flags or configuration,\n"
             "75 a background start found another daemon holding the lock (the command waits and retries).\n"
             "Signals: SIGTERM/SIGINT finish requests in flight and stop; SIGHUP reloads the configuration.\n"
             "systemd: it serves a listening socket passed by socket activation (LISTEN_FDS, omnicached.socket)\n"
             "instead of daemon.socket, exits after daemon.idle_timeout to be started again by the next\n"
             "connection, and reports readiness, reloads and stopping through NOTIFY_SOCKET (Type=notify).");
}

protocol::ConfigSources
sources_of(const Options& options)
{
  protocol::ConfigSources sources;
  sources.config_file = options.config_file;
  if (options.socket) {
    sources.flags.push_back({"daemon.socket", *options.socket, "--socket"});
  }
  if (options.database) {
    sources.flags.push_back({"daemon.database", *options.database, "--database"});
  }
  if (options.log_level) {
    sources.flags.push_back({"daemon.log_level", *options.log_level, "--log-level"});
  }
  for (const auto& setting : options.settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos) {
      throw protocol::ConfigError(fmt::format("-o {}: expected KEY=VALUE", setting));
    }
    sources.flags.push_back({setting.substr(0, eq), setting.substr(eq + 1), "-o " + setting.substr(0, eq)});
  }
  return sources;
}

// `text` as one word for a POSIX shell.
std::string
shell_word(const std::string& text)
{
  const auto plain = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || std::string_view("/._-+:,@%").find(c) != std::string_view::npos;
  };
  if (!text.empty() && std::ranges::all_of(text, plain)) {
    return text;
  }
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

// What to do about a database file the daemon cannot use. The command finds
// the same file through the same environment, but not through our flags.
std::string
advice(const store::sqlite::UnusableDatabase& e, const Options& options)
{
  std::string doctor = "omnicache doctor";
  const auto sets_database = [](const std::string& setting) { return setting.starts_with("daemon.database="); };
  const bool flag = options.database || std::ranges::any_of(options.settings, sets_database);
  if (flag) {
    doctor += " --database " + shell_word(e.path());
  } else if (!options.config_file.empty()) {
    doctor += " --config " + shell_word(options.config_file);
  }
  if (e.reason() == store::sqlite::UnusableDatabase::Reason::newer_schema) {
    return fmt::format("use a newer omnicached, or run `{} --move-aside` to keep it aside and start with an empty "
                       "database",
                       doctor);
  }
  return fmt::format("run `{}` to check it, `{} --move-aside` to keep it aside and start with an empty database",
                     doctor, doctor);
}

} // namespace

int
daemon_main(int argc, char** argv)
{
  CLI::App app;
  Options options;
  define(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : k_exit_usage;
  }

  protocol::ConfigSources sources;
  std::optional<protocol::Config> config;
  try {
    sources = sources_of(options);
    config = protocol::Config::load(sources);
  } catch (const protocol::ConfigError& e) {
    fmt::print(stderr, "omnicached: {}\n", e.what());
    return k_exit_usage;
  }
  if (options.check_config) {
    for (const auto& shown : config->show()) {
      fmt::print("({}) {} = {}\n", protocol::origin_name(shown.origin), shown.key, shown.value);
    }
    return 0;
  }
  const auto& settings = config->settings();
  log::set_level(log::parse_level(settings.log_level));

  Detached detached;
  try {
    // Before anything else: detaching would close the socket and change our pid.
    const int listen_fd = systemd::take_listening_socket();
    auto notifier = systemd::Notifier::from_environment();
    // Whoever passed the socket supervises the process it started.
    const bool foreground = options.foreground || listen_fd >= 0;
    if (!foreground) {
      prepare_database_directory(settings.log_file);
      detached = Detached::detach(settings.log_file);
    }
    // The core starts the proxy without linking it: it is handed over here.
    auto make_proxy = [](Shared& shared, const std::vector<std::unique_ptr<Worker>>& workers,
                         const protocol::Settings& s) -> std::unique_ptr<Front> {
      auto proxy = std::make_unique<proxy::ProxyServer>(shared, workers, s);
      proxy->listen(s.proxy_listen);
      return proxy;
    };
    Server server(std::move(sources), std::move(*config), foreground, listen_fd, std::move(notifier), make_proxy);
    server.open();
    detached.ready();
    server.run();
  } catch (const store::sqlite::UnusableDatabase& e) {
    const std::string message = fmt::format("{}\n  {}", e.what(), advice(e, options));
    log::error("{}", message);
    detached.fail(message);
    return k_exit_failure;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    detached.fail(e.what());
    if (options.foreground) {
      // The log line above went to stderr already.
    }
    return k_exit_failure;
  }
  return 0;
}

} // namespace omnicache::daemon
