#pragma once

#include "protocol/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

// How a request or reply struct maps to its JSON header: each struct lists
// its fields once (name and member), and these templates read and write
// them. The wire names live only in those lists, so a field the daemon reads
// and the client writes is one name the compiler checks on both sides.
//
// The C++ type of a member says how it travels:
//   std::string, std::int64_t        required
//   std::optional<T>                 absent when nullopt (null reads as absent)
//   std::optional<std::optional<T>>  absent, or null, or a value ("integer or null")
//   bool                             false when absent
//   std::vector<std::string>         [] when absent
//   Json                             any JSON, checked by whoever reads it
// A request leaves out what is absent or at its default (false, [], null),
// so that the frame a client sends is the one it always sent; a reply writes
// every member but the empty optionals.
namespace omnicache::protocol::ops {

template <class Struct, class Member>
struct Field
{
  const char* name;
  Member Struct::*member;
};

template <class Struct, class Member>
constexpr Field<Struct, Member>
field(const char* name, Member Struct::*member)
{
  return {name, member};
}

// "T or null", always present: null until given a value.
template <class T>
using OrNull = std::optional<std::optional<T>>;

// Specialised once per struct, next to it: `static constexpr auto fields = std::tuple{field(...), ...};`
template <class Struct>
struct Fields;

namespace detail {

template <class T>
struct is_optional : std::false_type
{
};
template <class T>
struct is_optional<std::optional<T>> : std::true_type
{
};

// `field` is present and not null in `header`.
template <class T>
T
read_present(const Json& header, const char* field)
{
  if constexpr (std::is_same_v<T, std::string>) {
    return required_string(header, field);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return required_int(header, field);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return static_cast<std::uint64_t>(required_int(header, field));
  } else if constexpr (std::is_same_v<T, double>) {
    return required_number(header, field);
  } else if constexpr (std::is_same_v<T, bool>) {
    return optional_bool(header, field, false);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return optional_strings(header, field);
  } else if constexpr (std::is_same_v<T, Json>) {
    return header.at(field);
  } else {
    static_assert(sizeof(T) == 0, "a field type the codec does not know");
  }
}

template <class T>
void
read_field(const Json& header, const char* name, T& out)
{
  const auto it = header.find(name);
  const bool absent = it == header.end() || it->is_null();
  if constexpr (is_optional<T>::value) {
    using Inner = typename T::value_type;
    if (it == header.end()) {
      out.reset();
    } else if constexpr (is_optional<Inner>::value) {
      out = it->is_null() ? Inner{} : Inner{read_present<typename Inner::value_type>(header, name)};
    } else if (absent) {
      out.reset();
    } else {
      out = read_present<Inner>(header, name);
    }
  } else if constexpr (std::is_same_v<T, Json>) {
    out = it == header.end() ? Json() : *it;
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::vector<std::string>>) {
    out = absent ? T{} : read_present<T>(header, name);
  } else {
    // Required: the helpers name a missing field.
    out = read_present<T>(header, name);
  }
}

template <class T>
Json
to_json(const T& value)
{
  if constexpr (is_optional<T>::value) {
    return value ? to_json(*value) : Json(nullptr);
  } else {
    return Json(value);
  }
}

template <class T>
bool
is_empty_optional(const T& value)
{
  if constexpr (is_optional<T>::value) {
    return !value.has_value();
  } else {
    (void)value;
    return false;
  }
}

template <class T>
bool
is_default(const T& value)
{
  if constexpr (is_optional<T>::value) {
    return !value.has_value();
  } else if constexpr (std::is_same_v<T, bool>) {
    return !value;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return value.empty();
  } else if constexpr (std::is_same_v<T, Json>) {
    return value.is_null();
  } else {
    return false;
  }
}

} // namespace detail

// The struct read from a header; throws Error(bad_request) naming the field.
template <class Struct>
Struct
decode(const Json& header)
{
  Struct out{};
  std::apply([&](const auto&... f) { (detail::read_field(header, f.name, out.*(f.member)), ...); },
             Fields<Struct>::fields);
  return out;
}

enum class Omit { defaults, empty_optionals };

// The header's fields. `Omit::defaults` (requests) leaves out every member at
// its default; `Omit::empty_optionals` (replies) only the empty optionals.
template <class Struct>
Json
encode(const Struct& in, Omit omit)
{
  Json out = Json::object();
  std::apply(
    [&](const auto&... f) {
      (
        [&] {
          const auto& member = in.*(f.member);
          const bool skip =
            omit == Omit::defaults ? detail::is_default(member) : detail::is_empty_optional(member);
          if (!skip) {
            out[f.name] = detail::to_json(member);
          }
        }(),
        ...);
    },
    Fields<Struct>::fields);
  return out;
}

// The wire names of a struct's fields, in the order it lists them.
template <class Struct>
std::vector<std::string_view>
field_names()
{
  return std::apply([](const auto&... f) { return std::vector<std::string_view>{f.name...}; },
                    Fields<Struct>::fields);
}

} // namespace omnicache::protocol::ops
