#pragma once

#include "store/semantic/index.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// What the parts of omnicache-semantic-scale share: its options and clock.
namespace omnicache::bench::scale {

namespace sem = omnicache::store::semantic;
using Clock = std::chrono::steady_clock;

inline constexpr double k_recall_goal = 0.98;
inline constexpr std::size_t k_clusters = 1000;
inline constexpr float k_cluster_spread = 0.6f; // noise norm around a cluster's centre

struct Options
{
  std::vector<std::size_t> sizes{100000, 1000000};
  std::vector<std::string> kinds{"random", "clustered"};
  std::size_t dim = 384;
  std::size_t queries = 1000;
  sem::IndexParams params;
  bool daemon = true;
  std::string daemon_path;
  std::size_t window = 64;
  std::uint64_t seed = 1;
};

inline double
seconds_since(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace omnicache::bench::scale
