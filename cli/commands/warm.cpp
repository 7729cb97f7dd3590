// warm: import a CSV or JSON Lines file into the cache, computing missing
// responses with a command when asked. The pieces live in cli/warm/.
#include "cli/client.hpp"
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "cli/warm/exec.hpp"
#include "cli/warm/report.hpp"
#include "cli/warm/rows.hpp"
#include "cli/warm/sender.hpp"

#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <unistd.h>
#include <utility>

namespace omnicache::cli {

namespace {

using protocol::Json;
using warm::Entry;

constexpr const char* k_warm_footer = R"(Columns (the CSV header row, or the members of each JSON Lines object):
  key       the entry's key: a plain entry, in the layer column's layer, else --layer, else kv
  prompt    a user prompt: the row is the response entry for (model, prompt), the same
            entry that `omnicache response set --model M --prompt P` stores
  query     another name for prompt: a retrieval needs a retriever, so a query is
            cached as the model's response to it
  value     the value, byte for byte (response is another name for it); a JSON Lines
            object or array is stored as its JSON text
  model     the model (else --model): required on a prompt row; on a key row it adds
            the tag model:M, as response entries have
  ttl       30s, 10m, 2h, 7d, 1500ms, never... (else --ttl, else the layer's default)
  tags      tags separated by ';' (or a JSON array of strings), added to the --tag ones
  layer     the layer of a key row; a prompt row is always a response entry
  deps      dependencies (see set --dep): a JSON array of names and
            {"name": N, "version": V} objects, or names separated by ';'
  meta      the entry's metadata, a JSON object (its members win over warm's own)
  encoding  how the value is written: text (the default) or base64, for bytes that
            are not UTF-8; a row with an encoding and an empty value stores the
            empty value. `omnicache export` writes every one of these columns.
An empty field counts as absent. Another column is an error unless --ignore-unknown.
A CSV file follows RFC 4180 (quoted fields may hold commas, "" for a quote, and line
breaks); CRLF and a UTF-8 byte order mark are fine.

Entries that are already cached are left alone and counted as skipped; --overwrite
replaces them. A row that cannot be imported is reported on stderr as FILE:LINE: reason
and counted as failed; the other rows are imported all the same.

--exec CMD answers the prompt rows that have no value: for each one not cached yet,
CMD runs under /bin/sh -c with the prompt on its standard input and
OMNICACHE_WARM_MODEL set to the row's model; its standard output, byte for byte, is
stored. Up to --jobs commands run at once. A row that another process is computing
(another warm, or any client holding its lease) is waited for, not computed twice.
A command that exits non-zero fails its row only. --exec never replaces an entry,
even with --overwrite.

-j is --json, as in every command; the number of commands at once is --jobs.
--json prints {"file", "format", "rows", "imported", "skipped", "failed", "executed",
"dry_run", "failures": [{"line", "error"}] (the first 1000), "elapsed_s",
"rows_per_s"}, and with --dry-run "would_import" and "would_exec".

On a terminal, --exec shows a line on standard error with the rows answered, the
total, the rate and the time left; reading a file over 8 MiB shows a bar. The
summary ends with the time the whole command took and the rows read per second.

Exit codes: 0 when no row failed; 2 when some rows failed (the good rows are imported),
or the file or the options cannot be used (then nothing is imported); 3 and 4 as for
every command.

Examples:
  omnicache warm answers.csv --model gpt-4o --ttl 7d --tag batch:1
  omnicache warm prompts.jsonl --model gpt-4o --exec 'llm -m "$OMNICACHE_WARM_MODEL"' --jobs 4
  omnicache warm big.csv --dry-run)";

// A progress bar only for files that take a while.
constexpr std::uint64_t k_progress_min_bytes = std::uint64_t{8} << 20;
// Connections that import at once: the daemon reads some requests while it
// writes others, and commits the requests that wait together, in fewer and
// larger transactions (four measured best for random keys).
constexpr std::size_t k_connections = 4;
// Rows between two looks at the clock for the progress bar.
constexpr std::uint64_t k_rows_per_progress = 4096;

struct WarmOptions
{
  std::string file;
  std::string format;
  std::string layer;
  std::string model;
  std::string ttl;
  std::vector<std::string> tags;
  std::string exec;
  unsigned jobs = 1;
  bool dry_run = false;
  bool overwrite = false;
  bool ignore_unknown = false;
};

// What one pass over the file found besides what it sent.
struct Pass
{
  std::uint64_t valid = 0;       // entries with a value (sent, or in a dry run to be sent)
  std::vector<Entry> to_compute; // prompt rows left for --exec
};

warm::RowLimits
row_limits(const Json& server, const protocol::Settings& settings)
{
  const auto limits = server.value("limits", Json::object());
  const auto frame = limits.value("max_frame_bytes", settings.max_frame_bytes);
  const auto header = limits.value("max_header_bytes", settings.max_header_bytes);
  return {
    .max_key_bytes = limits.value("max_key_bytes", settings.max_key_bytes),
    .max_tags = limits.value("max_tags", settings.max_tags),
    .max_tag_bytes = limits.value("max_tag_bytes", settings.max_tag_bytes),
    .max_value_bytes = frame > header ? frame - header : 0,
  };
}

warm::RowDefaults
row_defaults(const WarmOptions& options)
{
  return {
    .layer = options.layer.empty() ? std::string("kv") : options.layer,
    .model = options.model,
    .ttl_ms = ttl_ms(options.ttl),
    .tags = options.tags,
    .ignore_unknown = options.ignore_unknown,
  };
}

// Reads every record; entries with a value go to `pipeline` (none in a dry run).
Pass
read_file(import::TableReader& reader, const warm::RowMapper& mapper, const WarmOptions& options,
          warm::MsetPipeline* pipeline, warm::Report& report)
{
  Pass pass;
  std::uint64_t rows = 0;
  while (auto record = reader.next()) {
    if (++rows % k_rows_per_progress == 0) {
      report.add_rows(k_rows_per_progress);
      report.progress(reader.bytes_read(), reader.total_bytes());
    }
    if (auto* error = std::get_if<import::RowError>(&*record)) {
      report.fail(error->line, error->message);
      continue;
    }
    auto mapped = mapper.map(std::move(std::get<import::Row>(*record)));
    if (auto* failure = std::get_if<warm::Failure>(&mapped)) {
      report.fail(failure->line, failure->message);
      continue;
    }
    auto& entry = std::get<Entry>(mapped);
    if (entry.value) {
      ++pass.valid;
      if (pipeline != nullptr) {
        pipeline->add(std::move(entry));
      }
    } else if (!options.exec.empty()) {
      pass.to_compute.push_back(std::move(entry));
    } else {
      report.fail(entry.line, "no value (and no --exec to compute one)");
    }
  }
  report.add_rows(rows % k_rows_per_progress);
  if (pipeline != nullptr) {
    pipeline->finish();
  }
  report.end_progress();
  return pass;
}

// The import's connections: `first`, which asked for the daemon's limits,
// and more of the same.
std::unique_ptr<warm::MsetPipeline>
open_pipeline(Globals& globals, Client first, const Json& server, const WarmOptions& options, warm::Report& report)
{
  std::vector<Client> clients;
  clients.push_back(std::move(first));
  while (clients.size() < k_connections) {
    clients.push_back(Client::connect(globals));
  }
  const auto limits = warm::batch_limits(server, globals.config().settings());
  return std::make_unique<warm::MsetPipeline>(std::move(clients), limits, !options.overwrite, report);
}

// "in 1.25 s (7994 rows/s)": how long the whole command took, for every
// summary, so that a slow import is noticed and can be compared.
struct Pace
{
  double seconds = 0;
  double rows_per_second = 0;

  std::string text() const
  {
    return fmt::format("in {:.2f} s ({:.0f} rows/s)", seconds, rows_per_second);
  }
};

Pace
pace_since(std::chrono::steady_clock::time_point started, std::uint64_t rows)
{
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return {seconds, static_cast<double>(rows) / std::max(seconds, 1e-6)};
}

void
print_summary(const Globals& globals, const WarmOptions& options, std::string_view file, import::Format format,
              const Pass& pass, const warm::Report& report, const Pace& pace)
{
  const auto tally = report.tally();
  if (globals.json) {
    Json out{
      {"file", file},
      {"format", import::format_name(format)},
      {"rows", tally.rows},
      {"imported", tally.imported},
      {"skipped", tally.skipped},
      {"failed", tally.failed},
      {"executed", tally.executed},
      {"dry_run", options.dry_run},
      {"failures", report.failures()},
      {"elapsed_s", pace.seconds},
      {"rows_per_s", pace.rows_per_second},
    };
    if (options.dry_run) {
      out["would_import"] = pass.valid;
      out["would_exec"] = pass.to_compute.size();
    }
    output::print_json(out);
  } else if (globals.quiet) {
    return;
  } else if (options.dry_run) {
    output::print_line(fmt::format("{}: {}: {} would be imported (unless already cached), {} would run --exec, "
                                   "{} failed (dry run: nothing was sent) {}",
                                   file, output::counted(tally.rows, "row"), pass.valid, pass.to_compute.size(), tally.failed, pace.text()));
  } else {
    output::print_line(fmt::format("{}: {}: {} imported, {} skipped (already cached), {} failed{} {}", file,
                                   output::counted(tally.rows, "row"), tally.imported, tally.skipped, tally.failed,
                                   options.exec.empty() ? ""
                                                        : fmt::format(", --exec ran {}", output::counted(tally.executed, "time")),
                                   pace.text()));
  }
}

int
run_warm(Globals& globals, const WarmOptions& options)
{
  const auto started = std::chrono::steady_clock::now();
  const auto& settings = globals.config().settings();
  const auto format = options.format.empty() ? import::guess_format(options.file)
                                             : *import::format_from_name(options.format);
  const std::string file = options.file == "-" ? "<stdin>" : options.file;

  std::optional<Client> client; // until the import takes it over
  if (!options.dry_run) {
    client.emplace(Client::connect(globals));
    client->call<protocol::ops::Ping>({}); // for the daemon's limits, in its hello
  }
  const Json server = client ? client->server() : Json::object();
  const warm::RowMapper mapper(row_defaults(options), row_limits(server, settings));

  std::optional<warm::Report> report;
  Pass pass;
  try {
    import::TableReader reader(options.file, format, {.max_record_bytes = settings.max_frame_bytes});
    if (format == import::Format::csv) {
      mapper.check_columns(file, reader.columns());
    }
    const bool terminal = !globals.quiet && isatty(STDERR_FILENO) != 0;
    report.emplace(file, terminal && reader.total_bytes() > k_progress_min_bytes);
    {
      auto pipeline = client ? open_pipeline(globals, *std::exchange(client, std::nullopt), server, options, *report)
                             : nullptr;
      pass = read_file(reader, mapper, options, pipeline.get(), *report);
    }
    if (!options.dry_run) {
      // Each row may take seconds: the line is worth it whatever the file's size.
      report->begin_exec(pass.to_compute.size(), terminal);
      warm::answer_rows(globals, {options.exec, options.jobs}, pass.to_compute, *report);
      report->end_progress();
    }
  } catch (const import::ImportError& e) {
    throw CliError(k_exit_usage, e.what());
  } catch (const CliError& e) {
    if (!report) {
      throw;
    }
    report->end_progress();
    const auto tally = report->tally();
    throw CliError(e.exit_code(), fmt::format("{} (stopped after {}: {} imported, {} skipped, {} failed)",
                                              e.what(), output::counted(tally.rows, "row"), tally.imported, tally.skipped, tally.failed));
  }
  print_summary(globals, options, file, format, pass, *report, pace_since(started, report->tally().rows));
  return report->tally().failed == 0 ? k_exit_ok : k_exit_usage;
}

} // namespace

void
add_warm(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<WarmOptions>();
  auto* command = app.add_subcommand("warm", "Import a CSV or JSON Lines file of keys or prompts and their values");
  command->add_option("file", options->file, "The file; - reads standard input")->required()->type_name("FILE");
  command
    ->add_option("--format", options->format, "csv or jsonl (default: by extension; .jsonl and .ndjson are JSON Lines)")
    ->type_name("FORMAT")
    ->check(CLI::IsMember({"csv", "jsonl"}));
  add_layer_option(*command, options->layer, "Layer of key rows without a layer column (default kv)");
  command->add_option("--model", options->model, "Model of rows without a model column")->type_name("MODEL");
  add_ttl_option(*command, options->ttl);
  add_tag_option(*command, options->tags, "Tag every entry (repeat for several)");
  auto* exec =
    command->add_option("--exec", options->exec, "Compute missing responses of prompt rows with CMD (see below)")
      ->type_name("CMD");
  command->add_option("--jobs", options->jobs, "Run up to N --exec commands at once (default 1)")
    ->type_name("N")
    ->check(CLI::Range(1u, 256u))
    ->needs(exec);
  command->add_flag("--overwrite", options->overwrite, "Replace entries that are already cached");
  command->add_flag("--ignore-unknown", options->ignore_unknown, "Skip columns warm does not know");
  command->add_flag("--dry-run", options->dry_run, "Read and check every row; contact no daemon, store nothing");
  command->footer(k_warm_footer);
  command->callback([&globals, options] { globals.exit_code = run_warm(globals, *options); });
}

} // namespace omnicache::cli
