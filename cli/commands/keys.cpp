#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"

namespace omnicache::cli {

namespace {

constexpr std::uint64_t k_page = 1000;

struct KeysOptions
{
  std::string pattern;
  std::vector<std::string> tags;
  std::string layer;
  std::uint64_t limit = 0;
};

int
run_keys(Globals& globals, const KeysOptions& options)
{
  auto client = Client::connect(globals);
  protocol::Json all = protocol::Json::array();
  std::string after;
  std::uint64_t listed = 0;
  for (;;) {
    std::uint64_t want = k_page;
    if (options.limit != 0) {
      want = std::min(want, options.limit - listed);
    }
    protocol::Json fields{{"after", after}, {"limit", want}};
    if (!options.pattern.empty()) {
      fields["pattern"] = options.pattern;
    }
    if (!options.tags.empty()) {
      fields["tags"] = options.tags;
    }
    if (!options.layer.empty()) {
      fields["layer"] = options.layer;
    }
    const auto reply = client.call("keys", std::move(fields));
    for (const auto& key : reply.header["keys"]) {
      if (globals.json) {
        all.push_back(key);
      } else {
        output::print_line(key.get<std::string>());
      }
      ++listed;
    }
    const auto next = reply.header.find("next");
    if (next == reply.header.end() || (options.limit != 0 && listed >= options.limit)) {
      break;
    }
    after = next->get<std::string>();
  }
  if (globals.json) {
    output::print_json({{"keys", std::move(all)}});
  }
  return 0;
}

} // namespace

void
add_keys(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<KeysOptions>();
  auto* command = app.add_subcommand("keys", "List live keys in key order, by glob pattern, tag and layer");
  command->add_option("pattern", options->pattern,
                      "Glob: * any run, ? one character, [abc] a set, [^abc] not in it (default: every key)");
  add_tag_option(*command, options->tags, "Only keys carrying this tag (repeat: any of them)");
  add_layer_option(*command, options->layer, "Only keys of this layer");
  command->add_option("-n,--limit", options->limit, "List at most this many (default: all)");
  command->callback([&globals, options] { globals.exit_code = run_keys(globals, *options); });
}

} // namespace omnicache::cli
