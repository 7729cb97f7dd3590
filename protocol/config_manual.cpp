#include "protocol/config_manual.hpp"

#include "protocol/config.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <charconv>

namespace omnicache::protocol {

namespace {

// scdoc reads * and _ as emphasis and \ as an escape; the help texts and keys
// contain all three as plain characters.
std::string
escaped(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\' || c == '*' || c == '_') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// The default as `config template` writes it; empty when it is computed at
// start-up (paths) or means "unset".
std::string
default_text(const SettingSpec& spec)
{
  if (spec.fallback.empty()) {
    return {};
  }
  Settings defaults;
  switch (spec.kind) {
  case Kind::string:
  case Kind::path:
  case Kind::choice:
    defaults.*std::get<std::string Settings::*>(spec.field) = std::string(spec.fallback);
    break;
  case Kind::size:
  case Kind::count:
    defaults.*std::get<std::uint64_t Settings::*>(spec.field) = parse_size(spec.fallback).value_or(0);
    break;
  case Kind::duration:
    defaults.*std::get<std::int64_t Settings::*>(spec.field) = parse_duration_ms(spec.fallback).value_or(0);
    break;
  case Kind::fraction: {
    double value = 0;
    std::from_chars(spec.fallback.data(), spec.fallback.data() + spec.fallback.size(), value);
    defaults.*std::get<double Settings::*>(spec.field) = value;
    break;
  }
  }
  return setting_text(spec, defaults);
}

std::string_view
kind_name(Kind kind)
{
  switch (kind) {
  case Kind::string:
    return "string";
  case Kind::path:
    return "path";
  case Kind::choice:
    return "choice";
  case Kind::size:
    return "size";
  case Kind::count:
    return "integer";
  case Kind::duration:
    return "duration";
  case Kind::fraction:
    return "number";
  }
  return "string";
}

} // namespace

std::string
config_manual()
{
  std::string out = "# KEYS\n\n"
                    "Every key of the file, by section, with its type, its default, the environment variable "
                    "that overrides it, and whether the daemon applies a change on SIGHUP (*live*) or only "
                    "when it restarts.\n";
  std::string_view section;
  for (const auto& spec : setting_specs()) {
    const auto dot = spec.key.rfind('.');
    const auto this_section = spec.key.substr(0, dot);
    if (this_section != section) {
      section = this_section;
      out += fmt::format("\n## [{}]\n", escaped(section));
    }
    const auto value = default_text(spec);
    const bool quoted = spec.kind != Kind::count && spec.kind != Kind::fraction;
    std::string shown;
    if (value.empty()) {
      shown = spec.kind == Kind::path ? "computed at start-up, see above" : "empty (unset)";
    } else {
      shown = quoted ? fmt::format("*\"{}\"*", escaped(value)) : fmt::format("*{}*", escaped(value));
    }
    out += fmt::format("\n*{}* ({})\n", escaped(spec.key.substr(dot + 1)), kind_name(spec.kind));
    out += fmt::format("\t{}\n\n", escaped(spec.help));
    out += fmt::format("\tDefault: {}. Environment: *{}*. {}\n", shown, escaped(spec.env),
                       spec.live ? "Live: a change applies on SIGHUP." : "Needs a restart.");
  }
  return out;
}

} // namespace omnicache::protocol
