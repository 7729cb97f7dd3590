// omnicache-bench: a load generator for omnicached in the manner of
// redis-benchmark (bench/README.md).
#include "bench/load/driver.hpp"
#include "bench/load/options.hpp"
#include "bench/load/report.hpp"
#include "bench/load/workload.hpp"

#include <fmt/core.h>

#include <exception>

namespace omnicache::bench {

namespace {

constexpr int k_hello_timeout_ms = 5000;
constexpr unsigned k_prefill_pipeline = 32;

std::vector<Connection>
open_connections(const Options& options, unsigned pipeline)
{
  std::vector<Connection> connections;
  connections.reserve(options.connections);
  for (unsigned i = 0; i < options.connections; ++i) {
    connections.emplace_back(options.socket, pipeline, k_hello_timeout_ms);
  }
  return connections;
}

bool
in_mix(const Options& options, Op op)
{
  for (const auto& weight : options.mix) {
    if (weight.op == op) {
      return true;
    }
  }
  return false;
}

void
prefill(const Options& options, const Workload& workload, Request request, const char* what)
{
  auto connections = open_connections(options, k_prefill_pipeline);
  Plan plan;
  plan.mix = {{request, 1}};
  plan.sequential = true;
  plan.requests = workload.numbers(request);
  plan.pipeline = k_prefill_pipeline;
  const Result result = drive(workload, plan, connections, options.threads);
  const Tally& tally = result.tallies[static_cast<std::size_t>(request)];
  if (tally.error_count() > 0) {
    std::string codes;
    for (int i = 0; i < k_error_codes; ++i) {
      if (tally.errors[static_cast<std::size_t>(i)] > 0) {
        codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", tally.errors[static_cast<std::size_t>(i)],
                             protocol::error_code_name(static_cast<protocol::ErrorCode>(i)));
      }
    }
    throw BenchError(k_exit_errors, fmt::format("{} of {} prefill writes failed: {}", tally.error_count(),
                                                *plan.requests, codes));
  }
  fmt::print(stderr, "prefilled {} {} in {:.2f} s ({:.0f}/s)\n", *plan.requests, what, result.elapsed_s,
             static_cast<double>(*plan.requests) / result.elapsed_s);
}

int
run(int argc, char** argv)
{
  const Options options = parse_options(argc, argv);
  const Workload workload(options);
  if (options.prefill) {
    if (in_mix(options, Op::get) || in_mix(options, Op::set) || in_mix(options, Op::invalidate)) {
      prefill(options, workload, Request::set, "keys");
    }
    if (in_mix(options, Op::semantic)) {
      prefill(options, workload, Request::semantic_set, "questions");
    }
  }
  if (options.requests == 0u) {
    return 0;
  }
  auto connections = open_connections(options, options.pipeline);
  Plan plan;
  for (const auto& weight : options.mix) {
    plan.mix.push_back({static_cast<Request>(weight.op), weight.weight});
  }
  plan.requests = options.requests;
  plan.seconds = options.seconds;
  plan.pipeline = options.pipeline;
  plan.seed = options.seed;
  const Result result = drive(workload, plan, connections, options.threads);
  fmt::print("{}", options.json ? json_report(options, result) : text_report(options, result));
  std::uint64_t errors = 0;
  for (const auto& tally : result.tallies) {
    errors += tally.error_count();
  }
  if (errors > 0) {
    fmt::print(stderr, "omnicache-bench: the daemon answered {} requests with an error\n", errors);
    return k_exit_errors;
  }
  return 0;
}

} // namespace

} // namespace omnicache::bench

int
main(int argc, char** argv)
{
  try {
    return omnicache::bench::run(argc, argv);
  } catch (const omnicache::bench::BenchError& e) {
    fmt::print(stderr, "omnicache-bench: {}\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "omnicache-bench: {}\n", e.what());
    return omnicache::bench::k_exit_errors;
  }
}
