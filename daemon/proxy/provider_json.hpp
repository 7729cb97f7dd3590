#pragma once

#include "protocol/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Lenient reading of provider JSON, shared by provider.cpp,
// provider_embeddings.cpp and provider_stream.cpp: a missing or mistyped
// member is nullopt or nullptr, never an exception.
namespace omnicache::daemon::proxy::json_read {

using protocol::Json;

// Built responses keep the providers' member order, so they read like the real ones.
using Out = nlohmann::ordered_json;

inline std::string
dump(const Out& value)
{
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

inline std::optional<Json>
parse_json(std::string_view text)
{
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return std::nullopt;
  }
  return value;
}

inline const Json*
member(const Json& object, const char* name)
{
  if (!object.is_object()) {
    return nullptr;
  }
  const auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

inline std::optional<std::uint64_t>
count(const Json& object, const char* name)
{
  const Json* value = member(object, name);
  if (value == nullptr || !value->is_number_integer() || *value < 0) {
    return std::nullopt;
  }
  return value->get<std::uint64_t>();
}

} // namespace omnicache::daemon::proxy::json_read
