// The configuration as the daemon loads it: a TOML file, then `-o KEY=VALUE`
// flags. Input: the file's text, optionally followed by a NUL byte and one
// flag per line. A configuration that loads, written out again as a file,
// must load to the same settings.
#include "fuzz/fuzz_check.hpp"
#include "fuzz/scratch_file.hpp"
#include "protocol/config.hpp"

#include <fmt/core.h>

#include <map>
#include <string>
#include <vector>

using namespace omnicache::protocol;
using omnicache::fuzz::ScratchFile;

namespace {

// A fixed environment: the defaults must not depend on the machine.
std::optional<std::string>
environment(const char* name)
{
  static const std::map<std::string, std::string, std::less<>> k_values{
    {"HOME", "/home/fuzz"}, {"XDG_RUNTIME_DIR", "/run/user/fuzz"}, {"XDG_CACHE_HOME", "/home/fuzz/.cache"}};
  const auto it = k_values.find(name);
  return it == k_values.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::optional<Config>
load(std::string_view text, std::vector<FlagValue> flags)
{
  static ScratchFile file;
  ConfigSources sources;
  sources.config_file = file.write(text);
  sources.flags = std::move(flags);
  sources.env = environment;
  try {
    return Config::load(sources);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(*e.what() != '\0');
    return std::nullopt;
  }
}

// "-o KEY=VALUE" lines, split as omnicached splits them.
std::vector<FlagValue>
flags_of(std::string_view text)
{
  std::vector<FlagValue> flags;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (const auto eq = line.find('='); eq != std::string_view::npos) {
      const std::string key(line.substr(0, eq));
      flags.push_back({key, std::string(line.substr(eq + 1)), "-o " + key});
    }
  }
  return flags;
}

// A TOML basic string; nullopt when the text is not UTF-8, which TOML cannot hold.
std::optional<std::string>
toml_string(std::string_view text)
{
  if (!omnicache::fuzz::is_utf8(text)) {
    return std::nullopt;
  }
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\u{:04X}", byte);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::optional<std::string>
toml_strings(const std::vector<std::string>& items)
{
  if (items.size() == 1) {
    return toml_string(items[0]); // a plain string may be empty, an array item may not
  }
  std::string out = "[";
  for (const auto& item : items) {
    const auto text = toml_string(item);
    if (!text) {
      return std::nullopt;
    }
    out += (out.size() == 1 ? "" : ", ") + *text;
  }
  return out + "]";
}

// Every setting of `settings` as a config file; nullopt when one cannot be written.
std::optional<std::string>
as_file(const Settings& settings)
{
  std::string out;
  std::string_view section;
  for (const auto& spec : setting_specs()) {
    const auto dot = spec.key.find('.');
    const auto value = toml_string(setting_text(spec, settings));
    if (!value) {
      return std::nullopt;
    }
    if (spec.key.substr(0, dot) != section) {
      section = spec.key.substr(0, dot);
      out += fmt::format("[{}]\n", section);
    }
    out += fmt::format("{} = {}\n", spec.key.substr(dot + 1), *value);
  }
  for (const auto& [model, price] : settings.prices) {
    const auto name = toml_string(model);
    if (!name) {
      return std::nullopt;
    }
    out += fmt::format("[prices.{}]\ninput = {}\noutput = {}\n", *name, price.input, price.output);
  }
  for (const auto& [event, rule] : settings.rules) {
    const auto name = toml_string(event);
    if (!name) {
      return std::nullopt;
    }
    out += fmt::format("[rules.{}]\n", *name);
    const std::pair<const char*, const std::vector<std::string>*> parts[] = {
      {"tags", &rule.tags}, {"patterns", &rule.patterns}, {"layers", &rule.layers}, {"deps", &rule.deps}};
    for (const auto& [part, items] : parts) {
      if (items->empty()) {
        continue;
      }
      const auto text = toml_strings(*items);
      if (!text) {
        return std::nullopt;
      }
      out += fmt::format("{} = {}\n", part, *text);
    }
  }
  return out;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const auto flags = flags_of(nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1));

  const auto config = load(text, flags);
  if (!config) {
    return 0;
  }
  const Settings& settings = config->settings();
  FUZZ_CHECK(settings.max_header_bytes <= settings.max_frame_bytes);
  const auto shown = config->show();
  for (const auto& flag : flags) {
    const auto it = std::find_if(shown.begin(), shown.end(), [&](const auto& s) { return s.key == flag.key; });
    FUZZ_CHECK(it != shown.end() && it->origin == Origin::flag);
  }

  const auto file = as_file(settings);
  if (!file) {
    return 0;
  }
  const auto again = load(*file, {});
  if (!again) {
    std::fprintf(stderr, "the configuration written out does not load:\n%s\n", file->c_str());
  }
  FUZZ_CHECK(again);
  const auto changed = config->changed_keys(*again);
  for (const auto& key : changed) {
    std::fprintf(stderr, "changed when written out and loaded again: %s\n", key.c_str());
  }
  FUZZ_CHECK(changed.empty());
  return 0;
}
