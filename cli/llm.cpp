#include "cli/llm.hpp"

#include "protocol/canonical.hpp"

#include <algorithm>

namespace omnicache::cli::llm {

using protocol::Json;

namespace {

std::optional<std::uint64_t>
count_of(const Json& usage, const char* name)
{
  const auto it = usage.find(name);
  if (it == usage.end() || !it->is_number_unsigned()) {
    return std::nullopt;
  }
  return it->get<std::uint64_t>();
}

} // namespace

Usage
usage_of_answer(std::string_view answer)
{
  // Cheap refusal first: most values are not JSON objects at all.
  const auto start = answer.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || answer[start] != '{') {
    return {};
  }
  const Json parsed = Json::parse(answer.begin(), answer.end(), nullptr, false);
  if (!parsed.is_object()) {
    return {};
  }
  const auto usage = parsed.find("usage");
  if (usage == parsed.end() || !usage->is_object()) {
    return {};
  }
  Usage out;
  out.prompt_tokens = count_of(*usage, "prompt_tokens");
  out.completion_tokens = count_of(*usage, "completion_tokens");
  if (!out.prompt_tokens) {
    out.prompt_tokens = count_of(*usage, "input_tokens");
  }
  if (!out.completion_tokens) {
    out.completion_tokens = count_of(*usage, "output_tokens");
  }
  return out;
}

Json
meta_of(std::string_view model, const Usage& usage)
{
  Json meta{{"model", std::string(model)}};
  if (usage.prompt_tokens) {
    meta["prompt_tokens"] = *usage.prompt_tokens;
  }
  if (usage.completion_tokens) {
    meta["completion_tokens"] = *usage.completion_tokens;
  }
  return meta;
}

std::string
model_tag(std::string_view model)
{
  return "model:" + std::string(model);
}

std::string
session_tag(std::string_view session)
{
  return "session:" + std::string(session);
}

std::string
retriever_tag(std::string_view retriever)
{
  return "retriever:" + std::string(retriever);
}

void
add_tags(std::vector<std::string>& tags, const std::vector<std::string>& extra)
{
  for (const auto& tag : extra) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
      tags.push_back(tag);
    }
  }
}

Json
response_fields(std::string_view model, std::string_view prompt, const std::vector<std::string>& tags,
                const Usage& usage)
{
  std::vector<std::string> all{model_tag(model)};
  add_tags(all, tags);
  return Json{{"key", protocol::response_key(model, protocol::prompt_messages(prompt), Json::object())},
              {"layer", "response"},
              {"tags", std::move(all)},
              {"meta", meta_of(model, usage)}};
}

} // namespace omnicache::cli::llm
