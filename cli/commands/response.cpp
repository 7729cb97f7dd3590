// response: LLM answers keyed by model, messages and parameters. A request
// given whole (--messages FILE holding a request body) keys exactly as the
// HTTP proxy keys that body (protocol::response_request), so each finds the
// other's entries.
#include "cli/commands/command.hpp"
#include "cli/commands/layer_actions.hpp"
#include "cli/exit_codes.hpp"
#include "cli/llm.hpp"
#include "protocol/canonical.hpp"
#include "protocol/error.hpp"

#include <fmt/core.h>

namespace omnicache::cli {

using protocol::Json;

namespace {

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
response_file_json(const std::string& path)
{
  const std::string text = layer::read_file_or_stdin(path, "the messages file");
  Json parsed = Json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    throw CliError(k_exit_usage, fmt::format("{} is not valid JSON", path));
  }
  return parsed;
}

// Options beside a whole request edit it before it is keyed: --model
// replaces its model and each --param sets one member, so the key is the
// proxy's key for the body so edited, never one that no body has. Scripts
// that pass a request with its parameters repeated as --param keep working.
protocol::ResponseRequest
whole_request(Json body, const ResponseOptions& options)
{
  const auto& path = options.messages_file;
  const auto input = protocol::request_input_of(body);
  if (!input) {
    throw CliError(k_exit_usage, fmt::format("the request in {} has neither \"messages\" nor \"prompt\"", path));
  }
  const bool has_model = body.contains("model");
  if (!options.model.empty()) {
    body["model"] = options.model;
  }
  const Json params = layer::params_of(options.params);
  for (const auto& [name, value] : params.items()) {
    if (name == "model" || name == "messages" || name == "prompt") {
      throw CliError(k_exit_usage, fmt::format("--param {} cannot edit the request in {}: it is no parameter{}",
                                               name, path, name == "model" ? "; use --model" : ""));
    }
    body[name] = value;
  }
  try {
    return protocol::response_request(std::move(body), *input);
  } catch (const protocol::Error& e) {
    const bool no_model = !has_model && options.model.empty();
    throw CliError(k_exit_usage, no_model ? fmt::format("{} in {}: give it there or with --model", e.what(), path)
                                          : fmt::format("{} in {}", e.what(), path));
  }
}

// The model, messages and parameters that name the entry.
protocol::ResponseRequest
response_request_of(const ResponseOptions& options)
{
  if (options.prompt.empty() && options.messages_file.empty()) {
    throw CliError(k_exit_usage, "give the request as --prompt TEXT or --messages FILE");
  }
  protocol::ResponseRequest request;
  if (options.messages_file.empty()) {
    request.messages = protocol::prompt_messages(options.prompt);
  } else {
    Json parsed = response_file_json(options.messages_file);
    if (parsed.is_object()) {
      return whole_request(std::move(parsed), options);
    }
    if (!parsed.is_array()) {
      throw CliError(k_exit_usage, fmt::format("{} holds {}, not a messages array or a request object",
                                               options.messages_file, parsed.type_name()));
    }
    request.messages = std::move(parsed);
  }
  if (options.model.empty()) {
    throw CliError(k_exit_usage, "give the model with --model");
  }
  request.model = options.model;
  request.params = layer::params_of(options.params);
  return request;
}

void
add_response_options(CLI::App& command, ResponseOptions& options)
{
  command.add_option("-m,--model", options.model,
                     "Model name, as requests name it (with a whole request in --messages, replaces its model)");
  auto* prompt = command.add_option("-p,--prompt", options.prompt, "A single user message");
  auto* messages = command
                     .add_option("--messages", options.messages_file,
                                 "An OpenAI-style messages array, or a whole chat/messages/completions request "
                                 "body keyed as the proxy keys it, in a file; - is stdin")
                     ->type_name("FILE");
  prompt->excludes(messages);
  messages->excludes(prompt);
  command
    .add_option("--param", options.params,
                "A request parameter NAME=VALUE (temperature=0); repeat for several; with a whole request, "
                "sets that member")
    ->type_name("NAME=VALUE")
    ->allow_extra_args(false);
}

constexpr const char* k_response_footer =
  "The key ignores object-key order, whitespace, 0 vs 0.0 and the parameters stream, stream_options,\n"
  "user and metadata. --prompt P means [{\"role\":\"user\",\"content\":P}]. --messages FILE takes a\n"
  "messages array, or a whole request body (OpenAI chat or completions, Anthropic messages): that\n"
  "keys exactly as the proxy keys the same body, every member but model and messages (or prompt)\n"
  "being a parameter (system, tools, temperature...). --model and --param beside a whole request\n"
  "edit it first: --model replaces its model, each --param sets that member. Entries are tagged\n"
  "model:MODEL (invalidate --model MODEL). Token counts come from --prompt-tokens and\n"
  "--completion-tokens or from the value's usage when it is an OpenAI or Anthropic response.\n"
  "Examples (messages.json holding [{\"role\":\"user\",\"content\":\"What is 2+2?\"}], request.json\n"
  "{\"model\":\"gpt-4o\",\"messages\":[that turn],\"temperature\":0}):\n"
  "  omnicache response set --model gpt-4o --prompt 'What is 2+2?' --param temperature=0 4\n"
  "  omnicache response get --model gpt-4o --messages messages.json --param temperature=0   # 4\n"
  "  omnicache response get --messages request.json --status   # 4; HIT response:...\n"
  "  omnicache response get --model gpt-4o --prompt 'what is 2+2' --param temperature=0 --semantic --status"
  "   # 4; SEMANTIC 1.0000 response:...\n"
  "An entry whose last message is the user's text is stored with that text's embedding, so\n"
  "get --semantic finds it for the same question in other words, among entries with the same\n"
  "model, earlier messages and parameters.";

} // namespace

void
add_response(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<ResponseOptions>();
  auto action = std::make_shared<layer::Action>();
  auto* command = app.add_subcommand("response", "LLM answers keyed by model, messages and parameters");
  command->footer(k_response_footer);
  auto describe = [options, action] {
    if (options->messages_file == "-" && layer::set_reads_stdin(*action)) {
      throw CliError(k_exit_usage, "--messages - and a value from standard input cannot share it; give one a file");
    }
    const auto request = response_request_of(*options);
    Json fields{{"key", protocol::response_key(request)},
                {"layer", "response"},
                {"tags", Json::array({llm::model_tag(request.model)})},
                {"meta", llm::meta_of(request.model, {})}};
    if (const auto question = protocol::response_question(request.messages, request.params)) {
      fields["question"] = {{"text", question->text}, {"context", question->context}, {"model", request.model}};
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
    fields["meta"] = llm::meta_of(fields["meta"]["model"].get<std::string>(), usage);
  };
  layer::add_actions(
    *command, globals, [options](CLI::App& sub) { add_response_options(sub, *options); }, describe,
    layer::unchanged, layer::print_raw, "The answer; - or nothing reads standard input", "an LLM answer", enrich,
    action);
  auto* get = command->get_subcommand("get");
  auto* semantic = get->add_flag("--semantic", action->semantic,
                                 "When no entry has the exact key, accept the answer to the same last question in "
                                 "other words (same model, earlier turns and parameters; see semantic)");
  add_semantic_lookup_options(*get, action->lookup);
  get->get_option("--threshold")->needs(semantic);
  get->get_option("--no-guard")->needs(semantic);
  auto* set = command->get_subcommand("set");
  set->add_option("--prompt-tokens", options->prompt_tokens, "Tokens the request cost (input)");
  set->add_option("--completion-tokens", options->completion_tokens, "Tokens the answer cost (output)");
}

} // namespace omnicache::cli
