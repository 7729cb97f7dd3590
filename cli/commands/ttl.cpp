// The expiry of one entry, as redis-cli has it: ttl, expire, persist; and
// touch, which marks entries as used without reading them.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

namespace {

using protocol::Json;

// As redis TTL: -1 for an entry that never expires, -2 for a missing key.
constexpr std::int64_t k_ttl_never = -1;
constexpr std::int64_t k_ttl_missing = -2;

void
print_not_found(const Globals& globals, const std::string& key)
{
  if (!globals.quiet) {
    std::fflush(stdout);
    fmt::print(stderr, "not found: {}\n", output::printable_key(key));
  }
}

int
run_ttl(Globals& globals, const std::string& key, bool in_ms)
{
  auto client = Client::connect(globals);
  protocol::ops::InspectRequest request;
  request.key = key;
  const auto reply = client.call<protocol::ops::Inspect>(request);
  const bool found = reply.found;
  Json ttl_ms = nullptr;
  std::int64_t shown = k_ttl_missing;
  if (found) {
    ttl_ms = reply.entry.value_or(Json::object()).value("ttl_ms", Json(nullptr));
    // Rounded to the nearest second, as redis does; an entry this close to
    // expiring still shows 0, not -1.
    shown = !ttl_ms.is_number() ? k_ttl_never
            : in_ms             ? ttl_ms.get<std::int64_t>()
                                : (ttl_ms.get<std::int64_t>() + 500) / 1000;
  }
  if (globals.json) {
    output::print_json({{"key", key}, {"found", found}, {"ttl_ms", ttl_ms}});
  } else {
    output::print_line(std::to_string(shown));
  }
  return found ? k_exit_ok : k_exit_miss;
}

// expire with ttl_ms 0 is persist.
int
run_expire(Globals& globals, const std::string& key, std::int64_t ttl_ms)
{
  auto client = Client::connect(globals);
  protocol::ops::ExpireRequest request;
  request.key = key;
  request.ttl_ms = ttl_ms;
  const auto reply = client.call<protocol::ops::Expire>(request);
  const bool found = reply.found;
  if (globals.json) {
    const auto applied = reply.ttl_ms.value_or(std::nullopt);
    output::print_json({{"key", key}, {"found", found}, {"ttl_ms", found && applied ? Json(*applied) : Json(nullptr)}});
  } else if (!found) {
    print_not_found(globals, key);
  }
  return found ? k_exit_ok : k_exit_miss;
}

std::int64_t
positive_duration(const std::string& text)
{
  const auto ms = protocol::parse_duration_ms(text);
  if (!ms) {
    throw CliError(k_exit_usage, fmt::format("invalid duration '{}' (use e.g. 30s, 10m, 2h, 7d)", text));
  }
  if (*ms == 0) {
    throw CliError(k_exit_usage, fmt::format("expire needs a duration above 0, got '{}'; to remove the expiry, use "
                                             "omnicache persist KEY",
                                             text));
  }
  return *ms;
}

} // namespace

void
add_ttl(CLI::App& app, Globals& globals)
{
  auto key = std::make_shared<std::string>();
  auto in_ms = std::make_shared<bool>(false);
  auto* command =
    app.add_subcommand("ttl", "Print the seconds an entry has left: -1 if it never expires, -2 (exit 1) if missing");
  command->add_option("key", *key, "Key")->required();
  command->add_flag("--ms", *in_ms, "Print milliseconds instead of seconds (as redis PTTL)");
  command->footer("Seconds are rounded to the nearest, as redis-cli TTL prints them. With --json:\n"
                  "{key, found, ttl_ms}, ttl_ms null when the entry never expires.\n"
                  "Example:\n"
                  "  omnicache set greeting hello --ttl 10m && omnicache ttl greeting");
  command->callback([&globals, key, in_ms] { globals.exit_code = run_ttl(globals, *key, *in_ms); });
}

void
add_expire(CLI::App& app, Globals& globals)
{
  auto key = std::make_shared<std::string>();
  auto duration = std::make_shared<std::string>();
  auto* command = app.add_subcommand("expire", "Give a live entry a new TTL, counted from now; exit 1 if missing");
  command->add_option("key", *key, "Key")->required();
  command->add_option("duration", *duration, "New time to live: seconds, or 30s 10m 2h 7d")
    ->type_name("DURATION")
    ->required();
  command->footer("The value, tags and layer stay. A missing key prints \"not found: KEY\" on stderr.\n"
                  "Example:\n"
                  "  omnicache set greeting hello && omnicache expire greeting 30s && omnicache ttl greeting");
  command->callback([&globals, key, duration] {
    globals.exit_code = run_expire(globals, *key, positive_duration(*duration));
  });
}

void
add_persist(CLI::App& app, Globals& globals)
{
  auto key = std::make_shared<std::string>();
  auto* command = app.add_subcommand("persist", "Make a live entry never expire; exit 1 if missing");
  command->add_option("key", *key, "Key")->required();
  command->footer("Example:\n"
                  "  omnicache set greeting hello --ttl 1m && omnicache persist greeting && omnicache ttl greeting");
  command->callback([&globals, key] { globals.exit_code = run_expire(globals, *key, 0); });
}

void
add_touch(CLI::App& app, Globals& globals)
{
  auto keys = std::make_shared<std::vector<std::string>>();
  auto* command = app.add_subcommand(
    "touch", "Mark entries as used now without reading them; print how many exist (exit 0 even if none)");
  command->add_option("keys", *keys, "Keys")->required();
  command->footer("A touched entry is the last to be evicted by store.max_bytes / max_entries; its TTL,\n"
                  "hits and the hit counters stay as they were.\n"
                  "Example:\n"
                  "  omnicache touch greeting other");
  command->callback([&globals, keys] {
    auto client = Client::connect(globals);
    protocol::ops::TouchRequest request;
    request.keys = *keys;
    print_count(globals, "touched", client.call<protocol::ops::Touch>(request).touched);
  });
}

} // namespace omnicache::cli
