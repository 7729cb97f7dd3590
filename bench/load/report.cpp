#include "bench/load/report.hpp"

#include "protocol/message.hpp"

#include <fmt/core.h>

namespace omnicache::bench {

namespace {

struct Row
{
  std::string name;
  Tally tally;
  bool reads; // whether "found" means something
};

std::vector<Row>
rows_of(const Options& options, const Result& result)
{
  std::vector<Row> rows;
  Tally all;
  for (const auto& weight : options.mix) {
    const auto& tally = result.tallies[static_cast<std::size_t>(weight.op)];
    const bool reads = weight.op == Op::get || weight.op == Op::miss || weight.op == Op::semantic;
    rows.push_back({op_name(weight.op), tally, reads});
    all.merge(tally);
  }
  if (rows.size() > 1) {
    rows.push_back({"all", all, false});
  }
  return rows;
}

double
micros(std::uint64_t ns)
{
  return static_cast<double>(ns) / 1000.0;
}

protocol::Json
error_codes(const Tally& tally)
{
  auto codes = protocol::Json::object();
  for (int i = 0; i < k_error_codes; ++i) {
    if (tally.errors[static_cast<std::size_t>(i)] > 0) {
      codes[std::string(protocol::error_code_name(static_cast<protocol::ErrorCode>(i)))] =
        tally.errors[static_cast<std::size_t>(i)];
    }
  }
  return codes;
}

} // namespace

std::string
text_report(const Options& options, const Result& result)
{
  std::string out = fmt::format(
    "{} connections, pipeline {}, {} thread{}, {}-byte values, keyspace {}, {:.2f} s\n", options.connections,
    options.pipeline, options.threads, options.threads == 1 ? "" : "s", options.value_size, options.keyspace,
    result.elapsed_s);
  out += fmt::format("{:<11}{:>10}{:>12}{:>10}{:>10}{:>10}{:>10}{:>8}{:>8}\n", "op", "count", "ops/s", "p50 µs",
                     "p99 µs", "p99.9 µs", "max µs", "found", "errors");
  std::string codes;
  for (const auto& row : rows_of(options, result)) {
    const auto& h = row.tally.latency;
    const std::string found =
      row.reads && h.count() > 0 ? fmt::format("{:.0f}%", 100.0 * static_cast<double>(row.tally.found) / static_cast<double>(h.count())) : "-";
    out += fmt::format("{:<11}{:>10}{:>12.0f}{:>10.1f}{:>10.1f}{:>10.1f}{:>10.1f}{:>8}{:>8}\n", row.name, h.count(),
                       static_cast<double>(h.count()) / result.elapsed_s, micros(h.percentile(50)),
                       micros(h.percentile(99)), micros(h.percentile(99.9)), micros(h.max()), found,
                       row.tally.error_count());
    if (row.name != "all" && row.tally.error_count() > 0) {
      codes += fmt::format("  {}: {}\n", row.name, error_codes(row.tally).dump());
    }
  }
  if (!codes.empty()) {
    out += "error replies by code:\n" + codes;
  }
  return out;
}

std::string
json_report(const Options& options, const Result& result)
{
  using protocol::Json;
  Json ops = Json::object();
  for (const auto& row : rows_of(options, result)) {
    const auto& h = row.tally.latency;
    Json one = {
      {"count", h.count()},
      {"ops_per_s", static_cast<double>(h.count()) / result.elapsed_s},
      {"mean_us", h.mean() / 1000.0},
      {"p50_us", micros(h.percentile(50))},
      {"p99_us", micros(h.percentile(99))},
      {"p999_us", micros(h.percentile(99.9))},
      {"max_us", micros(h.max())},
      {"errors", row.tally.error_count()},
      {"error_codes", error_codes(row.tally)},
    };
    if (row.reads) {
      one["found"] = row.tally.found;
    }
    ops[row.name] = std::move(one);
  }
  Json report = {
    {"connections", options.connections}, {"pipeline", options.pipeline}, {"threads", options.threads},
    {"value_size", options.value_size},   {"keyspace", options.keyspace}, {"tags", options.tags},
    {"elapsed_s", result.elapsed_s},      {"ops", std::move(ops)},
  };
  return report.dump() + "\n";
}

} // namespace omnicache::bench
