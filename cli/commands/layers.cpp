// response, embedding, retrieval and context: the structured layers. Each
// names its entries by what they answer (model and messages, model and text,
// retriever and query, session and turn) and turns that into the layer's
// canonical key (protocol/canonical.hpp), so that the command, warm and the
// HTTP proxy find each other's entries.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/llm.hpp"
#include "cli/output.hpp"
#include "protocol/canonical.hpp"
#include "protocol/error.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <unistd.h>

namespace omnicache::cli {

using protocol::Json;

namespace {

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

bool
set_reads_stdin(const Action& action)
{
  return action.setting && (!action.value || *action.value == "-");
}

// Builds the set fields (key, layer, tags, meta) of one entry from the
// layer's own options, and `question` (text, context, model) when entries
// of the layer can be matched by meaning; `value` lets a layer check or
// convert the value.
using Describe = std::function<Json()>;
using Convert = std::function<std::string(std::string)>;
using Render = std::function<void(std::string_view)>;
// Adds what only the value can tell (token counts) to the set fields.
using Enrich = std::function<void(Json& fields, std::string_view value)>;

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

int
do_set(Globals& globals, const Action& action, const Describe& describe, const Convert& convert, const Enrich& enrich,
       std::string_view what)
{
  Json fields = described(describe);
  const std::string value = convert(read_value(globals, action, what));
  if (enrich) {
    enrich(fields, value);
  }
  auto tags = fields["tags"].get<std::vector<std::string>>();
  llm::add_tags(tags, action.tags);
  fields["tags"] = tags;
  if (!action.deps.empty()) {
    fields["deps"] = deps_field(action.deps);
  }
  if (const auto ttl = ttl_ms(action.ttl)) {
    fields["ttl_ms"] = *ttl;
  }
  const std::string key = fields["key"];
  // An entry that answers a question is stored with its embedding, so that
  // it answers the same question in other words too.
  const bool semantic = fields.contains("question");
  if (semantic) {
    fields.update(fields["question"]);
    fields.erase("question");
  }
  auto client = Client::connect(globals);
  const auto reply = client.call(semantic ? "semantic_set" : "set", std::move(fields), value);
  print_reply_warning(globals, reply.header, "stored for exact matches only");
  if (globals.json) {
    output::print_json({{"key", key},
                        {"stored", true},
                        {"replaced", reply.header.value("replaced", false)},
                        {"bytes", value.size()},
                        {"ttl_ms", reply.header.value("ttl_ms", Json(nullptr))}});
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
  if (action.semantic) {
    if (!fields.contains("question")) {
      throw CliError(k_exit_usage, "--semantic needs a request whose last message is text from the user");
    }
    Json ask{{"key", key}, {"layer", fields["layer"]}};
    ask.update(fields["question"]);
    put_semantic_lookup(ask, action.lookup);
    auto client = Client::connect(globals);
    const auto reply = client.call("semantic_get", std::move(ask));
    print_reply_warning(globals, reply.header, "exact match only");
    if (status) {
      print_semantic_status(reply.header);
    }
    const bool found = reply.header.value("found", false);
    if (globals.json) {
      output::print_json(semantic_reply_json(reply.header, reply.value));
    } else if (found) {
      render(reply.value);
    }
    return found ? k_exit_ok : k_exit_miss;
  }
  auto client = Client::connect(globals);
  const auto reply = client.call("get", {{"key", key}, {"layer", fields["layer"]}});
  const bool found = reply.header.value("found", false);
  if (status) {
    fmt::print(stderr, "{} {}\n", found ? hit_word(reply.header) : "MISS", key);
  }
  if (globals.json) {
    Json out{{"key", key}, {"found", found}};
    if (found) {
      out["expires_ms"] = reply.header.value("expires_ms", Json(nullptr));
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

// Adds set, get and key to a layer command. `options` adds the layer's own
// naming options to each.
void
add_actions(CLI::App& layer, Globals& globals, const std::function<void(CLI::App&)>& options, const Describe& describe,
            const Convert& convert, const Render& render, std::string_view value_help, std::string_view what,
            const Enrich& enrich = {}, std::shared_ptr<Action> action = nullptr)
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

// --param NAME=VALUE: VALUE is JSON when it parses as JSON (0, 0.7, true,
// "text", [1,2]), otherwise the text itself.
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

// ---- response ----

struct ResponseOptions
{
  std::string model;
  std::string prompt;
  std::string messages_file;
  std::vector<std::string> params;
  std::optional<std::uint64_t> prompt_tokens;
  std::optional<std::uint64_t> completion_tokens;
};

Json
messages_of(const ResponseOptions& options)
{
  if (!options.messages_file.empty()) {
    const std::string text = read_file_or_stdin(options.messages_file, "the messages file");
    Json parsed = Json::parse(text, nullptr, false);
    if (parsed.is_discarded()) {
      throw CliError(k_exit_usage, fmt::format("{} is not valid JSON", options.messages_file));
    }
    // A whole request body ({"model": ..., "messages": [...]}) is accepted too.
    if (parsed.is_object() && parsed.contains("messages")) {
      parsed = parsed["messages"];
    }
    return parsed;
  }
  return protocol::prompt_messages(options.prompt);
}

void
add_response_options(CLI::App& command, ResponseOptions& options)
{
  command.add_option("-m,--model", options.model, "Model name, as requests name it")->required();
  auto* prompt = command.add_option("-p,--prompt", options.prompt, "A single user message");
  auto* messages = command
                     .add_option("--messages", options.messages_file,
                                 "An OpenAI-style messages array (or "
                                 "request) in a file; - is stdin")
                     ->type_name("FILE");
  prompt->excludes(messages);
  messages->excludes(prompt);
  command.add_option("--param", options.params, "A request parameter NAME=VALUE (temperature=0); repeat for several")
    ->type_name("NAME=VALUE")
    ->allow_extra_args(false);
}

void
add_response_layer(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<ResponseOptions>();
  auto action = std::make_shared<Action>();
  auto* layer = app.add_subcommand("response", "LLM answers keyed by model, messages and parameters");
  layer->footer("The key ignores object-key order, whitespace, 0 vs 0.0 and the "
                "parameters stream, stream_options,\n"
                "user and metadata. --prompt P means "
                "[{\"role\":\"user\",\"content\":P}]. Entries are tagged\n"
                "model:MODEL (invalidate --model MODEL). Token counts come from "
                "--prompt-tokens and\n"
                "--completion-tokens or from the value's usage when it is an OpenAI or "
                "Anthropic response.\n"
                "Examples:\n"
                "  omnicache response set --model gpt-4o --prompt 'What is 2+2?' --param "
                "temperature=0 4\n"
                "  omnicache response get --model gpt-4o --messages messages.json\n"
                "  omnicache response get --model gpt-4o --prompt 'What is two plus two?' --semantic --status\n"
                "An entry whose last message is the user's text is stored with that text's embedding, so\n"
                "get --semantic finds it for the same question in other words, among entries with the same\n"
                "model, earlier messages and parameters.");
  auto describe = [options, action] {
    if (options->prompt.empty() && options->messages_file.empty()) {
      throw CliError(k_exit_usage, "give the request as --prompt TEXT or --messages FILE");
    }
    if (options->messages_file == "-" && set_reads_stdin(*action)) {
      throw CliError(k_exit_usage,
                     "--messages - and a value from standard "
                     "input cannot share it; give one a file");
    }
    const Json messages = messages_of(*options);
    const Json params = params_of(options->params);
    Json fields{{"key", protocol::response_key(options->model, messages, params)},
                {"layer", "response"},
                {"tags", Json::array({llm::model_tag(options->model)})}};
    if (const auto question = protocol::response_question(messages, params)) {
      fields["question"] = {{"text", question->text}, {"context", question->context}, {"model", options->model}};
    }
    return fields;
  };
  auto enrich = [options](Json& fields, std::string_view value) {
    llm::Usage usage = llm::usage_of_answer(value);
    if (options->prompt_tokens) {
      usage.prompt_tokens = options->prompt_tokens;
    }
    if (options->completion_tokens) {
      usage.completion_tokens = options->completion_tokens;
    }
    fields["meta"] = llm::meta_of(options->model, usage);
  };
  add_actions(
    *layer, globals, [options](CLI::App& command) { add_response_options(command, *options); }, describe, unchanged,
    print_raw, "The answer; - or nothing reads standard input", "an LLM answer", enrich, action);
  auto* get = layer->get_subcommand("get");
  auto* semantic = get->add_flag("--semantic", action->semantic,
                                 "When no entry has the exact key, accept the answer to the same last question in "
                                 "other words (same model, earlier turns and parameters; see semantic)");
  add_semantic_lookup_options(*get, action->lookup);
  get->get_option("--threshold")->needs(semantic);
  get->get_option("--no-guard")->needs(semantic);
  auto* set = layer->get_subcommand("set");
  set->add_option("--prompt-tokens", options->prompt_tokens, "Tokens the request cost (input)");
  set->add_option("--completion-tokens", options->completion_tokens, "Tokens the answer cost (output)");
}

// ---- embedding ----

struct EmbeddingOptions
{
  std::string model;
  std::string text;
  bool raw = false;
};

// A vector is stored as little-endian float32. It arrives as a JSON array of
// numbers or as those bytes already.
std::string
vector_bytes(std::string value)
{
  const auto start = value.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && value[start] == '[') {
    const Json parsed = Json::parse(value, nullptr, false);
    if (!parsed.is_array() || parsed.empty()) {
      throw CliError(k_exit_usage,
                     "the vector must be a non-empty JSON array "
                     "of numbers, or raw float32 bytes");
    }
    std::string out;
    out.reserve(parsed.size() * 4);
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      if (!parsed[i].is_number()) {
        throw CliError(k_exit_usage, fmt::format("the vector's item {} is {}, not a number", i, parsed[i].type_name()));
      }
      const auto f = static_cast<float>(parsed[i].get<double>());
      if (!std::isfinite(f)) {
        throw CliError(k_exit_usage, fmt::format("the vector's item {} does not fit a float32", i));
      }
      auto bits = std::bit_cast<std::uint32_t>(f);
      if constexpr (std::endian::native == std::endian::big) {
        bits = __builtin_bswap32(bits);
      }
      out.append(reinterpret_cast<const char*>(&bits), 4);
    }
    return out;
  }
  if (value.empty() || value.size() % 4 != 0) {
    throw CliError(k_exit_usage,
                   fmt::format("{} bytes is not a float32 vector (a JSON "
                               "array, or 4 bytes per item)",
                               value.size()));
  }
  return value;
}

std::string
vector_json(std::string_view bytes)
{
  std::string out = "[";
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, bytes.data() + i, 4);
    if constexpr (std::endian::native == std::endian::big) {
      bits = __builtin_bswap32(bits);
    }
    out += fmt::format("{}{}", i == 0 ? "" : ",", std::bit_cast<float>(bits));
  }
  return out + "]";
}

void
add_embedding_layer(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<EmbeddingOptions>();
  auto* layer = app.add_subcommand("embedding", "Embedding vectors keyed by model and text");
  layer->footer("Values are float32 vectors: give a JSON array ([0.1, -0.2, "
                "...]) or raw little-endian float32\n"
                "bytes; get prints a JSON array, or the raw bytes with --raw. "
                "Entries are tagged model:MODEL.\n"
                "Example:\n"
                "  omnicache embedding set --model text-embedding-3-small "
                "--text Hello '[0.1, 0.2]'");
  auto describe = [options] {
    return Json{{"key", protocol::embedding_key(options->model, options->text)},
                {"layer", "embedding"},
                {"tags", Json::array({llm::model_tag(options->model)})},
                {"meta", llm::meta_of(options->model, {})}};
  };
  auto render = [options](std::string_view bytes) {
    if (options->raw) {
      output::print_bytes(bytes);
    } else {
      output::print_line(vector_json(bytes));
    }
  };
  add_actions(
    *layer, globals,
    [options](CLI::App& command) {
      command.add_option("-m,--model", options->model, "Embedding model")->required();
      command.add_option("--text", options->text, "The text embedded")->required();
    },
    describe, vector_bytes, render,
    "The vector: a JSON array or raw float32; - or nothing reads standard "
    "input",
    "an embedding vector");
  layer->get_subcommand("get")->add_flag("--raw", options->raw, "Print raw little-endian float32 bytes");
}

// ---- retrieval ----

struct RetrievalOptions
{
  std::string retriever;
  std::string query;
  std::int64_t top_k = 10;
  std::vector<std::string> params;
};

std::string
documents(std::string value)
{
  const Json parsed = Json::parse(value, nullptr, false);
  if (!parsed.is_array()) {
    throw CliError(k_exit_usage, "retrieval results must be a JSON array of documents");
  }
  return value;
}

void
add_retrieval_layer(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<RetrievalOptions>();
  auto* layer = app.add_subcommand("retrieval", "Retrieval results keyed by retriever, query and top-k");
  layer->footer("Values are JSON arrays of documents. Entries are tagged retriever:NAME\n"
                "(invalidate --retriever NAME after re-indexing).\n"
                "Example:\n"
                "  omnicache retrieval get --retriever my-index --query 'What is RAG?' "
                "--top-k 5");
  auto describe = [options] {
    return Json{
      {"key", protocol::retrieval_key(options->retriever, options->query, options->top_k, params_of(options->params))},
      {"layer", "retrieval"},
      {"tags", Json::array({llm::retriever_tag(options->retriever)})}};
  };
  add_actions(
    *layer, globals,
    [options](CLI::App& command) {
      command.add_option("-r,--retriever", options->retriever, "Retriever or index name")->required();
      command.add_option("-q,--query", options->query, "The query")->required();
      command.add_option("-k,--top-k", options->top_k, "Number of results asked for")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000}));
      command
        .add_option("--param", options->params,
                    "A retriever parameter NAME=VALUE (filters); repeat "
                    "for several")
        ->type_name("NAME=VALUE")
        ->allow_extra_args(false);
    },
    describe, documents, print_raw, "The documents as a JSON array; - or nothing reads standard input",
    "retrieval results");
}

// ---- context ----

struct ContextOptions
{
  std::string session;
  std::int64_t turn = 0;
};

void
add_context_layer(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<ContextOptions>();
  auto* layer = app.add_subcommand("context", "Conversation state keyed by session and turn");
  layer->footer("Entries are tagged session:ID; context invalidate --session ID removes "
                "a whole conversation.\n"
                "Example:\n"
                "  omnicache context set --session user-123 --turn 0 < state.json");
  auto describe = [options] {
    return Json{{"key", protocol::context_key(options->session, options->turn)},
                {"layer", "context"},
                {"tags", Json::array({llm::session_tag(options->session)})}};
  };
  add_actions(
    *layer, globals,
    [options](CLI::App& command) {
      command.add_option("-s,--session", options->session, "Session id")->required();
      command.add_option("--turn", options->turn, "Turn number, from 0")
        ->required()
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 53));
    },
    describe, unchanged, print_raw, "The state; - or nothing reads standard input", "a conversation's state");

  auto session = std::make_shared<std::string>();
  auto* invalidate = layer->add_subcommand("invalidate", "Remove every turn of a session; prints the count");
  invalidate->add_option("-s,--session", *session, "Session id")->required();
  invalidate->callback([&globals, session] {
    auto client = Client::connect(globals);
    const auto reply = client.call("invalidate", {{"tags", {llm::session_tag(*session)}}, {"layer", "context"}});
    print_count(globals, "removed", reply.header.value("removed", std::uint64_t{0}));
  });
}

} // namespace

void
add_response(CLI::App& app, Globals& globals)
{
  add_response_layer(app, globals);
}

void
add_embedding(CLI::App& app, Globals& globals)
{
  add_embedding_layer(app, globals);
}

void
add_retrieval(CLI::App& app, Globals& globals)
{
  add_retrieval_layer(app, globals);
}

void
add_context(CLI::App& app, Globals& globals)
{
  add_context_layer(app, globals);
}

} // namespace omnicache::cli
