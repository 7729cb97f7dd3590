#include "bench/semantic_scale/in_process.hpp"

#include <fmt/core.h>

#include <ctime>

namespace omnicache::bench::scale {

InProcess
measure_in_process(const Options& options, const DataSet& data, std::size_t n, const Truth& truth)
{
  InProcess out;
  sem::Index index(options.params);
  const auto started = Clock::now();
  const std::clock_t cpu = std::clock();
  for (std::size_t i = 0; i < n; ++i) {
    index.add("t", "s", static_cast<std::int64_t>(i), data.vector(i));
    if ((i + 1) % 100000 == 0) {
      fmt::print(stderr, "  in process: {} added, {:.0f} s\n", i + 1, seconds_since(started));
    }
  }
  out.build_s = seconds_since(started);
  out.build_cpu_s = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  for (std::size_t ef = options.params.ef; ef <= 1024; ef *= 2) {
    index.set_ef(ef);
    std::size_t hits = 0;
    const auto searched = Clock::now();
    for (std::size_t q = 0; q < truth.queries.size(); ++q) {
      const auto found = index.search("t", "s", truth.queries[q], 1);
      hits += !found.empty() && is_hit(truth, q, static_cast<std::size_t>(found[0].id), found[0].similarity);
    }
    if (ef == options.params.ef) {
      out.search_us = seconds_since(searched) * 1e6 / static_cast<double>(truth.queries.size());
    }
    out.recall.emplace_back(ef, static_cast<double>(hits) / static_cast<double>(truth.queries.size()));
    if (out.recall.back().second >= k_recall_goal) {
      break;
    }
  }
  return out;
}

} // namespace omnicache::bench::scale
