#pragma once

#include "bench/semantic_scale/daemon.hpp"
#include "bench/semantic_scale/data.hpp"

#include <string>

// The same data through a real daemon: rates, latency, restarts, memory.
namespace omnicache::bench::scale {

struct Lookups
{
  double p50_ms = 0;
  double p99_ms = 0;
  double recall = 0;
};

struct Restart
{
  std::string how; // what stats said
  double seconds = 0;
  double cpu_s = 0; // the daemon's CPU time until it answered
  Memory memory;
  Lookups lookups;
};

struct ThroughDaemon
{
  double insert_rate = 0;
  double insert_cpu_s = 0; // the daemon's CPU time for the inserts
  Lookups lookups;
  double stop_s = 0;
  double files_mb = 0;
  Restart loaded;
  Restart rebuilt;
};

ThroughDaemon measure_daemon(const Options& options, const DataSet& data, std::size_t n, const Truth& truth);

} // namespace omnicache::bench::scale
