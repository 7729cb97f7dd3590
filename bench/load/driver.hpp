#pragma once

#include "bench/load/connection.hpp"
#include "bench/load/histogram.hpp"
#include "bench/load/options.hpp"
#include "bench/load/workload.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace omnicache::bench {

inline constexpr int k_error_codes = static_cast<int>(protocol::ErrorCode::internal) + 1;

struct Choice
{
  Request request;
  unsigned weight;
};

// What to send: a weighted mix with random numbers (the measurement), or one
// request for every number in turn (a prefill).
struct Plan
{
  std::vector<Choice> mix;
  bool sequential = false;
  std::optional<std::uint64_t> requests;
  std::optional<double> seconds;
  unsigned pipeline = 1;
  std::uint64_t seed = 1;
};

struct Tally
{
  Histogram latency;
  std::uint64_t found = 0;
  std::array<std::uint64_t, k_error_codes> errors{};

  std::uint64_t error_count() const;
  void merge(const Tally& other);
};

struct Result
{
  std::array<Tally, k_request_count> tallies;
  double elapsed_s = 0;
};

// Runs the plan over the connections, split among `threads` threads, each
// with its own epoll loop; returns when every request sent has its reply.
// Throws BenchError when a connection fails or the daemon stops answering.
Result drive(const Workload& workload, const Plan& plan, std::vector<Connection>& connections, unsigned threads);

} // namespace omnicache::bench
