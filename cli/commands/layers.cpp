// embedding, retrieval and context: the structured layers besides response
// (response.cpp). Each names its entries by what they answer (model and
// text, retriever and query, session and turn) and turns that into the
// layer's canonical key (protocol/canonical.hpp), so that the command, warm
// and the HTTP proxy find each other's entries.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/commands/layer_actions.hpp"
#include "cli/exit_codes.hpp"
#include "cli/llm.hpp"
#include "cli/output.hpp"
#include "protocol/canonical.hpp"
#include "protocol/error.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>

namespace omnicache::cli {

using protocol::Json;

namespace {

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
  layer::add_actions(
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
      {"key", protocol::retrieval_key(options->retriever, options->query, options->top_k,
                                      layer::params_of(options->params))},
      {"layer", "retrieval"},
      {"tags", Json::array({llm::retriever_tag(options->retriever)})}};
  };
  layer::add_actions(
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
    describe, documents, layer::print_raw, "The documents as a JSON array; - or nothing reads standard input",
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
  layer::add_actions(
    *layer, globals,
    [options](CLI::App& command) {
      command.add_option("-s,--session", options->session, "Session id")->required();
      command.add_option("--turn", options->turn, "Turn number, from 0")
        ->required()
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 53));
    },
    describe, layer::unchanged, layer::print_raw, "The state; - or nothing reads standard input",
    "a conversation's state");

  auto session = std::make_shared<std::string>();
  auto* invalidate = layer->add_subcommand("invalidate", "Remove every turn of a session; prints the count");
  invalidate->add_option("-s,--session", *session, "Session id")->required();
  invalidate->callback([&globals, session] {
    auto client = Client::connect(globals);
    protocol::ops::InvalidateRequest request;
    request.tags = std::vector<std::string>{llm::session_tag(*session)};
    request.layer = "context";
    print_count(globals, "removed", client.call<protocol::ops::Invalidate>(request).removed);
  });
}

} // namespace

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
