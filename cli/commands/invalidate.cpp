#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"

namespace omnicache::cli {

namespace {

struct InvalidateOptions
{
  std::vector<std::string> tags;
  std::string pattern;
  std::string layer;
};

} // namespace

void
add_invalidate(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<InvalidateOptions>();
  auto* command = app.add_subcommand(
    "invalidate", "Remove entries carrying any of the tags; --pattern and --layer narrow or select instead");
  command->add_option("tags", options->tags, "Tags: an entry carrying any of them is removed");
  command->add_option("-p,--pattern", options->pattern, "Only keys matching this glob");
  add_layer_option(*command, options->layer, "Only entries of this layer");
  command->footer("Every selector given must match: TAGS (any of them) and --pattern and --layer.\n"
                  "Prints the number of entries removed.");
  command->callback([&globals, options] {
    if (options->tags.empty() && options->pattern.empty() && options->layer.empty()) {
      throw CliError(k_exit_usage, "invalidate needs tags, --pattern or --layer (to remove everything, use flush)");
    }
    protocol::Json fields{{"tags", options->tags}};
    if (!options->pattern.empty()) {
      fields["pattern"] = options->pattern;
    }
    if (!options->layer.empty()) {
      fields["layer"] = options->layer;
    }
    auto client = Client::connect(globals);
    const auto reply = client.call("invalidate", std::move(fields));
    print_count(globals, "removed", reply.header.value("removed", std::uint64_t{0}));
  });
}

} // namespace omnicache::cli
