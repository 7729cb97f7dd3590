#include "cli/cli_main.hpp"

#include "cli/commands/command.hpp"
#include "cli/commands/help.hpp"
#include "cli/exit_codes.hpp"
#include "omnicache_version.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <string>

namespace omnicache::cli {

namespace {

constexpr const char* k_main_footer = R"(Examples:
  omnicache set greeting "hello" --ttl 10m --tag demo --tag env:dev
  echo '{"answer":42}' | omnicache set result:1 --tag demo
  omnicache get greeting                    # prints the value; exit 1 on a miss
  value=$(omnicache get result:1) || echo "not cached"
  omnicache keys 'result:*'
  omnicache invalidate demo env:dev         # prints how many entries went
  omnicache stats --json | jq .totals.hit_rate
  omnicache help run                        # the same as omnicache run --help

The daemon (omnicached) starts by itself on first use.

Exit codes:
  0  success, or a hit
  1  a miss, or the key/daemon asked about does not exist
  2  bad usage or invalid input (including input the daemon refuses)
  3  no daemon answered, even after trying to start one
  4  the daemon reported an error
  5  omnicache doctor found a problem with the database

Environment: OMNICACHE_TENANT, OMNICACHE_SOCKET, OMNICACHE_CONFIG and every other
OMNICACHE_* setting (omnicache config show lists them with their origins).)";

void
define_globals(CLI::App& app, Globals& globals)
{
  app.add_option("-s,--socket", globals.socket, "Daemon socket (daemon.socket)")->type_name("PATH");
  app.add_option("-c,--config", globals.config_file, "Config file (default $XDG_CONFIG_HOME/omnicache/config.toml)")
    ->type_name("FILE");
  app.add_option("-T,--tenant", globals.tenant, "Tenant to work in (env OMNICACHE_TENANT; default \"default\")")
    ->type_name("NAME");
  app.add_flag("-j,--json", globals.json, "Machine-readable output with stable snake_case keys");
  app.add_flag("-q,--quiet", globals.quiet, "Print only values and errors");
  app.add_flag("-v,--verbose", globals.verbose, "Say more on stderr");
  app.set_version_flag("-V,--version", fmt::format("omnicache {}", k_version));
}

} // namespace

int
cli_main(int argc, char** argv)
{
  CLI::App app("omnicache: a local cache for AI and LLM pipelines", "omnicache");
  Globals globals;
  define_globals(app, globals);
  // Set before the commands are added, which inherit it: global options may
  // follow the command, as in "omnicache get k --json".
  app.fallthrough();
  for (const auto& command : command_table()) {
    command.add(app, globals);
  }
  app.require_subcommand(1);
  app.footer(k_main_footer); // after the commands, which would inherit it too
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (const auto message = mistyped_command(app, argc, argv)) {
      fmt::print(stderr, "omnicache: {}\n", *message);
      return k_exit_usage;
    }
    fmt::print(stderr, "omnicache: {}\nRun 'omnicache --help' (or 'omnicache COMMAND --help') for usage.\n", e.what());
    return k_exit_usage;
  } catch (const CliError& e) {
    std::fflush(stdout);
    fmt::print(stderr, "omnicache: {}\n", e.what());
    return e.exit_code();
  }
  std::fflush(stdout);
  return globals.exit_code;
}

} // namespace omnicache::cli
