#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace omnicache::cli {

namespace {

using protocol::Json;

constexpr std::uint64_t k_page = 1000;
// How much of a prompt or a command line a long listing shows.
constexpr std::size_t k_what_chars = 60;

struct KeysOptions
{
  std::string pattern;
  std::vector<std::string> tags;
  std::string layer;
  std::uint64_t limit = 0;
  bool long_listing = false;
};

// One line of text: runs of blanks and control characters become one space,
// cut at `k_what_chars` (on a character boundary) with an ellipsis.
std::string
keys_one_line(std::string_view text)
{
  std::string out;
  for (const char ch : text) {
    const bool blank = static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f;
    if (blank) {
      if (!out.empty() && out.back() != ' ') {
        out += ' ';
      }
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  if (out.size() > k_what_chars) {
    std::size_t cut = k_what_chars;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) {
      --cut;
    }
    out = out.substr(0, cut) + "…";
  }
  return out;
}

// What the entry is, from what its writer recorded: the command line of a
// run, the model and the prompt of a response (and of any entry stored with
// a question). Nothing for plain entries: their values are not read for a
// listing.
std::string
keys_what(const Json& entry)
{
  const Json meta = entry.value("meta", Json::object());
  const auto text = [&meta](const char* name) {
    const auto it = meta.is_object() ? meta.find(name) : meta.end();
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (entry.value("layer", "") == "run") {
    if (const auto argv = meta.is_object() ? meta.find("argv") : meta.end(); argv != meta.end() && argv->is_array()) {
      return keys_one_line(output::command_line(*argv));
    }
    if (const auto command = text("command"); !command.empty()) {
      return keys_one_line(output::shell_word(command));
    }
  }
  std::string prompt = text("prompt");
  if (prompt.empty()) {
    prompt = entry.value("question", "");
  }
  const auto model = text("model");
  if (prompt.empty()) {
    return model;
  }
  return model.empty() ? keys_one_line(prompt) : keys_one_line(model + ": " + prompt);
}

std::string
keys_ttl(const Json& ttl)
{
  if (!ttl.is_number()) {
    return "-";
  }
  // Whole seconds, rounded up: an entry about to go is not shown as 0.
  const auto ms = ttl.get<std::int64_t>();
  return protocol::format_duration_ms((ms + 999) / 1000 * 1000);
}

std::string
keys_size(std::uint64_t bytes)
{
  auto text = protocol::format_size(bytes);
  std::erase(text, ' '); // one word, like the other columns
  return text;
}

// A page of the long listing: layer, size, TTL left, hits, key, what the
// entry is; columns aligned within the page.
void
print_long_page(const Json& entries)
{
  std::vector<std::array<std::string, 6>> rows;
  std::array<std::size_t, 6> widths{};
  for (const auto& entry : entries) {
    if (!entry.value("found", false)) {
      continue; // gone since the page was listed
    }
    rows.push_back({entry.value("layer", ""), keys_size(entry.value("raw_size", std::uint64_t{0})),
                    keys_ttl(entry["ttl_ms"]), std::to_string(entry.value("hits", std::uint64_t{0})),
                    output::printable_key(entry.value("key", "")), keys_what(entry)});
    for (std::size_t i = 0; i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], rows.back()[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = fmt::format("{:<{}}  {:>{}}  {:>{}}  {:>{}}  {:<{}}  {}", row[0], widths[0], row[1], widths[1],
                                   row[2], widths[2], row[3], widths[3], row[4], widths[4], row[5]);
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    output::print_line(line);
  }
}

int
run_keys(Globals& globals, const KeysOptions& options)
{
  auto client = Client::connect(globals);
  Json all = Json::array();
  Json all_entries = Json::array();
  std::string after;
  std::uint64_t listed = 0;
  for (;;) {
    std::uint64_t want = k_page;
    if (options.limit != 0) {
      want = std::min(want, options.limit - listed);
    }
    protocol::ops::KeysRequest request;
    request.after = after;
    request.limit = static_cast<std::int64_t>(want);
    request.details = options.long_listing;
    put_listing_selection(request, options.pattern, options.tags, options.layer);
    const auto reply = client.call<protocol::ops::Keys>(request);
    listed += reply.keys.size();
    if (globals.json) {
      // Raw: JSON escapes what needs escaping, and scripts want the bytes.
      for (const auto& key : reply.keys) {
        all.push_back(key);
      }
      if (options.long_listing) {
        for (const auto& entry : reply.entries.value_or(Json::array())) {
          if (entry.value("found", false)) {
            Json copy = entry;
            copy.erase("found");
            all_entries.push_back(std::move(copy));
          }
        }
      }
    } else if (options.long_listing) {
      print_long_page(reply.entries.value_or(Json::array()));
    } else {
      for (const auto& key : reply.keys) {
        output::print_line(output::printable_key(key));
      }
    }
    if (!reply.next || (options.limit != 0 && listed >= options.limit)) {
      break;
    }
    after = *reply.next;
  }
  if (globals.json) {
    Json out{{"keys", std::move(all)}};
    if (options.long_listing) {
      out["entries"] = std::move(all_entries);
    }
    output::print_json(out);
  }
  return 0;
}

constexpr const char* k_keys_footer = R"(A key holding a newline, a control byte or bytes that are not UTF-8 is printed
quoted with C escapes ("a\nb", "\x00"), as redis-cli does; --json gives keys as
they are.
With -l, one entry a line: layer, size, time to live (- for none), hits, key,
and what the entry is: the model and the prompt's first words for a response,
the command line of a run, the model and question of other LLM entries.
Examples:
  omnicache keys 'user:*'
  omnicache keys -l --layer response
  omnicache keys --tag demo -n 10 --json)";

} // namespace

void
add_keys(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<KeysOptions>();
  auto* command = app.add_subcommand("keys", "List live keys in key order, by glob pattern, tag and layer");
  command->add_option("pattern", options->pattern,
                      "Glob: * any run, ? one character, [abc] a set, [^abc] not in it (default: every key)");
  add_tag_option(*command, options->tags, "Only keys carrying this tag (repeat: any of them)");
  add_layer_option(*command, options->layer, "Only keys of this layer");
  command->add_option("-n,--limit", options->limit, "List at most this many (default: all)");
  command->add_flag("-l,--long", options->long_listing,
                    "A long listing: layer, size, TTL left, hits, key, and the prompt or command line");
  command->footer(k_keys_footer);
  command->callback([&globals, options] { globals.exit_code = run_keys(globals, *options); });
}

} // namespace omnicache::cli
