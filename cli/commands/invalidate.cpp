#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/llm.hpp"

namespace omnicache::cli {

namespace {

struct InvalidateOptions
{
  std::vector<std::string> tags;
  // --tag, as keys takes them: a list apart, since CLI11 would overwrite
  // one option's list with the other's.
  std::vector<std::string> tag_options;
  std::string pattern;
  std::string layer;
  std::vector<std::string> deps;
  std::string new_hash;
  std::vector<std::string> models;
  std::vector<std::string> sessions;
  std::vector<std::string> retrievers;
};

std::uint64_t
invalidate_deps(Globals& globals, const InvalidateOptions& options)
{
  if (!options.tags.empty() || !options.tag_options.empty() || !options.pattern.empty() || !options.layer.empty()) {
    throw CliError(k_exit_usage, "--dep cannot be combined with tags, --pattern or --layer");
  }
  protocol::ops::InvalidateRequest request;
  request.deps = options.deps;
  if (!options.new_hash.empty()) {
    request.version = options.new_hash;
  }
  auto client = Client::connect(globals);
  return client.call<protocol::ops::Invalidate>(request).removed;
}

} // namespace

void
add_invalidate(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<InvalidateOptions>();
  auto* command = app.add_subcommand("invalidate",
                                     "Remove entries by tag, dependency, model, session, "
                                     "retriever, key pattern or layer");
  command->add_option("tags", options->tags, "Tags: an entry carrying any of them is removed");
  add_tag_option(*command, options->tag_options, "A tag, as the positional tags (repeat: any of them)");
  command->add_option("-p,--pattern", options->pattern, "Only keys matching this glob");
  add_layer_option(*command, options->layer, "Only entries of this layer");
  command->add_option("--model", options->models, "Entries of this model (the tag model:NAME); repeat for several")
    ->type_name("NAME")
    ->allow_extra_args(false);
  command->add_option("--session", options->sessions, "Entries of this session (the tag session:ID)")
    ->type_name("ID")
    ->allow_extra_args(false);
  command->add_option("--retriever", options->retrievers, "Entries of this retriever (the tag retriever:NAME)")
    ->type_name("NAME")
    ->allow_extra_args(false);
  auto* dep = command->add_option("--dep", options->deps, "Entries that depend on NAME; repeat for several")
                ->type_name("NAME")
                ->allow_extra_args(false);
  command->add_option("--new-hash", options->new_hash, "With --dep: the dependency's new version")
    ->type_name("VERSION")
    ->needs(dep);
  command->footer("Every selector given must match: the tags (any of them, with --model, "
                  "--session and\n"
                  "--retriever adding theirs) and --pattern and --layer. --dep stands "
                  "alone: it removes what\n"
                  "depends on each NAME and records NAME's new version (--new-hash, or a "
                  "fresh one), so\n"
                  "that the same --new-hash given twice removes nothing the second time.\n"
                  "Prints the number of entries removed.\n"
                  "Examples:\n"
                  "  omnicache invalidate project:docs\n"
                  "  omnicache invalidate --tag project:docs --layer response\n"
                  "  omnicache invalidate --model gpt-4o\n"
                  "  omnicache invalidate --dep doc:contract-123 --new-hash \"$(sha256sum "
                  "contract.pdf | cut -c1-64)\"");
  command->callback([&globals, options] {
    if (!options->deps.empty()) {
      print_count(globals, "removed", invalidate_deps(globals, *options));
      return;
    }
    auto tags = options->tags;
    llm::add_tags(tags, options->tag_options);
    for (const auto& model : options->models) {
      llm::add_tags(tags, {llm::model_tag(model)});
    }
    for (const auto& session : options->sessions) {
      llm::add_tags(tags, {llm::session_tag(session)});
    }
    for (const auto& retriever : options->retrievers) {
      llm::add_tags(tags, {llm::retriever_tag(retriever)});
    }
    if (tags.empty() && options->pattern.empty() && options->layer.empty()) {
      throw CliError(k_exit_usage,
                     "invalidate needs tags, --dep, --model, "
                     "--session, --retriever, --pattern or "
                     "--layer (to remove everything, use flush)");
    }
    protocol::ops::InvalidateRequest request;
    request.tags = tags;
    if (!options->pattern.empty()) {
      request.pattern = options->pattern;
    }
    if (!options->layer.empty()) {
      request.layer = options->layer;
    }
    auto client = Client::connect(globals);
    print_count(globals, "removed", client.call<protocol::ops::Invalidate>(request).removed);
  });
}

} // namespace omnicache::cli
