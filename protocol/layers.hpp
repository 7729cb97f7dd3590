#pragma once

#include <array>
#include <optional>
#include <string_view>

// Cache layers (DESIGN.md, "Data model"). Each has its own default TTL.
namespace omnicache::protocol {

inline constexpr std::array<std::string_view, 7> k_layer_names{
  "kv", "response", "embedding", "retrieval", "context", "semantic", "run",
};

inline constexpr std::string_view k_default_layer = "kv";

// The tenant of a request that names none.
inline constexpr std::string_view k_default_tenant = "default";

inline bool
is_layer(std::string_view name)
{
  for (auto layer : k_layer_names) {
    if (layer == name) {
      return true;
    }
  }
  return false;
}

// The layers whose entries can be matched by meaning (they may keep the
// embedding of the question they answer): semantic, and response and run
// entries stored with their question.
inline bool
is_semantic_layer(std::string_view name)
{
  return name == "semantic" || name == "response" || name == "run";
}

} // namespace omnicache::protocol
