// mget: several values in one round trip, as redis-cli MGET.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

namespace {

struct MgetOptions
{
  std::vector<std::string> keys;
  std::string layer;
};

constexpr const char* k_mget_footer =
  "Prints one line per key, in the order given. A value that is printable text is printed as it is;\n"
  "any other (a newline, control bytes, a leading quote) is printed in double quotes with C escapes\n"
  "(\"a\\nb\", \"\\x00\"), as redis-cli does, so that each key's value stays on its line. A miss prints\n"
  "an empty line, and the exit status is then 1. For exact bytes use --json: an array of\n"
  "{key, found, value} (value_base64 for bytes that are not UTF-8), or get.\n"
  "Example:\n"
  "  omnicache set a 1 && omnicache set b 2 && omnicache mget a b missing";

// Where each key's value starts in the reply's value, from the sizes.
std::vector<std::string_view>
mget_values(const protocol::ops::MgetReply& reply, const protocol::Json& results)
{
  std::vector<std::string_view> values;
  std::size_t offset = 0;
  const std::string_view all = reply.value;
  for (const auto& result : results) {
    const auto size = result.value("size", std::size_t{0});
    if (!result.value("found", false) || size > all.size() - offset) {
      values.emplace_back();
      continue;
    }
    values.push_back(all.substr(offset, size));
    offset += size;
  }
  return values;
}

int
run_mget(Globals& globals, const MgetOptions& options)
{
  protocol::ops::MgetRequest request;
  request.keys = options.keys;
  if (!options.layer.empty()) {
    request.layer = options.layer;
  }
  auto client = Client::connect(globals);
  const auto reply = client.call<protocol::ops::Mget>(request);
  const auto& results = reply.results;
  if (results.size() != options.keys.size()) {
    throw CliError(k_exit_daemon, fmt::format("the daemon answered {} of {} keys", results.size(), options.keys.size()));
  }
  const auto values = mget_values(reply, results);
  bool missed = false;
  protocol::Json out = protocol::Json::array();
  std::string lines;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const bool found = results[i].value("found", false);
    missed = missed || !found;
    if (globals.json) {
      protocol::Json item{{"key", options.keys[i]}, {"found", found}};
      if (found) {
        output::put_value(item, values[i]);
        item["layer"] = results[i].value("layer", "");
        item["expires_ms"] = results[i].value("expires_ms", protocol::Json(nullptr));
      }
      out.push_back(std::move(item));
    } else {
      lines += found ? output::printable_key(values[i]) : std::string();
      lines += '\n';
    }
  }
  if (globals.json) {
    output::print_json(out);
  } else {
    output::print_bytes(lines);
  }
  return missed ? k_exit_miss : k_exit_ok;
}

} // namespace

void
add_mget(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<MgetOptions>();
  auto* command = app.add_subcommand(
    "mget", "Print the values of several keys in one round trip, one line each; exit 1 if any is missing");
  command->add_option("keys", options->keys, "Keys")->required();
  add_layer_option(*command, options->layer, "Only entries of this layer count as hits");
  command->footer(k_mget_footer);
  command->callback([&globals, options] { globals.exit_code = run_mget(globals, *options); });
}

} // namespace omnicache::cli
