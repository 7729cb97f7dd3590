#pragma once

#include "protocol/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// What an entry of a structured layer carries besides its key and value:
// the default tags that `invalidate --model/--session` find, and the meta
// that turns a hit into tokens and money saved. `omnicache response`,
// `warm` and (later) the HTTP proxy all build their entries here.
namespace omnicache::cli::llm {

// Token counts of one answer, from flags or from the answer's `usage`.
struct Usage
{
  std::optional<std::uint64_t> prompt_tokens;
  std::optional<std::uint64_t> completion_tokens;
};

// Reads `usage` from an OpenAI-shaped (prompt_tokens, completion_tokens) or
// Anthropic-shaped (input_tokens, output_tokens) JSON response. Anything
// else, including text that is not JSON, gives no counts.
Usage usage_of_answer(std::string_view answer);

// {"model": M, "prompt_tokens": n, "completion_tokens": n}, counts only when
// known.
protocol::Json meta_of(std::string_view model, const Usage& usage);

// The tags every entry gets from its coordinates, so that invalidation by
// model, session or retriever finds it.
std::string model_tag(std::string_view model);         // "model:<M>"
std::string session_tag(std::string_view session);     // "session:<S>"
std::string retriever_tag(std::string_view retriever); // "retriever:<R>"

// Appends `extra` to `tags`, leaving out any already there.
void add_tags(std::vector<std::string>& tags, const std::vector<std::string>& extra);

// The set fields of a response entry for `model` and `prompt` (a single user
// turn), as `omnicache response set --prompt` and `warm` store it: key,
// layer, tags (model tag first, then `tags`), meta.
protocol::Json response_fields(std::string_view model, std::string_view prompt, const std::vector<std::string>& tags,
                               const Usage& usage);

} // namespace omnicache::cli::llm
