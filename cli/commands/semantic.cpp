// semantic: answers found by meaning. The daemon embeds the question (or
// takes the caller's vector), so every client matches the same way.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace omnicache::cli {

namespace {

using protocol::Json;

struct SemanticOptions
{
  std::string text;
  std::optional<std::string> value;
  std::string model;
  std::string context;
  std::string vector_file;
  std::string ttl;
  std::vector<std::string> tags;
  std::vector<std::string> deps;
  SemanticLookup lookup;
  bool status = false;
};

// A vector file holds a JSON array of numbers or raw little-endian float32.
Json
vector_of(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CliError(k_exit_usage, fmt::format("cannot read the vector file {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const auto start = bytes.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && bytes[start] == '[') {
    Json parsed = Json::parse(bytes, nullptr, false);
    if (!parsed.is_array()) {
      throw CliError(k_exit_usage, fmt::format("{} is not a JSON array of numbers", path));
    }
    return parsed;
  }
  if (bytes.empty() || bytes.size() % 4 != 0) {
    throw CliError(k_exit_usage,
                   fmt::format("{}: {} bytes is not a float32 vector (a JSON array, or 4 bytes per item)", path,
                               bytes.size()));
  }
  Json out = Json::array();
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    float f = 0;
    std::memcpy(&f, bytes.data() + i, 4);
    out.push_back(f);
  }
  return out;
}

// The question's fields, which semantic_set and semantic_get name alike.
template <class Request>
Request
question_request(const SemanticOptions& options)
{
  Request request;
  request.text = options.text;
  request.model = options.model;
  if (!options.context.empty()) {
    request.context = options.context;
  }
  if (!options.vector_file.empty()) {
    request.vector = vector_of(options.vector_file);
  }
  return request;
}

void
add_question_options(CLI::App& command, SemanticOptions& options)
{
  command.add_option("text", options.text, "The question")->required();
  command.add_option("-m,--model", options.model, "Model the answer is for; only its entries match")->required();
  command.add_option("--context", options.context,
                     "Earlier turns of a conversation (e.g. their hash): only entries with the same match");
  command.add_option("--vector-file", options.vector_file,
                     "Use this embedding of the question (JSON array or raw float32) instead of the daemon's; "
                     "such entries match only questions embedded the same way")
    ->type_name("FILE");
}

int
run_set(Globals& globals, const SemanticOptions& options)
{
  const bool from_stdin = !options.value || *options.value == "-";
  if (from_stdin && isatty(STDIN_FILENO) && !globals.quiet) {
    fmt::print(stderr, "omnicache: reading the answer from standard input (end it with Ctrl-D)\n");
  }
  const std::string value = from_stdin ? read_stdin() : *options.value;
  auto request = question_request<protocol::ops::SemanticSetRequest>(options);
  std::vector<std::string> tags{"model:" + options.model};
  for (const auto& tag : options.tags) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
      tags.push_back(tag);
    }
  }
  request.tags = tags;
  request.meta = {{"model", options.model}};
  if (!options.deps.empty()) {
    request.deps = options.deps;
  }
  request.ttl_ms = ttl_ms(options.ttl);
  request.value.bytes = value;
  auto client = Client::connect(globals);
  const auto reply = client.call<protocol::ops::SemanticSet>(request);
  print_reply_warning(globals, reply.warning, "stored for exact matches only");
  if (globals.json) {
    output::print_json({{"key", reply.key},
                        {"stored", true},
                        {"replaced", reply.replaced},
                        {"embedder", reply.embedder},
                        {"indexed", reply.indexed},
                        {"ttl_ms", time_or_null(reply.ttl_ms)}});
  } else if (globals.verbose) {
    fmt::print(stderr, "stored {} ({} bytes)\n", reply.key, value.size());
  }
  return k_exit_ok;
}

int
run_get(Globals& globals, const SemanticOptions& options)
{
  auto request = question_request<protocol::ops::SemanticGetRequest>(options);
  put_semantic_lookup(request, options.lookup);
  auto client = Client::connect(globals);
  const auto reply = client.call<protocol::ops::SemanticGet>(request);
  print_reply_warning(globals, reply.warning, "exact match only");
  const bool found = reply.found;
  if (status_wanted(options.status)) {
    print_semantic_status(reply);
  }
  if (globals.json) {
    output::print_json(semantic_reply_json(reply));
  } else if (found) {
    output::print_bytes(reply.value);
  }
  return found ? k_exit_ok : k_exit_miss;
}

struct RejectOptions
{
  std::string key;
  std::string query;
  std::string vector_file;
};

int
run_reject(Globals& globals, const RejectOptions& options)
{
  protocol::ops::SemanticRejectRequest request;
  request.key = options.key;
  request.text = options.query;
  if (!options.vector_file.empty()) {
    request.vector = vector_of(options.vector_file);
  }
  auto client = Client::connect(globals);
  const bool recorded = client.call<protocol::ops::SemanticReject>(request).recorded;
  if (globals.json) {
    output::print_json({{"key", options.key}, {"recorded", recorded}});
  } else if (!recorded && !globals.quiet) {
    // The entry is gone (or never had a question): it can answer nothing
    // wrongly any more, but the caller should know nothing was recorded.
    fmt::print(stderr, "omnicache: no live entry with a question has the key {}; nothing recorded\n", options.key);
  } else if (globals.verbose) {
    fmt::print(stderr, "recorded: {} does not answer that query\n", options.key);
  }
  return recorded ? k_exit_ok : k_exit_miss;
}

} // namespace

void
add_semantic_lookup_options(CLI::App& command, SemanticLookup& lookup, bool guard)
{
  command.add_option("--threshold", lookup.threshold, "Least similarity for a hit, 0 to 1 (inclusive)")
    ->check(CLI::Range(0.0, 1.0));
  if (guard) {
    command.add_flag("--no-guard", lookup.no_guard, "Accept look-alike questions the guard would refuse");
  }
}

void
put_semantic_lookup(protocol::ops::SemanticGetRequest& request, const SemanticLookup& lookup)
{
  if (lookup.threshold) {
    request.threshold = *lookup.threshold;
  }
  if (lookup.no_guard) {
    request.guard = false;
  }
}

std::string
hit_word(const std::optional<std::string>& tier)
{
  return tier ? "HIT_" + *tier : std::string("HIT");
}

bool
status_wanted(bool flag)
{
  const char* env = std::getenv("OMNICACHE_STATUS");
  return flag || (env != nullptr && std::string_view(env) == "1");
}

void
print_semantic_status(const protocol::ops::SemanticGetReply& reply)
{
  const std::string key = reply.key.value_or("");
  if (!reply.found) {
    fmt::print(stderr, "MISS {}\n", key);
  } else if (reply.match == "semantic") {
    fmt::print(stderr, "SEMANTIC {:.4f} {}\n", reply.similarity.value_or(0.0), key);
  } else {
    fmt::print(stderr, "{} {}\n", hit_word(reply.tier), key);
  }
  for (const auto& rejected : reply.rejected.value_or(Json::array())) {
    fmt::print(stderr, "REJECTED {:.4f} {} ({})\n", rejected.value("similarity", 0.0), rejected.value("key", ""),
               rejected.value("reason", ""));
  }
}

Json
semantic_reply_json(const protocol::ops::SemanticGetReply& reply)
{
  Json out{{"found", reply.found}, {"key", reply.key.value_or("")}};
  if (reply.found) {
    out["match"] = reply.match.value_or("");
    out["similarity"] = reply.similarity.value_or(0.0);
    out["expires_ms"] = time_or_null(reply.expires_ms);
    output::put_value(out, reply.value);
  }
  if (reply.rejected) {
    out["rejected"] = *reply.rejected;
  }
  if (reply.warning) {
    out["warning"] = *reply.warning;
  }
  return out;
}

void
print_reply_warning(const Globals& globals, const std::optional<std::string>& warning, std::string_view what)
{
  if (warning && !warning->empty() && !globals.quiet) {
    fmt::print(stderr, "omnicache: {}: {}\n", what, *warning);
  }
}

void
add_semantic(CLI::App& app, Globals& globals)
{
  auto* layer = app.add_subcommand("semantic", "Answers found by meaning: a question in other words is a hit");
  layer->footer("The exact question matches first, then the nearest stored question of the same model whose\n"
                "similarity reaches the threshold (semantic.threshold, or --threshold) and that the guard\n"
                "accepts: it refuses a question that differs in a number, a name, a negation or the order of\n"
                "its words. Entries are tagged model:MODEL. The default embedder (lexical, offline) finds\n"
                "questions typed again (case, punctuation, small rewordings), not paraphrases: 'Which city is\n"
                "the capital of France?' is a miss at the default threshold 0.95.\n"
                "Examples:\n"
                "  omnicache semantic set 'What is the capital of France?' Paris --model gpt-4o\n"
                "  omnicache semantic get 'what is the capital of france' --model gpt-4o --status   "
                "# Paris; SEMANTIC 1.0000 semantic:...\n"
                "  omnicache semantic get 'What is the capital of Spain?' --model gpt-4o   "
                "# miss, exit 1: the guard refuses it");
  layer->require_subcommand(1);

  auto set_options = std::make_shared<SemanticOptions>();
  auto* set = layer->add_subcommand("set", "Store the answer to a question (the answer from stdin when omitted or -)");
  add_question_options(*set, *set_options);
  set->add_option("value", set_options->value, "The answer; - or nothing reads standard input");
  add_ttl_option(*set, set_options->ttl);
  add_tag_option(*set, set_options->tags, "Tag the entry besides model:MODEL (repeat for several)");
  add_dep_option(*set, set_options->deps);
  set->callback([&globals, set_options] { globals.exit_code = run_set(globals, *set_options); });

  auto get_options = std::make_shared<SemanticOptions>();
  auto* get = layer->add_subcommand("get", "Print the answer to this question or one meaning the same; exit 1 on a miss");
  add_question_options(*get, *get_options);
  add_semantic_lookup_options(*get, get_options->lookup);
  get->add_flag("--status", get_options->status,
                "Print HIT, SEMANTIC <similarity> or MISS and the key on stderr (also OMNICACHE_STATUS=1)");
  get->callback([&globals, get_options] { globals.exit_code = run_get(globals, *get_options); });

  auto reject_options = std::make_shared<RejectOptions>();
  auto* reject = layer->add_subcommand(
    "reject", "Record that the entry KEY wrongly answered QUERY: it no longer answers it or questions close to it");
  reject->add_option("key", reject_options->key, "The key of the wrong answer (from get --status or --json)")
    ->required();
  reject->add_option("--query", reject_options->query, "The question it should not have answered")->required();
  reject->add_option("--vector-file", reject_options->vector_file,
                     "The query's embedding (JSON array or raw float32), for entries stored with --vector-file")
    ->type_name("FILE");
  reject->footer("Works for entries of semantic, response --semantic and run --semantic-text alike. A later\n"
                 "lookup skips that entry for every query at least as similar to QUERY as the threshold in\n"
                 "use; stats counts the reports. Exit 1 when no live entry with a question has KEY.");
  reject->callback([&globals, reject_options] { globals.exit_code = run_reject(globals, *reject_options); });
}

} // namespace omnicache::cli
