#pragma once

#include "cli/globals.hpp"
#include "protocol/message.hpp"
#include "protocol/ops/ops.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// One command = one file here, each adding itself to the app through one
// entry of the table in table.cpp.
namespace omnicache::cli {

struct CommandSpec
{
  std::string_view name;
  void (*add)(CLI::App& app, Globals& globals);
};

std::span<const CommandSpec> command_table();

// Option groups several commands share.
void add_ttl_option(CLI::App& command, std::string& ttl);
std::optional<std::int64_t> ttl_ms(const std::string& ttl); // empty: the layer's default
void add_tag_option(CLI::App& command, std::vector<std::string>& tags, const std::string& help);
void add_layer_option(CLI::App& command, std::string& layer, const std::string& help);
// --dep NAME, repeatable: `invalidate --dep NAME` removes the entry.
void add_dep_option(CLI::App& command, std::vector<std::string>& deps);

// The selection of a paged listing (keys, export): pattern, tags and layer,
// each when given.
template <class ListingRequest>
void
put_listing_selection(ListingRequest& request, const std::string& pattern, const std::vector<std::string>& tags,
                      const std::string& layer)
{
  if (!pattern.empty()) {
    request.pattern = pattern;
  }
  request.tags = tags;
  if (!layer.empty()) {
    request.layer = layer;
  }
}

// Prints a count (removed entries and the like): the number alone, or
// {"<field>": n} with --json; nothing with -q.
void print_count(const Globals& globals, std::string_view field, std::uint64_t n);

// stats --reset (stats_reset.cpp): the option, and the reset with what it kept.
void add_stats_reset_option(CLI::App& stats, bool& reset);
void reset_stats(Globals& globals, bool all_tenants);

// All of standard input, as bytes.
std::string read_stdin();

// Lookups by meaning (semantic.cpp), shared by `semantic get`, `response get
// --semantic` and `run --semantic-text`.
struct SemanticLookup
{
  std::optional<double> threshold;
  bool no_guard = false;
};
// --threshold and, unless `guard` is false, --no-guard.
void add_semantic_lookup_options(CLI::App& command, SemanticLookup& lookup, bool guard = true);
// Adds the options to a semantic_get request.
void put_semantic_lookup(protocol::ops::SemanticGetRequest& request, const SemanticLookup& lookup);
// What --status says of a hit from the reply's `tier`: HIT, or with a shared
// tier HIT_L1 (this machine's cache) or HIT_L2 (the shared Redis).
std::string hit_word(const std::optional<std::string>& tier);
// Whether to print that: --status, or OMNICACHE_STATUS=1.
bool status_wanted(bool flag);
// Prints on stderr what a semantic_get reply found: HIT KEY, SEMANTIC
// <similarity> KEY or MISS KEY, then one REJECTED line per refused candidate.
void print_semantic_status(const protocol::ops::SemanticGetReply& reply);
// The --json form of a semantic_get reply, with its value.
protocol::Json semantic_reply_json(const protocol::ops::SemanticGetReply& reply);
// A reply's warning (a failed embedder) on stderr, unless -q.
void print_reply_warning(const Globals& globals, const std::optional<std::string>& warning, std::string_view what);
// A reply's "integer or null" time (ttl_ms, expires_ms) as --json prints it:
// null when absent or null.
protocol::Json time_or_null(const protocol::ops::OrNull<std::int64_t>& time);

void add_set(CLI::App& app, Globals& globals);
void add_get(CLI::App& app, Globals& globals);
void add_exists(CLI::App& app, Globals& globals);
void add_mget(CLI::App& app, Globals& globals);
void add_ttl(CLI::App& app, Globals& globals);
void add_expire(CLI::App& app, Globals& globals);
void add_persist(CLI::App& app, Globals& globals);
void add_touch(CLI::App& app, Globals& globals);
void add_del(CLI::App& app, Globals& globals);
void add_inspect(CLI::App& app, Globals& globals);
void add_keys(CLI::App& app, Globals& globals);
void add_invalidate(CLI::App& app, Globals& globals);
void add_run(CLI::App& app, Globals& globals);
void add_response(CLI::App& app, Globals& globals);
void add_embedding(CLI::App& app, Globals& globals);
void add_retrieval(CLI::App& app, Globals& globals);
void add_context(CLI::App& app, Globals& globals);
void add_semantic(CLI::App& app, Globals& globals);
void add_event(CLI::App& app, Globals& globals);
void add_warm(CLI::App& app, Globals& globals);
void add_export(CLI::App& app, Globals& globals);
void add_flush(CLI::App& app, Globals& globals);
void add_stats(CLI::App& app, Globals& globals);
void add_config(CLI::App& app, Globals& globals);
void add_ping(CLI::App& app, Globals& globals);
void add_daemon(CLI::App& app, Globals& globals);
void add_doctor(CLI::App& app, Globals& globals);
void add_completion(CLI::App& app, Globals& globals);
void add_help(CLI::App& app, Globals& globals);

} // namespace omnicache::cli
