#pragma once

#include "bench/semantic_scale/data.hpp"

#include <utility>
#include <vector>

// The index built and searched in this process.
namespace omnicache::bench::scale {

struct InProcess
{
  double build_s = 0;
  double build_cpu_s = 0; // this process's CPU time: what the build costs on a machine others share
  std::vector<std::pair<std::size_t, double>> recall; // ef, recall@1
  double search_us = 0;                               // at --ef
};

InProcess measure_in_process(const Options& options, const DataSet& data, std::size_t n, const Truth& truth);

} // namespace omnicache::bench::scale
