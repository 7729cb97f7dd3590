// omnicache run: ccache for commands. The files under cli/run/ do the work:
// key.cpp what makes two runs the same, channel.cpp the daemon connection
// that streams values, child.cpp the command, entry.cpp the stored form.
#include "cli/commands/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/run/channel.hpp"
#include "cli/run/child.hpp"
#include "cli/run/entry.hpp"
#include "cli/run/key.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace omnicache::cli {

using protocol::Json;
using namespace run;

namespace {

// Long enough for any LLM call or script, since a holder that dies frees its
// lease at once anyway (its connection closes); it only bounds how long a
// stopped or hung holder keeps the others waiting.
constexpr std::int64_t k_lease_ms = 60 * 60 * 1000;
constexpr std::int64_t k_wait_when_no_timeout_ms = 10 * 60 * 1000;

struct RunOptions
{
  std::vector<std::string> argv;
  std::string ttl;
  std::vector<std::string> tags;
  std::vector<std::string> deps;
  std::vector<std::string> files;
  std::vector<std::string> env_names;
  std::vector<std::string> key_extra;
  std::string max_output;
  std::string semantic_text;
  std::optional<double> threshold;
  bool refresh = false;
  bool no_store = false;
  bool cache_failures = false;
  bool cache_stderr = false;
  bool status = false;
  bool print_key = false;
  bool read_stdin = false;
  bool no_stdin = false;
};

bool
env_flag(const char* name)
{
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

void
warn(const Globals& globals, std::string_view message)
{
  if (!globals.quiet) {
    fmt::print(stderr, "omnicache: {}\n", message);
  }
}

// A cache must never stop the work: whatever keeps it from helping, the
// command still runs. One line, so that a script's stderr is not flooded;
// -v shows the rest of a longer reason (a daemon's advice, say).
[[noreturn]] void
run_uncached(const Globals& globals, const RunOptions& options, std::string_view why, int stdin_fd)
{
  const auto end = why.find('\n');
  warn(globals, fmt::format("{}; running the command without the cache", why.substr(0, end)));
  if (globals.verbose && end != std::string_view::npos) {
    fmt::print(stderr, "{}\n", why.substr(end + 1));
  }
  exec_command(options.argv, stdin_fd);
}

// Command line > environment > the default, as for every setting.
StdinMode
stdin_mode(const RunOptions& options)
{
  if (options.no_stdin) {
    return StdinMode::never;
  }
  if (options.read_stdin) {
    return StdinMode::always;
  }
  const char* value = std::getenv("OMNICACHE_RUN_STDIN");
  const std::string_view text = value != nullptr ? value : "";
  if (text.empty() || text == "auto") {
    return StdinMode::automatic;
  }
  if (text == "0") {
    return StdinMode::never;
  }
  if (text == "1") {
    return StdinMode::always;
  }
  throw CliError(k_exit_usage, fmt::format("OMNICACHE_RUN_STDIN={}: use 0 (never read), 1 (always) or auto", text));
}

struct Lookup
{
  bool found = false;
  bool waited = false;
  std::uint64_t value_size = 0;
  std::string hit = "HIT"; // or HIT_L1 / HIT_L2
  std::string matched_key;  // a semantic hit: the entry that answered
  double similarity = 0;
};

// With --semantic-text: what identifies the question, so that a run asking
// it in other words can be answered from this one's output.
template <class Request>
Request
run_question(const RunOptions& options, const std::string& key, const std::string& context)
{
  Request request;
  request.layer = "run";
  request.key = key;
  request.text = options.semantic_text;
  request.context = context;
  return request;
}

// After an exact miss: an earlier run of the same command whose question
// means the same. Still holding the lease, so identical runs keep waiting.
Lookup
look_up_semantic(const Globals& globals, Channel& channel, const RunOptions& options, const std::string& key,
                 const std::string& context)
{
  auto request = run_question<protocol::ops::SemanticGetRequest>(options, key, context);
  if (options.threshold) {
    request.threshold = *options.threshold;
  }
  try {
    const auto [reply, value_size] = channel.call<protocol::ops::SemanticGet>(request);
    if (reply.warning && !reply.warning->empty()) {
      warn(globals, fmt::format("exact match only: {}", *reply.warning));
    }
    if (!reply.found) {
      return {};
    }
    return {true, false, value_size, "HIT", reply.key.value_or(""), reply.similarity.value_or(0.0)};
  } catch (const CliError& e) {
    warn(globals, fmt::format("no semantic lookup: {}", e.what()));
    return {};
  }
}

// Waits as long as another run of the same command holds the lease, asking
// again before the client's reply timeout each time. Without `found`, this
// run holds the lease (except with --no-store, which never takes it).
Lookup
look_up(Channel& channel, const std::string& key, const RunOptions& options, std::int64_t timeout_ms)
{
  if (options.no_store) {
    protocol::ops::GetRequest request;
    request.key = key;
    request.layer = "run";
    const auto [reply, value_size] = channel.call<protocol::ops::Get>(request);
    return {reply.found, false, value_size, hit_word(reply.tier), {}, 0};
  }
  const std::int64_t wait_ms = timeout_ms > 0 ? std::max<std::int64_t>(timeout_ms * 3 / 4, 1)
                                               : k_wait_when_no_timeout_ms;
  protocol::ops::GetOrLeaseRequest request;
  request.key = key;
  request.layer = "run";
  request.lease_ms = k_lease_ms;
  request.wait_ms = wait_ms;
  for (;;) {
    const auto [reply, value_size] = channel.call<protocol::ops::GetOrLease>(request);
    if (reply.found) {
      return {true, reply.waited, value_size, hit_word(reply.tier), {}, 0};
    }
    if (reply.lease.value_or(false)) {
      return {};
    }
  }
}

Json
deps_field(const RunOptions& options, const std::vector<HashedFile>& files)
{
  Json deps = Json::array();
  for (const auto& dep : options.deps) {
    const auto equals = dep.find('=');
    if (equals == std::string::npos) {
      deps.push_back(dep);
    } else {
      deps.push_back({{"name", dep.substr(0, equals)}, {"version", dep.substr(equals + 1)}});
    }
  }
  for (const auto& file : files) {
    deps.push_back({{"name", "file:" + file.absolute}, {"version", file.sha256}});
  }
  return deps;
}

// Why the result of a finished command is not to be stored, or empty.
std::string
not_storable(const ChildResult& result, const RunOptions& options, std::uint64_t max_output)
{
  if (!result.started) {
    return "the command did not start";
  }
  if (result.interrupted) {
    return "interrupted";
  }
  if (result.signal != 0) {
    // Even with --cache-failures: a crash or a kill is not the command's answer.
    return fmt::format("the command died of signal {}", result.signal);
  }
  if (result.over_limit) {
    const char* limit = options.max_output.empty() ? "limits.max_frame_bytes" : "--max-output";
    return fmt::format("the output is over {} ({})", limit, protocol::format_size(max_output));
  }
  if (!result.spool_error.empty()) {
    return fmt::format("cannot spool the output: {}", result.spool_error);
  }
  if (result.status != 0 && !options.cache_failures) {
    return fmt::format("the command exited with status {}", result.status);
  }
  return {};
}

// The command line as `keys -l` and `inspect` show it: bounded, since an
// argument may be a whole document, and in valid UTF-8, as the header must be.
Json
recorded_argv(const std::vector<std::string>& argv)
{
  constexpr std::size_t k_recorded_argv_bytes = 1024;
  Json out = Json::array();
  std::size_t used = 0;
  for (const auto& arg : argv) {
    if (used >= k_recorded_argv_bytes) {
      out.push_back("...");
      break;
    }
    std::string word = arg.substr(0, k_recorded_argv_bytes - used);
    // Cut at a character's start, not inside one.
    if (word.size() < arg.size()) {
      while (!word.empty() && (static_cast<unsigned char>(arg[word.size()]) & 0xC0) == 0x80) {
        word.pop_back();
      }
      word += "...";
    }
    used += word.size();
    out.push_back(std::move(word));
  }
  return Json::parse(out.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void
store(Globals& globals, Channel& channel, const RunOptions& options, const std::string& key,
      const std::string& context, Json deps, const ChildResult& result, const Fd& out, const Fd& err)
{
  Json meta{{"command", recorded_argv({options.argv[0]})[0]},
            {"argv", recorded_argv(options.argv)},
            {"exit_status", result.status},
            {"stderr_bytes", result.stderr_bytes}};
  // What set and semantic_set share.
  const auto with_entry_fields = [&](auto request) {
    request.tags = options.tags;
    request.deps = deps;
    request.meta = meta;
    request.ttl_ms = ttl_ms(options.ttl);
    return request;
  };
  const std::string prefix = value_prefix(result.status, result.stderr_bytes, out.get());
  std::vector<int> spools;
  if (result.stderr_bytes > 0) {
    spools.push_back(err.get());
  }
  spools.push_back(out.get());
  try {
    std::optional<std::string> warning;
    if (options.semantic_text.empty()) {
      protocol::ops::SetRequest request;
      request.key = key;
      request.layer = "run";
      channel.send<protocol::ops::Set>(with_entry_fields(std::move(request)), prefix, spools);
      channel.receive<protocol::ops::Set>();
    } else {
      channel.send<protocol::ops::SemanticSet>(
        with_entry_fields(run_question<protocol::ops::SemanticSetRequest>(options, key, context)), prefix, spools);
      warning = channel.receive<protocol::ops::SemanticSet>().reply.warning;
    }
    if (warning && !warning->empty()) {
      warn(globals, fmt::format("stored for exact matches only: {}", *warning));
    }
  } catch (const CliError& e) {
    warn(globals, fmt::format("not cached: {}", e.what()));
    return;
  }
  if (globals.verbose) {
    fmt::print(stderr, "omnicache: stored {} ({} of output)\n", key, protocol::format_size(result.stdout_bytes));
  }
}

// A miss: runs the command and stores what it did on `channel`, which holds
// the lease (unless --refresh).
int
execute(Globals& globals, std::optional<Channel>& channel, const RunOptions& options, const std::string& key,
        const std::string& context, int stdin_fd, const std::vector<HashedFile>& files)
{
  Fd out = open_spool();
  Fd err = options.cache_stderr ? open_spool() : Fd();
  if (!out || (options.cache_stderr && !err)) {
    const std::string why = fmt::format("cannot spool the output: {}", std::strerror(errno));
    channel.reset(); // frees the lease for a run that may do better
    run_uncached(globals, options, why, stdin_fd);
  }
  const std::uint64_t max_output = std::min<std::uint64_t>(
    options.max_output.empty() ? UINT64_MAX : *protocol::parse_size(options.max_output),
    globals.config().settings().max_frame_bytes);
  const auto result = run_child(options.argv, {stdin_fd, out.get(), err.get(), max_output});
  if (const auto why = not_storable(result, options, max_output); !why.empty()) {
    if (result.over_limit || !result.spool_error.empty()) {
      warn(globals, fmt::format("not cached: {}", why));
    } else if (globals.verbose) {
      fmt::print(stderr, "omnicache: not cached: {}\n", why);
    }
    return result.status;
  }
  store(globals, *channel, options, key, context, deps_field(options, files), result, out, err);
  return result.status;
}

// What --print-key prints: the key alone, without the daemon.
int
print_key(const RunOptions& options, const Stdin& input, const std::vector<HashedFile>& files)
{
  try {
    fmt::print("{}\n", run_key({options.argv, options.env_names, options.key_extra}, input, files));
  } catch (const protocol::Error& e) {
    throw CliError(k_exit_usage, e.what());
  }
  return k_exit_ok;
}

int
run_run(Globals& globals, const RunOptions& options)
{
  const StdinMode mode = stdin_mode(options);
  if (env_flag("OMNICACHE_DISABLE") && !options.print_key) {
    const auto input = mode == StdinMode::never ? take_stdin(mode) : std::optional<Stdin>();
    exec_command(options.argv, input ? input->fd() : STDIN_FILENO);
  }
  const bool show_status = options.status || env_flag("OMNICACHE_STATUS");
  const auto& settings = globals.config().settings();
  const auto files = hash_files(options.files);
  auto input = take_stdin(mode);
  if (options.print_key) {
    if (!input) {
      throw CliError(k_exit_usage, fmt::format("cannot spool standard input: {}", std::strerror(errno)));
    }
    return print_key(options, *input, files);
  }
  if (!input) {
    run_uncached(globals, options, fmt::format("cannot spool standard input: {}", std::strerror(errno)), STDIN_FILENO);
  }
  std::string key;
  std::string context;
  std::optional<Channel> channel;
  Lookup found;
  try {
    const KeyParts parts{options.argv, options.env_names, options.key_extra};
    key = run_key(parts, *input, files);
    if (!options.semantic_text.empty()) {
      context = run_context(parts, *input, files, options.semantic_text);
    }
    channel = Channel::open(globals);
    if (!options.refresh) {
      found = look_up(*channel, key, options, settings.timeout_ms);
      if (!found.found && !options.semantic_text.empty()) {
        found = look_up_semantic(globals, *channel, options, key, context);
      }
    }
  } catch (const std::exception& e) { // CliError from the daemon, protocol::Error from the key
    run_uncached(globals, options, e.what(), input->fd());
  }
  if (show_status) {
    if (!found.matched_key.empty()) {
      fmt::print(stderr, "SEMANTIC {:.4f} {}\n", found.similarity, found.matched_key);
    } else {
      fmt::print(stderr, "{} {}\n", !found.found ? "MISS" : found.waited ? "WAITED" : found.hit, key);
    }
  }
  if (found.found) {
    return replay(*channel, found.value_size);
  }
  if (options.no_store) {
    channel.reset();
    exec_command(options.argv, input->fd());
  }
  return execute(globals, channel, options, key, context, input->fd(), files);
}

CLI::Validator
size_validator()
{
  return CLI::Validator(
    [](std::string& text) -> std::string {
      return protocol::parse_size(text) ? std::string() : fmt::format("invalid size '{}' (use e.g. 10MiB)", text);
    },
    "SIZE");
}

constexpr const char* k_run_footer = R"(The key is a hash of the command's arguments, its standard input (see below), the
content of each --file, the value of each --env variable and each --key-extra: nothing
else, not the working directory and not the time. --print-key prints it and exits.

Standard input: a pipe or a file is keyed on all of it, to its end, and the command reads
the same bytes; a terminal is left to the command and not keyed; empty input keys as none,
so a run typed on a terminal, one from cron (</dev/null) and one fed an empty pipe share a
key. A pipe is always keyed, because it may be the command's input: keying without it
could answer one input with another's output. So run waits for a pipe to be closed, and
one that stays open makes it wait: give --no-stdin there (or export OMNICACHE_RUN_STDIN=0
once for a whole script), and the command gets /dev/null, the input neither read nor keyed.
In a loop (... | while read -r q; do omnicache run ...; done, or done < questions.txt),
what the command does not read stays for the loop when the input is a file or a pipe of
at most its buffer (64 KiB), closed by its writer; a bigger pipe is read whole by the
first run. Each run's key then covers the rest of the input: --no-stdin keys each run
alone, and is what a loop wants. --stdin (OMNICACHE_RUN_STDIN=1) reads even a terminal,
to its end (Ctrl-D).

A miss runs the command: its output streams through as it comes and is stored when it
exits 0. A hit writes the stored output and exits 0 without running anything. Identical
runs that start together run the command once; the others wait and replay its output (if
it fails or dies, one of them runs it instead). Signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT)
go to the command, and an interrupted run stores nothing. The exit status is the command's:
128+N when it died of signal N, 127 when not found, 126 when not executable.

The stored value is the output exactly (omnicache get KEY prints it), except for an entry
that also keeps a failing status or standard error: that value is framed ("\0OCRUN1\n",
a 4-byte big-endian header length, a JSON header {exit_status, stderr_bytes}, stderr,
stdout). A hit replays whatever the entry holds.

With --semantic-text TEXT, a miss also looks for an earlier run of the same command (the
same key with every occurrence of TEXT in the arguments and --key-extra taken out, and
standard input that is TEXT not counted) whose question means the same as TEXT, as
`omnicache semantic get` matches; --status then prints SEMANTIC <similarity> <key>.

When no daemon can be reached, the command runs anyway, uncached, with a warning.
OMNICACHE_DISABLE=1 runs it without touching the cache; OMNICACHE_STATUS=1 is --status.

Examples:
  omnicache run --ttl 7d --tag project:docs -- llm -m gpt-4o "Summarise this" < notes.txt
  summary=$(omnicache run --file contract.pdf -- ./summarise.sh contract.pdf)
  omnicache run --semantic-text "$QUESTION" -- ./ask.sh "$QUESTION"
  cat questions.txt | while read -r q; do omnicache run --no-stdin -- ./ask.sh "$q"; done
  omnicache run --print-key -- ./ask.sh "What is a monad?")";

} // namespace

void
add_run(CLI::App& app, Globals& globals)
{
  auto options = std::make_shared<RunOptions>();
  auto* command = app.add_subcommand("run", "Run a command, or replay its cached output (ccache for LLM calls)");
  command->add_option("command", options->argv, "The command and its arguments (after --)")->required();
  // Everything from the command's name on is the command's, options included.
  command->positionals_at_end();
  add_ttl_option(*command, options->ttl);
  add_tag_option(*command, options->tags, "Tag the entry (repeat for several); invalidate removes by tag");
  command->add_option("--dep", options->deps, "Record a dependency NAME or NAME=VERSION (repeat for several)")
    ->type_name("NAME")
    ->allow_extra_args(false);
  command
    ->add_option("--file", options->files,
                 "Key on this file's content, and record it as the dependency file:ABSOLUTE_PATH (repeat for several)")
    ->type_name("PATH")
    ->allow_extra_args(false);
  command->add_option("--env", options->env_names, "Key on this environment variable's value (repeat for several)")
    ->type_name("NAME")
    ->allow_extra_args(false);
  command->add_option("--key-extra", options->key_extra, "Key on this string too (repeat for several)")
    ->type_name("STRING")
    ->allow_extra_args(false);
  command->add_option("--max-output", options->max_output, "Store no output larger than this (it still streams)")
    ->type_name("SIZE")
    ->check(size_validator());
  command
    ->add_option("--semantic-text", options->semantic_text,
                 "The question the command answers: on a miss, replay an earlier run of the same command whose "
                 "question means the same (see semantic)")
    ->type_name("TEXT");
  command->add_option("--threshold", options->threshold, "With --semantic-text: least similarity for a hit, 0 to 1")
    ->check(CLI::Range(0.0, 1.0));
  auto* refresh = command->add_flag("--refresh", options->refresh,
                                    "Run the command and overwrite the entry, without looking up");
  command->add_flag("--no-store", options->no_store, "Look up, but on a miss run the command without storing")
    ->excludes(refresh);
  command->add_flag("--cache-failures", options->cache_failures,
                    "Store a non-zero exit too; a hit replays the status");
  command->add_flag("--cache-stderr", options->cache_stderr, "Store standard error too; a hit replays it on stderr");
  command->add_flag("--status", options->status, "Print HIT KEY, MISS KEY or WAITED KEY on stderr");
  auto* no_stdin = command->add_flag(
    "--no-stdin", options->no_stdin,
    "Give the command /dev/null; standard input is neither read nor keyed (for loops; env OMNICACHE_RUN_STDIN=0)");
  command
    ->add_flag("--stdin", options->read_stdin,
               "Read standard input into the key even from a terminal (env OMNICACHE_RUN_STDIN=1)")
    ->excludes(no_stdin);
  command->add_flag("--print-key", options->print_key,
                    "Print the key this run would use and exit, without running the command or asking the daemon");
  command->footer(k_run_footer);
  command->callback([&globals, options] { globals.exit_code = run_run(globals, *options); });
}

} // namespace omnicache::cli
