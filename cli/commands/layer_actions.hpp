#pragma once

#include "cli/commands/command.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// What the structured layer commands (response, embedding, retrieval,
// context) share: set, get and key on an entry named by the layer's own
// options, and the option readers more than one layer uses.
namespace omnicache::cli::layer {

// One action of a layer command, with what every layer shares.
struct Action
{
  bool setting = false;             // set, as opposed to get or key
  std::optional<std::string> value; // set: the value; - or nothing reads stdin
  std::string ttl;
  std::vector<std::string> tags;
  std::vector<std::string> deps;
  bool semantic = false; // get: by meaning when no entry has the exact key
  SemanticLookup lookup;
};

// Whether set takes its value from standard input.
bool set_reads_stdin(const Action& action);

// Builds the set fields (key, layer, tags, meta) of one entry from the
// layer's own options, and `question` (text, context, model) when entries
// of the layer can be matched by meaning; `convert` lets a layer check or
// convert the value.
using Describe = std::function<protocol::Json()>;
using Convert = std::function<std::string(std::string)>;
using Render = std::function<void(std::string_view)>;
// Adds what only the value can tell (token counts) to the set fields.
using Enrich = std::function<void(protocol::Json& fields, std::string_view value)>;

// Writes the value as it is.
void print_raw(std::string_view bytes);
// Keeps the value as it is.
std::string unchanged(std::string value);

// Adds set, get and key to a layer command. `options` adds the layer's own
// naming options to each.
void add_actions(CLI::App& layer, Globals& globals, const std::function<void(CLI::App&)>& options,
                 const Describe& describe, const Convert& convert, const Render& render, std::string_view value_help,
                 std::string_view what, const Enrich& enrich = {}, std::shared_ptr<Action> action = nullptr);

// --param NAME=VALUE: VALUE is JSON when it parses as JSON (0, 0.7, true,
// "text", [1,2]), otherwise the text itself.
protocol::Json params_of(const std::vector<std::string>& items);

// The bytes of the file at `path`, or of standard input for -.
std::string read_file_or_stdin(const std::string& path, std::string_view what);

} // namespace omnicache::cli::layer
