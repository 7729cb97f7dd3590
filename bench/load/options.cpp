#include "bench/load/options.hpp"

#include "protocol/config.hpp"
#include "protocol/error.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>

namespace omnicache::bench {

namespace {

constexpr const char* k_op_names[k_op_count] = {"get", "miss", "set", "invalidate", "semantic"};

std::string
resolve_socket(const std::string& flag)
{
  // The same precedence as the omnicache command: flag, environment, config file, default.
  protocol::ConfigSources sources;
  if (!flag.empty()) {
    sources.flags.push_back({"daemon.socket", flag, "--socket"});
  }
  return protocol::Config::load(sources).settings().socket;
}

} // namespace

const char*
op_name(Op op)
{
  return k_op_names[static_cast<int>(op)];
}

std::vector<OpWeight>
parse_mix(const std::string& text)
{
  std::vector<OpWeight> mix;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const std::size_t equals = part.find('=');
    const std::string name = part.substr(0, equals);
    unsigned weight = 1;
    if (equals != std::string::npos) {
      const std::string number = part.substr(equals + 1);
      char* rest = nullptr;
      const unsigned long parsed = std::strtoul(number.c_str(), &rest, 10);
      if (number.empty() || *rest != '\0' || parsed > 1000000) {
        throw protocol::Error(protocol::ErrorCode::config,
                              fmt::format("'{}': the weight must be a whole number", part));
      }
      weight = static_cast<unsigned>(parsed);
    }
    int found = -1;
    for (int i = 0; i < k_op_count; ++i) {
      if (name == k_op_names[i]) {
        found = i;
      }
    }
    if (found < 0) {
      throw protocol::Error(protocol::ErrorCode::config,
                            fmt::format("'{}': unknown operation (known: get, miss, set, invalidate, semantic)", name));
    }
    if (weight > 0) {
      mix.push_back({static_cast<Op>(found), weight});
    }
    start = end + 1;
  }
  if (mix.empty()) {
    throw protocol::Error(protocol::ErrorCode::config, "the mix has no operation with a weight above 0");
  }
  return mix;
}

Options
parse_options(int argc, char** argv)
{
  Options options;
  CLI::App app{"omnicache-bench: a load generator for omnicached, in the manner of redis-benchmark.\n"
               "Keys are key:<12 digits> (as redis-benchmark's -r), chosen uniformly from the keyspace."};
  app.set_version_flag("--version", "omnicache-bench 0.1");
  std::string socket;
  std::string mix = "get=80,set=20";
  std::uint64_t requests = 0;
  double seconds = 0;
  app.add_option("-s,--socket", socket, "The daemon's socket (default: as the omnicache command finds it)");
  app.add_option("-c,--connections", options.connections, "Connections")->check(CLI::Range(1u, 100000u))
    ->capture_default_str();
  app.add_option("-P,--pipeline", options.pipeline, "Requests in flight per connection (1: wait for each reply)")
    ->check(CLI::Range(1u, 1024u))->capture_default_str();
  app.add_option("--threads", options.threads, "Threads, each with its own share of the connections")
    ->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--ops", mix,
                 "Mix of operations with weights: get (hit), miss (get of an absent key), set, "
                 "invalidate (by tag), semantic (semantic_get)")->capture_default_str();
  app.add_option("-d,--value-size", options.value_size, "Bytes of each set's value")
    ->check(CLI::Range(std::size_t{0}, std::size_t{64} << 20))->capture_default_str();
  app.add_option("-r,--keyspace", options.keyspace, "Distinct keys")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{999999999999}))->capture_default_str();
  app.add_option("--semantic-keys", options.semantic_keys, "Distinct questions of the semantic op")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{999999999999}))->capture_default_str();
  app.add_option("--tags", options.tags, "Tags of each set; tag j of key i is t<j>:<i mod keyspace/100>")
    ->check(CLI::Range(0u, 64u))->capture_default_str();
  auto* n = app.add_option("-n,--requests", requests,
                           "Requests to send (default 100000 unless --seconds; 0 with --prefill: only prefill)");
  auto* s = app.add_option("--seconds", seconds, "Stop sending after this long")->check(CLI::Range(0.001, 86400.0));
  app.add_flag("--prefill", options.prefill,
               "Before measuring, set every key of the keyspace (and the semantic questions when the mix asks)");
  app.add_flag("--json", options.json, "Print the report as JSON");
  app.add_option("--seed", options.seed, "Seed of the key choice")->capture_default_str();
  try {
    app.parse(argc, argv);
    options.mix = parse_mix(mix);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  } catch (const protocol::Error& e) {
    fmt::print(stderr, "omnicache-bench: --ops: {}\n", e.what());
    std::exit(2);
  }
  if (n->count() > 0) {
    if (requests == 0 && !options.prefill) {
      fmt::print(stderr, "omnicache-bench: -n 0 only makes sense with --prefill\n");
      std::exit(2);
    }
    options.requests = requests;
  }
  if (s->count() > 0) {
    options.seconds = seconds;
  }
  if (!options.requests && !options.seconds) {
    options.requests = 100000;
  }
  options.threads = std::min(options.threads, options.connections);
  try {
    options.socket = resolve_socket(socket);
  } catch (const protocol::ConfigError& e) {
    fmt::print(stderr, "omnicache-bench: {}\n", e.what());
    std::exit(2);
  }
  return options;
}

} // namespace omnicache::bench
