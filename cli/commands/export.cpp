// export: write a tenant's entries to a CSV or JSON Lines file that `warm`
// reads back, a page of whole entries at a time.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/export/entry_writer.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

namespace omnicache::cli {

namespace {

using protocol::Json;

constexpr const char* k_export_footer = R"(Writes one record per live entry of the tenant (--tenant), in key order, with
what `omnicache warm` reads back:
  key, layer
  ttl       the TTL left when the entry was read, as 1234ms, or never
  tags      tags joined with ';' (a JSON array in JSON Lines)
  deps      the dependencies and the versions they were built from, as JSON
  meta      the entry's metadata (token counts, model...), as JSON
  encoding  base64 when the value is not UTF-8 text (the value column then holds
            its base64), text for an empty value, else empty
  value     the value
So `omnicache export | omnicache --tenant copy warm -` copies a tenant, and
`omnicache export saved.jsonl` and a later `omnicache warm saved.jsonl` carry a
cache over a move. The embedding an entry may keep for lookups by meaning is
not exported: the copy answers exact lookups only.
The entries are read a page at a time, not from one snapshot: an entry written
or removed while export runs may or may not be in the file.

The format is --format, else the file's extension (.jsonl and .ndjson are JSON
Lines), else CSV: the rule warm follows, so the two agree on standard output.

Tags or dependency names that hold ';' or blanks at either end are written as a
JSON array (in JSON Lines, as that array's text), which warm reads back whole.
With a FILE, a summary says how many entries were written
(--json: {"file", "format", "entries"}); on standard output only the entries
are written.

Exit codes: 0 when every entry was written; 2 when FILE cannot be written or an
option is wrong; 3 and 4 as for every command.

Examples:
  omnicache export cache.csv
  omnicache export --layer response --format jsonl > responses.jsonl
  omnicache export --tag batch:1 | omnicache --tenant staging warm -)";

// Entries per request: a page is one round trip (the daemon also ends a
// page early when its values pass a few MiB).
constexpr std::uint64_t k_export_page = 500;

struct ExportOptions
{
  std::string file = "-";
  std::string format;
  std::string layer;
  std::vector<std::string> tags;
  std::string pattern;
};

// The output file, closed on every way out; standard output is left open.
struct ExportOutput
{
  explicit ExportOutput(const std::string& path)
    : name(path == "-" ? "standard output" : path)
  {
    stream = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
    if (stream == nullptr) {
      throw CliError(k_exit_usage, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
  }
  ~ExportOutput()
  {
    if (stream != nullptr && stream != stdout) {
      std::fclose(stream);
    }
  }
  ExportOutput(const ExportOutput&) = delete;
  ExportOutput& operator=(const ExportOutput&) = delete;

  // Flushes and closes, so that a full disk is an error, not a short file.
  void finish()
  {
    const bool failed = std::fflush(stream) != 0 || (stream != stdout && std::fclose(std::exchange(stream, nullptr)) != 0);
    if (failed) {
      fail(errno);
    }
  }

  [[noreturn]] void fail(int error) const
  {
    throw CliError(k_exit_usage, fmt::format("cannot write {}: {}", name, std::strerror(error)));
  }

  std::string name;
  std::FILE* stream = nullptr;
};

protocol::ops::ExportRequest
export_request(const ExportOptions& options, const std::string& after)
{
  protocol::ops::ExportRequest request;
  request.after = after;
  request.limit = k_export_page;
  put_listing_selection(request, options.pattern, options.tags, options.layer);
  return request;
}

// Writes the page's entries; returns how many.
std::uint64_t
write_export_page(export_file::EntryWriter& writer, const protocol::ops::ExportReply& reply)
{
  std::uint64_t written = 0;
  std::string_view values = reply.value;
  for (const auto& entry : reply.entries) {
    const auto size = entry.at("size").get<std::size_t>();
    if (size > values.size()) {
      throw CliError(k_exit_daemon, "the daemon's export reply is shorter than its entries' sizes");
    }
    writer.write(entry, values.substr(0, size));
    values.remove_prefix(size);
    ++written;
  }
  return written;
}

int
run_export(Globals& globals, const ExportOptions& options)
{
  const auto format = options.format.empty() ? import::guess_format(options.file)
                                             : *import::format_from_name(options.format);
  ExportOutput out(options.file); // a path that cannot be written is said before anything else
  auto client = Client::connect(globals);
  export_file::EntryWriter writer(out.stream, format);
  std::uint64_t entries = 0;
  try {
    writer.begin();
    std::string after;
    for (;;) {
      const auto reply = client.call<protocol::ops::Export>(export_request(options, after));
      entries += write_export_page(writer, reply);
      if (!reply.next) {
        break;
      }
      after = *reply.next;
    }
  } catch (const std::system_error& e) {
    out.fail(e.code().value());
  }
  out.finish();
  const bool to_stdout = options.file == "-";
  if (globals.json && !to_stdout) {
    output::print_json({{"file", options.file}, {"format", import::format_name(format)}, {"entries", entries}});
  } else if (!globals.quiet && (!to_stdout || globals.verbose)) {
    const auto summary = fmt::format("{}: {} {} exported ({})", out.name, entries, entries == 1 ? "entry" : "entries",
                                     import::format_name(format));
    if (to_stdout) {
      fmt::print(stderr, "{}\n", summary);
    } else {
      output::print_line(summary);
    }
  }
  return k_exit_ok;
}

} // namespace

void
add_export(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<ExportOptions>();
  auto* command = app.add_subcommand("export", "Write entries to a CSV or JSON Lines file that warm reads back");
  command->add_option("file", options->file, "The file to write (default -: standard output)")->type_name("FILE");
  command
    ->add_option("--format", options->format, "csv or jsonl (default: by extension; .jsonl and .ndjson are JSON Lines)")
    ->type_name("FORMAT")
    ->check(CLI::IsMember({"csv", "jsonl"}));
  add_layer_option(*command, options->layer, "Only entries of this layer");
  add_tag_option(*command, options->tags, "Only entries carrying this tag (repeat: any of them)");
  command
    ->add_option("--pattern", options->pattern,
                 "Only keys matching this glob: * any run, ? one character, [abc] a set, [^abc] not in it")
    ->type_name("GLOB");
  command->footer(k_export_footer);
  command->callback([&globals, options] { globals.exit_code = run_export(globals, *options); });
}

} // namespace omnicache::cli
