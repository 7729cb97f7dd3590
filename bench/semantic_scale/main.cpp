// omnicache-semantic-scale: the semantic index at scale, in process and
// through a real daemon.
//
//   omnicache-semantic-scale [--n 100000,1000000] [--kinds random,clustered] [--dim 384]
//                            [--queries 1000] [--m 16] [--ef-construction 200] [--ef 64]
//                            [--no-daemon] [--daemon PATH] [--window 64]
//
// For each data kind and size N it builds store::semantic::Index in process
// and measures recall@1 against brute force (exact inner product) over
// --queries queries, at --ef and, when that falls short of 0.98, at larger
// ef. Then it starts omnicached on a temporary socket and database and
// measures: the rate of semantic_set with client vectors (one connection,
// --window requests in flight), the latency of semantic_get with a vector
// (one request at a time, threshold 0, guard off: the nearest neighbour),
// the time to stop (which saves the index), to restart with the saved index
// and to restart without it (rebuilt from the database), and the daemon's
// memory after each start. Data are generated from a fixed seed, one vector
// at a time, so the program holds no copy of them.
#include "bench/semantic_scale/in_process.hpp"
#include "bench/semantic_scale/through_daemon.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

using namespace omnicache::bench::scale;

namespace {

// -- report ----------------------------------------------------------------------

std::string
recall_text(const InProcess& in)
{
  std::string text;
  for (const auto& [ef, recall] : in.recall) {
    text += fmt::format("{}{:.3f} (ef {})", text.empty() ? "" : ", ", recall, ef);
  }
  return text;
}

using InProcessRuns = std::vector<std::tuple<std::string, std::size_t, InProcess>>;
using DaemonRuns = std::vector<std::tuple<std::string, std::size_t, ThroughDaemon>>;

void
print_in_process(const InProcessRuns& runs)
{
  fmt::print("| data | N | build (s) | build CPU (s) | adds/s of CPU | recall@1 | search (µs) |\n"
             "| --- | ---: | ---: | ---: | ---: | --- | ---: |\n");
  for (const auto& [kind, n, r] : runs) {
    fmt::print("| {} | {} | {:.0f} | {:.0f} | {:.0f} | {} | {:.0f} |\n", kind, n, r.build_s, r.build_cpu_s,
               static_cast<double>(n) / r.build_cpu_s, recall_text(r), r.search_us);
  }
}

void
print_daemon(const DaemonRuns& runs)
{
  fmt::print("\n| data | N | semantic_set/s | daemon CPU (s) | semantic_get p50 / p99 (ms) | recall@1 |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& [kind, n, r] : runs) {
    fmt::print("| {} | {} | {:.0f} | {:.0f} | {:.2f} / {:.2f} | {:.3f} |\n", kind, n, r.insert_rate, r.insert_cpu_s,
               r.lookups.p50_ms, r.lookups.p99_ms, r.lookups.recall);
  }
  fmt::print("\n| data | N | stop, saving (s) | files (MiB) | start | to ping (s) | CPU (s) | VmRSS / VmHWM (MiB) "
             "| recall@1 after |\n| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
  for (const auto& [kind, n, r] : runs) {
    for (const auto* start : {&r.loaded, &r.rebuilt}) {
      fmt::print("| {} | {} | {:.1f} | {:.0f} | {} | {:.2f} | {:.2f} | {:.0f} / {:.0f} | {:.3f} |\n", kind, n, r.stop_s,
                 r.files_mb, start->how, start->seconds, start->cpu_s, start->memory.rss_mb, start->memory.hwm_mb,
                 start->lookups.recall);
    }
  }
}

std::string
default_daemon_path()
{
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "omnicached" : (self.parent_path() / "omnicached").string();
}

} // namespace

int
main(int argc, char** argv)
{
  Options options;
  options.daemon_path = default_daemon_path();
  CLI::App app("The semantic index at scale: recall, and a real daemon's rates, latency, restarts and memory");
  app.add_option("--n", options.sizes, "Vectors per run (default 100000,1000000)")->delimiter(',');
  app.add_option("--kinds", options.kinds, "random, clustered (default both)")->delimiter(',');
  app.add_option("--dim", options.dim, "Dimensions (default 384)")->check(CLI::Range(1, 65536));
  app.add_option("--queries", options.queries, "Queries for recall and latency (default 1000)")
    ->check(CLI::Range(1, 100000));
  app.add_option("--m", options.params.m, "hnswlib M (default 16)");
  app.add_option("--ef-construction", options.params.ef_construction, "hnswlib ef_construction (default 200)");
  app.add_option("--ef", options.params.ef, "hnswlib ef at search (default 64)");
  app.add_option("--seed", options.seed, "Seed of the generated data (default 1)");
  app.add_option("--daemon", options.daemon_path, "omnicached to start (default: the one beside this program)");
  app.add_option("--window", options.window, "semantic_set requests in flight (default 64)")
    ->check(CLI::Range(1, 1024));
  bool no_daemon = false;
  app.add_flag("--no-daemon", no_daemon, "Measure in process only");
  CLI11_PARSE(app, argc, argv);
  options.daemon = !no_daemon;

  try {
    InProcessRuns in;
    DaemonRuns through;
    for (const auto& kind : options.kinds) {
      const DataSet data(kind, options.dim, options.seed);
      for (const auto n : options.sizes) {
        fmt::print(stderr, "{} {}: brute force\n", kind, n);
        const auto truth = brute_force(data, n, options.queries, options.dim);
        fmt::print(stderr, "{} {}: in process\n", kind, n);
        in.emplace_back(kind, n, measure_in_process(options, data, n, truth));
        if (options.daemon) {
          fmt::print(stderr, "{} {}: through the daemon\n", kind, n);
          through.emplace_back(kind, n, measure_daemon(options, data, n, truth));
        }
      }
    }
    fmt::print("\ndim {}, m {}, ef_construction {}, ef {}, {} queries\n\n", options.dim, options.params.m,
               options.params.ef_construction, options.params.ef, options.queries);
    print_in_process(in);
    if (!through.empty()) {
      print_daemon(through);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "omnicache-semantic-scale: {}\n", e.what());
    return 1;
  }
  return 0;
}
