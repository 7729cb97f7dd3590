#include "bench/semantic_scale/through_daemon.hpp"

#include "protocol/canonical.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <unordered_map>

namespace omnicache::bench::scale {

using protocol::Json;

namespace {

// One connection, greeted; a daemon without semantic matching is refused.
protocol::Connection
connect(const Daemon& daemon)
{
  auto connection = protocol::Connection::open(daemon.socket().string(), 0);
  connection.queue_hello("omnicache-semantic-scale", {"semantic"});
  return connection;
}

Json
vector_json(const std::vector<float>& v)
{
  Json out = Json::array();
  for (const float x : v) {
    out.push_back(x);
  }
  return out;
}

// semantic_set of every vector on one connection, `window` requests in flight.
double
insert_all(protocol::Connection& connection, const DataSet& data, std::size_t n, std::size_t window)
{
  const auto started = Clock::now();
  std::size_t sent = 0;
  for (std::size_t received = 0; received < n; ++received) {
    while (sent < n && sent - received < window) {
      Json fields{{"model", "bench"}, {"text", fmt::format("item {}", sent)}};
      fields["vector"] = vector_json(data.vector(sent));
      connection.send("semantic_set", std::move(fields), fmt::format("answer {}", sent));
      ++sent;
    }
    protocol::throw_if_error(connection.receive());
    if ((received + 1) % 100000 == 0) {
      fmt::print(stderr, "  daemon: {} set, {:.0f} s\n", received + 1, seconds_since(started));
    }
  }
  return static_cast<double>(n) / seconds_since(started);
}

// One semantic_get per query, one at a time; the answer's key names the entry.
Lookups
look_up(protocol::Connection& connection, const Truth& truth, const std::unordered_map<std::string, std::size_t>& ids)
{
  std::vector<double> times;
  std::size_t hits = 0;
  for (std::size_t q = 0; q < truth.queries.size(); ++q) {
    const auto started = Clock::now();
    const auto reply = connection.call("semantic_get", {{"model", "bench"}, {"text", fmt::format("query {}", q)},
                                                        {"vector", vector_json(truth.queries[q])},
                                                        {"threshold", 0}, {"guard", false}});
    times.push_back(seconds_since(started) * 1e3);
    if (reply.header.value("found", false)) {
      const auto it = ids.find(reply.header.value("key", ""));
      hits += it != ids.end() && is_hit(truth, q, it->second, reply.header.value("similarity", 0.0f));
    }
  }
  std::sort(times.begin(), times.end());
  const auto at = [&times](double quantile) {
    return times[std::min(times.size() - 1, static_cast<std::size_t>(quantile * static_cast<double>(times.size())))];
  };
  return {at(0.50), at(0.99), static_cast<double>(hits) / static_cast<double>(truth.queries.size())};
}

Restart
restart(Daemon& daemon, const Truth& truth, const std::unordered_map<std::string, std::size_t>& ids)
{
  Restart out;
  out.seconds = daemon.start();
  out.cpu_s = cpu_of(daemon.pid());
  out.memory = memory_of(daemon.pid());
  auto connection = connect(daemon);
  const auto stats = connection.call("stats").header;
  out.how = stats["server"].value("semantic_index", "?");
  out.lookups = look_up(connection, truth, ids);
  return out;
}

double
folder_mb(const fs::path& dir)
{
  std::uintmax_t bytes = 0;
  for (const auto& item : fs::directory_iterator(dir)) {
    bytes += item.file_size();
  }
  return static_cast<double>(bytes) / (1 << 20);
}

} // namespace

ThroughDaemon
measure_daemon(const Options& options, const DataSet& data, std::size_t n, const Truth& truth)
{
  std::string pattern = (fs::temp_directory_path() / "omnicache-scale-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp");
  }
  const fs::path dir = pattern;
  std::unordered_map<std::string, std::size_t> ids;
  for (std::size_t i = 0; i < n; ++i) {
    ids.emplace(protocol::semantic_key("bench", fmt::format("item {}", i), ""), i);
  }
  ThroughDaemon out;
  {
    Daemon daemon(options, dir);
    daemon.start();
    {
      auto connection = connect(daemon);
      const double cpu = cpu_of(daemon.pid());
      out.insert_rate = insert_all(connection, data, n, options.window);
      out.insert_cpu_s = cpu_of(daemon.pid()) - cpu;
      out.lookups = look_up(connection, truth, ids);
    }
    fmt::print(stderr, "  daemon: stopping (saves the index)\n");
    out.stop_s = daemon.stop();
    const fs::path saved = daemon.database().string() + ".semantic";
    out.files_mb = folder_mb(saved);
    fmt::print(stderr, "  daemon: restarting with the saved index\n");
    out.loaded = restart(daemon, truth, ids);
    daemon.stop();
    fs::remove_all(saved);
    fmt::print(stderr, "  daemon: restarting without it\n");
    out.rebuilt = restart(daemon, truth, ids);
    daemon.stop();
  }
  // What the daemon said of its index, for the record.
  std::ifstream log(dir / "log");
  for (std::string line; std::getline(log, line);) {
    if (line.find("semantic index") != std::string::npos) {
      fmt::print(stderr, "  {}\n", line);
    }
  }
  fs::remove_all(dir);
  return out;
}

} // namespace omnicache::bench::scale
