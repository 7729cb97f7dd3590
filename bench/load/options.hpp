#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace omnicache::bench {

// The kinds of request the load generator sends.
enum class Op { get, miss, set, invalidate, semantic };
inline constexpr int k_op_count = 5;

const char* op_name(Op op);

struct OpWeight
{
  Op op;
  unsigned weight;
};

struct Options
{
  std::string socket;                // resolved: flag, OMNICACHE_SOCKET, config file, default
  unsigned connections = 50;
  unsigned pipeline = 1;             // requests in flight per connection
  unsigned threads = 1;
  std::vector<OpWeight> mix = {{Op::get, 80}, {Op::set, 20}};
  std::size_t value_size = 1024;
  std::uint64_t keyspace = 100000;
  std::uint64_t semantic_keys = 2000;
  unsigned tags = 0;                 // tags of each set
  std::optional<std::uint64_t> requests;
  std::optional<double> seconds;
  bool prefill = false;
  bool json = false;
  std::uint64_t seed = 1;
};

// Parses the command line. Prints help or a usage error and exits (0 or 2)
// when it cannot return options.
Options parse_options(int argc, char** argv);

// "get=80,set=20" -> weights; throws protocol::Error (config) naming the bad part.
std::vector<OpWeight> parse_mix(const std::string& text);

} // namespace omnicache::bench
