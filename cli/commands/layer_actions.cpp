// set, get and key for the structured layers: the round trip to the daemon
// and the output, the same for every layer; each layer says only how its
// options name an entry (layer_actions.hpp).
#include "cli/commands/layer_actions.hpp"

#include "cli/client.hpp"
#include "cli/exit_codes.hpp"
#include "cli/llm.hpp"
#include "cli/output.hpp"
#include "protocol/error.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace omnicache::cli::layer {

using protocol::Json;

namespace {

std::string
read_value(const Globals& globals, const Action& action, std::string_view what)
{
  const bool from_stdin = !action.value || *action.value == "-";
  if (from_stdin && isatty(STDIN_FILENO) && !globals.quiet) {
    fmt::print(stderr, "omnicache: reading the {} from standard input (end it with Ctrl-D)\n", what);
  }
  return from_stdin ? read_stdin() : *action.value;
}

// A key function's complaint about its inputs is a usage error.
Json
described(const Describe& describe)
{
  try {
    return describe();
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_usage, e.what());
  }
}

Json
deps_field(const std::vector<std::string>& deps)
{
  Json out = Json::array();
  for (const auto& dep : deps) {
    out.push_back(dep);
  }
  return out;
}

// The description is a set request's fields; the set command adds its
// options to them.
template <class Request>
Request
layer_set_request(const Json& fields, const Action& action, std::string_view value)
{
  auto request = protocol::ops::decode<Request>(fields);
  llm::add_tags(request.tags, action.tags);
  if (!action.deps.empty()) {
    request.deps = deps_field(action.deps);
  }
  if (const auto ttl = ttl_ms(action.ttl)) {
    request.ttl_ms = *ttl;
  }
  request.value.bytes = value;
  return request;
}

struct LayerStored
{
  bool replaced = false;
  protocol::ops::OptionalTime ttl_ms;
  std::optional<std::string> warning;
};

int
do_set(Globals& globals, const Action& action, const Describe& describe, const Convert& convert, const Enrich& enrich,
       std::string_view what)
{
  Json fields = described(describe);
  const std::string value = convert(read_value(globals, action, what));
  if (enrich) {
    enrich(fields, value);
  }
  const std::string key = fields["key"];
  auto client = Client::connect(globals);
  LayerStored stored;
  // An entry that answers a question is stored with its embedding, so that
  // it answers the same question in other words too.
  if (const auto question = fields.find("question"); question != fields.end()) {
    Json merged = fields;
    merged.update(*question);
    const auto reply = client.call<protocol::ops::SemanticSet>(
      layer_set_request<protocol::ops::SemanticSetRequest>(merged, action, value));
    stored = {reply.replaced, reply.ttl_ms, reply.warning};
  } else {
    const auto reply =
      client.call<protocol::ops::Set>(layer_set_request<protocol::ops::SetRequest>(fields, action, value));
    stored = {reply.replaced, reply.ttl_ms, std::nullopt};
  }
  print_reply_warning(globals, stored.warning, "stored for exact matches only");
  if (globals.json) {
    output::print_json({{"key", key},
                        {"stored", true},
                        {"replaced", stored.replaced},
                        {"bytes", value.size()},
                        {"ttl_ms", time_or_null(stored.ttl_ms)}});
  } else if (globals.verbose) {
    fmt::print(stderr, "stored {} ({} bytes)\n", key, value.size());
  }
  return k_exit_ok;
}

int
do_get(Globals& globals, const Action& action, const Describe& describe, const Render& render, bool status)
{
  const Json fields = described(describe);
  const std::string key = fields["key"];
  const std::string layer = fields["layer"];
  if (action.semantic) {
    if (!fields.contains("question")) {
      throw CliError(k_exit_usage, "--semantic needs a request whose last message is text from the user");
    }
    auto ask = protocol::ops::decode<protocol::ops::SemanticGetRequest>(fields["question"]);
    ask.key = key;
    ask.layer = layer;
    put_semantic_lookup(ask, action.lookup);
    auto client = Client::connect(globals);
    const auto reply = client.call<protocol::ops::SemanticGet>(ask);
    print_reply_warning(globals, reply.warning, "exact match only");
    if (status) {
      print_semantic_status(reply);
    }
    if (globals.json) {
      output::print_json(semantic_reply_json(reply));
    } else if (reply.found) {
      render(reply.value);
    }
    return reply.found ? k_exit_ok : k_exit_miss;
  }
  protocol::ops::GetRequest request;
  request.key = key;
  request.layer = layer;
  auto client = Client::connect(globals);
  const auto reply = client.call<protocol::ops::Get>(request);
  const bool found = reply.found;
  if (status) {
    fmt::print(stderr, "{} {}\n", found ? hit_word(reply.tier) : "MISS", key);
  }
  if (globals.json) {
    Json out{{"key", key}, {"found", found}};
    if (found) {
      out["expires_ms"] = time_or_null(reply.expires_ms);
      output::put_value(out, reply.value);
    }
    output::print_json(out);
  } else if (found) {
    render(reply.value);
  }
  return found ? k_exit_ok : k_exit_miss;
}

int
do_key(Globals& globals, const Describe& describe)
{
  const Json fields = described(describe);
  if (globals.json) {
    output::print_json({{"key", fields["key"]}, {"layer", fields["layer"]}, {"tags", fields["tags"]}});
  } else {
    output::print_line(fields["key"].get<std::string>());
  }
  return k_exit_ok;
}

} // namespace

bool
set_reads_stdin(const Action& action)
{
  return action.setting && (!action.value || *action.value == "-");
}

void
print_raw(std::string_view bytes)
{
  output::print_bytes(bytes);
}

std::string
unchanged(std::string value)
{
  return value;
}

void
add_actions(CLI::App& layer, Globals& globals, const std::function<void(CLI::App&)>& options, const Describe& describe,
            const Convert& convert, const Render& render, std::string_view value_help, std::string_view what,
            const Enrich& enrich, std::shared_ptr<Action> action)
{
  if (!action) {
    action = std::make_shared<Action>();
  }
  auto status = std::make_shared<bool>(false);

  auto* set = layer.add_subcommand("set", fmt::format("Store {} (the value from stdin when omitted or -)", what));
  options(*set);
  set->add_option("value", action->value, std::string(value_help));
  add_ttl_option(*set, action->ttl);
  add_tag_option(*set, action->tags, "Tag the entry besides its default tags (repeat for several)");
  add_dep_option(*set, action->deps);
  set->preparse_callback([action](std::size_t) { action->setting = true; });
  set->callback([&globals, action, describe, convert, enrich, what] {
    globals.exit_code = do_set(globals, *action, describe, convert, enrich, what);
  });

  auto* get = layer.add_subcommand("get", fmt::format("Print {}; exit 1 on a miss", what));
  options(*get);
  get->add_flag("--status", *status,
                "Print HIT (HIT_L1 or HIT_L2 with a shared tier) or MISS and the key on stderr (also "
                "OMNICACHE_STATUS=1)");
  get->callback([&globals, action, status, describe, render] {
    globals.exit_code = do_get(globals, *action, describe, render, status_wanted(*status));
  });

  auto* key = layer.add_subcommand("key", "Print the entry's canonical key (no daemon needed)");
  options(*key);
  key->callback([&globals, describe] { globals.exit_code = do_key(globals, describe); });

  layer.require_subcommand(1);
}

Json
params_of(const std::vector<std::string>& items)
{
  Json params = Json::object();
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(k_exit_usage, fmt::format("--param '{}' must be NAME=VALUE", item));
    }
    const std::string value = item.substr(eq + 1);
    Json parsed = Json::parse(value, nullptr, false);
    params[item.substr(0, eq)] = parsed.is_discarded() ? Json(value) : std::move(parsed);
  }
  return params;
}

std::string
read_file_or_stdin(const std::string& path, std::string_view what)
{
  if (path == "-") {
    return read_stdin();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CliError(k_exit_usage, fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace omnicache::cli::layer
