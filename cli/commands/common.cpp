#include "cli/commands/command.hpp"

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/layers.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace omnicache::cli {

void
add_ttl_option(CLI::App& command, std::string& ttl)
{
  command
    .add_option("--ttl", ttl,
                "Time to live: seconds, or 30s 10m 2h 7d; 0 or never = no expiry (default: the layer's ttl setting)")
    ->type_name("DURATION")
    ->check(CLI::Validator(
      [](std::string& text) -> std::string {
        return protocol::parse_duration_ms(text) ? std::string()
                                                 : fmt::format("invalid duration '{}' (use e.g. 30s, 10m, 2h, 7d, never)",
                                                               text);
      },
      "DURATION"));
}

std::optional<std::int64_t>
ttl_ms(const std::string& ttl)
{
  if (ttl.empty()) {
    return std::nullopt;
  }
  return protocol::parse_duration_ms(ttl);
}

void
add_tag_option(CLI::App& command, std::vector<std::string>& tags, const std::string& help)
{
  command.add_option("-t,--tag", tags, help)->type_name("TAG")->allow_extra_args(false);
}

void
add_layer_option(CLI::App& command, std::string& layer, const std::string& help)
{
  std::vector<std::string> names(protocol::k_layer_names.begin(), protocol::k_layer_names.end());
  command.add_option("--layer", layer, help)->type_name("LAYER")->check(CLI::IsMember(names));
}

void
add_dep_option(CLI::App& command, std::vector<std::string>& deps)
{
  command
    .add_option("--dep", deps, "Record a dependency: invalidate --dep NAME removes the entry (repeat for several)")
    ->type_name("NAME")
    ->allow_extra_args(false);
}

void
print_count(const Globals& globals, std::string_view field, std::uint64_t n)
{
  if (globals.json) {
    output::print_json({{std::string(field), n}});
  } else if (!globals.quiet) {
    output::print_line(std::to_string(n));
  }
}

std::string
read_stdin()
{
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n > 0) {
      data.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return data;
    } else if (errno != EINTR) {
      throw CliError(k_exit_usage, fmt::format("cannot read standard input: {}", std::strerror(errno)));
    }
  }
}

protocol::Json
time_or_null(const protocol::ops::OrNull<std::int64_t>& time)
{
  return time && *time ? protocol::Json(**time) : protocol::Json(nullptr);
}

} // namespace omnicache::cli
