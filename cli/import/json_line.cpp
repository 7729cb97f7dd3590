#include "cli/import/json_line.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string>

namespace omnicache::cli::import {

namespace {

// Ordered, so that fields keep the order of the members in the line.
using Json = nlohmann::ordered_json;

constexpr auto k_json_npos = std::string_view::npos;

// nlohmann's message without its exception id and without the bytes it last
// read, which may be long or not UTF-8: "syntax error while parsing object -
// unexpected '}'; expected string literal (column 9)".
std::string
json_reason(std::string_view what)
{
  if (const auto id_end = what.find("] "); id_end != k_json_npos) {
    what.remove_prefix(id_end + 2);
  }
  std::string_view column;
  if (what.starts_with("parse error at line ")) {
    const auto start = what.find("column ");
    const auto colon = what.find(": ", start);
    if (start != k_json_npos && colon != k_json_npos) {
      column = what.substr(start, colon - start);
      what.remove_prefix(colon + 2);
    }
  }
  what = what.substr(0, what.find("; last read"));
  return column.empty() ? std::string(what) : fmt::format("{} ({})", what, column);
}

// The text a member value stands for; nullopt for null, an absent field.
std::optional<std::string>
field_text(const Json& value)
{
  if (value.is_null()) {
    return std::nullopt;
  }
  if (value.is_string()) {
    return value.get<std::string>();
  }
  const auto is_string = [](const Json& item) { return item.is_string(); };
  if (value.is_array() && std::all_of(value.begin(), value.end(), is_string)) {
    std::string joined;
    for (std::size_t i = 0; i < value.size(); ++i) {
      joined += i == 0 ? "" : ";";
      joined += value[i].get_ref<const std::string&>();
    }
    return joined;
  }
  return value.dump();
}

} // namespace

Record
parse_json_line(std::size_t line, std::string_view text)
{
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    return RowError{line, "not valid JSON: " + json_reason(e.what())};
  }
  if (!json.is_object()) {
    const std::string_view type = json.type_name();
    const std::string_view article = type == "array" ? "an " : type == "null" ? "" : "a ";
    return RowError{line, fmt::format("expected a JSON object, found {}{}", article, type)};
  }
  Row row{line, {}};
  row.fields.reserve(json.size());
  for (const auto& [key, value] : json.items()) {
    if (auto field = field_text(value)) {
      row.fields.emplace_back(key, std::move(*field));
    }
  }
  return row;
}

} // namespace omnicache::cli::import
