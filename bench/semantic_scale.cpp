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
#include "protocol/canonical.hpp"
#include "protocol/message.hpp"
#include "store/semantic/index.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ctime>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <unordered_map>
#include <vector>

extern char** environ;

namespace sem = omnicache::store::semantic;
namespace protocol = omnicache::protocol;
namespace fs = std::filesystem;
using protocol::Json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double k_recall_goal = 0.98;
constexpr std::size_t k_clusters = 1000;
constexpr float k_cluster_spread = 0.6f; // noise norm around a cluster's centre
constexpr auto k_start_timeout = std::chrono::hours(6);
constexpr auto k_stop_timeout = std::chrono::hours(1);

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

double
seconds_since(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// -- data ----------------------------------------------------------------------

// Vector i of a data set, or query i (queries use another stream): unit
// length, either uniform on the sphere or near one of k_clusters centres.
class DataSet
{
public:
  DataSet(std::string kind, std::size_t dim, std::uint64_t seed)
    : m_kind(std::move(kind)),
      m_dim(dim),
      m_seed(seed)
  {
    if (m_kind != "random" && m_kind != "clustered") {
      throw std::runtime_error("unknown data kind '" + m_kind + "' (random or clustered)");
    }
    if (m_kind == "clustered") {
      for (std::size_t c = 0; c < k_clusters; ++c) {
        m_centres.push_back(gaussian(stream(c, 2), 1.0f));
        normalise(m_centres.back());
      }
    }
  }

  std::vector<float> vector(std::size_t i) const { return make(stream(i, 0)); }
  std::vector<float> query(std::size_t i) const { return make(stream(i, 1)); }

private:
  std::mt19937_64 stream(std::size_t i, std::uint64_t which) const
  {
    std::seed_seq seq{m_seed, static_cast<std::uint64_t>(i), which};
    return std::mt19937_64(seq);
  }

  std::vector<float> gaussian(std::mt19937_64&& rng, float scale) const
  {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> v(m_dim);
    for (auto& x : v) {
      x = normal(rng);
    }
    return v;
  }

  static void normalise(std::vector<float>& v)
  {
    double norm = 0;
    for (const float x : v) {
      norm += static_cast<double>(x) * x;
    }
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (auto& x : v) {
      x *= scale;
    }
  }

  std::vector<float> make(std::mt19937_64 rng) const
  {
    if (m_kind == "random") {
      auto v = gaussian(std::move(rng), 1.0f);
      normalise(v);
      return v;
    }
    const auto& centre = m_centres[rng() % k_clusters];
    auto v = gaussian(std::move(rng), k_cluster_spread / std::sqrt(static_cast<float>(m_dim)));
    for (std::size_t d = 0; d < m_dim; ++d) {
      v[d] += centre[d];
    }
    normalise(v);
    return v;
  }

  std::string m_kind;
  std::size_t m_dim;
  std::uint64_t m_seed;
  std::vector<std::vector<float>> m_centres;
};

float
dot(const float* a, const float* b, std::size_t n)
{
  // Eight partial sums: the compiler keeps them in vector registers.
  std::array<float, 8> acc{};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t k = 0; k < 8; ++k) {
      acc[k] += a[i + k] * b[i + k];
    }
  }
  float sum = 0;
  for (; i < n; ++i) {
    sum += a[i] * b[i];
  }
  for (const float x : acc) {
    sum += x;
  }
  return sum;
}

struct Truth
{
  std::vector<std::vector<float>> queries;
  std::vector<std::size_t> best;
  std::vector<float> best_score;
};

// The exact nearest vector of every query, over blocks of data that stay in cache.
Truth
brute_force(const DataSet& data, std::size_t n, std::size_t queries, std::size_t dim)
{
  Truth truth;
  for (std::size_t q = 0; q < queries; ++q) {
    truth.queries.push_back(data.query(q));
  }
  truth.best.assign(queries, 0);
  truth.best_score.assign(queries, -2.0f);
  constexpr std::size_t k_block = 256;
  std::vector<float> block(k_block * dim);
  for (std::size_t start = 0; start < n; start += k_block) {
    const std::size_t count = std::min(k_block, n - start);
    for (std::size_t j = 0; j < count; ++j) {
      const auto v = data.vector(start + j);
      std::copy(v.begin(), v.end(), block.begin() + static_cast<std::ptrdiff_t>(j * dim));
    }
    for (std::size_t q = 0; q < queries; ++q) {
      for (std::size_t j = 0; j < count; ++j) {
        const float score = dot(truth.queries[q].data(), block.data() + j * dim, dim);
        if (score > truth.best_score[q]) {
          truth.best_score[q] = score;
          truth.best[q] = start + j;
        }
      }
    }
  }
  return truth;
}

// A hit when the answer is the exact nearest, or as near (a tie).
bool
is_hit(const Truth& truth, std::size_t q, std::size_t found, float similarity)
{
  return found == truth.best[q] || similarity >= truth.best_score[q] - 1e-6f;
}

// -- in process ----------------------------------------------------------------

struct InProcess
{
  double build_s = 0;
  double build_cpu_s = 0; // this process's CPU time: what the build costs on a machine others share
  std::vector<std::pair<std::size_t, double>> recall; // ef, recall@1
  double search_us = 0;                               // at --ef
};

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

// -- the daemon ------------------------------------------------------------------

// A blocking connection that may have many requests in flight.
class Connection
{
public:
  explicit Connection(const fs::path& socket_path)
    : m_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0))
  {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const auto path = socket_path.string();
    if (m_fd < 0 || path.size() >= sizeof address.sun_path) {
      throw std::runtime_error("cannot make a socket for " + path);
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (::connect(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      const int error = errno;
      ::close(m_fd);
      throw std::system_error(error, std::generic_category(), "connect " + path);
    }
  }
  ~Connection() { ::close(m_fd); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void send(std::string_view op, Json fields, std::string_view value = {})
  {
    std::string frame;
    protocol::append_request(frame, m_next_id++, op, std::move(fields), value);
    for (std::size_t done = 0; done < frame.size();) {
      const ssize_t n = ::write(m_fd, frame.data() + done, frame.size() - done);
      if (n <= 0) {
        throw std::system_error(errno, std::generic_category(), "write");
      }
      done += static_cast<std::size_t>(n);
    }
  }

  protocol::Reply receive()
  {
    while (true) {
      if (const auto body = m_reader.next()) {
        auto reply = protocol::parse_reply(protocol::split_body(*body, static_cast<std::uint32_t>(body->size())));
        if (!reply.ok) {
          throw std::runtime_error("the daemon answered: " + reply.error_message);
        }
        return reply;
      }
      m_reader.compact();
      char* room = m_reader.prepare(1 << 16);
      const ssize_t n = ::read(m_fd, room, m_reader.room());
      if (n <= 0) {
        throw std::runtime_error("the daemon closed the connection");
      }
      m_reader.commit(static_cast<std::size_t>(n));
    }
  }

  protocol::Reply call(std::string_view op, Json fields = Json::object())
  {
    send(op, std::move(fields));
    return receive();
  }

private:
  int m_fd;
  std::uint64_t m_next_id = 1;
  protocol::FrameReader m_reader;
};

// CPU time a process has used, in seconds.
double
cpu_of(pid_t pid)
{
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2)); // after the command name
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) { // utime, stime
      ticks += std::stod(field);
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Memory
{
  double rss_mb = 0;
  double hwm_mb = 0;
};

Memory
memory_of(pid_t pid)
{
  Memory memory;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    const auto kb = [&line] { return std::stod(line.substr(line.find(':') + 1)) / 1024.0; };
    if (line.starts_with("VmRSS:")) {
      memory.rss_mb = kb();
    } else if (line.starts_with("VmHWM:")) {
      memory.hwm_mb = kb();
    }
  }
  return memory;
}

// omnicached in a temporary folder, with only the settings given here.
class Daemon
{
public:
  Daemon(const Options& options, const fs::path& dir)
    : m_options(options),
      m_dir(dir)
  {
    std::ofstream(m_dir / "config.toml").flush(); // empty: no user configuration applies
  }
  ~Daemon()
  {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  fs::path socket() const { return m_dir / "s.sock"; }
  fs::path database() const { return m_dir / "cache.db"; }
  pid_t pid() const { return m_pid; }

  // Starts it and waits until it answers a ping; returns the seconds that took.
  double start()
  {
    const auto started = Clock::now();
    m_pid = ::fork();
    if (m_pid < 0) {
      throw std::system_error(errno, std::generic_category(), "fork");
    }
    if (m_pid == 0) {
      exec();
    }
    while (Clock::now() - started < k_start_timeout) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = 0;
        throw std::runtime_error(fmt::format("omnicached exited before serving; see {}", (m_dir / "log").string()));
      }
      try {
        Connection(socket()).call("ping");
        return seconds_since(started);
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    throw std::runtime_error("omnicached did not answer in time");
  }

  // SIGTERM, and the seconds until it has exited (it saves the index first).
  double stop()
  {
    const auto started = Clock::now();
    ::kill(m_pid, SIGTERM);
    while (Clock::now() - started < k_stop_timeout) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          throw std::runtime_error("omnicached did not exit cleanly");
        }
        return seconds_since(started);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("omnicached did not stop in time");
  }

private:
  [[noreturn]] void exec() const
  {
    const auto log = (m_dir / "log").string();
    std::FILE* out = std::fopen(log.c_str(), "a");
    if (out != nullptr) {
      ::dup2(fileno(out), STDOUT_FILENO);
      ::dup2(fileno(out), STDERR_FILENO);
    }
    const auto& p = m_options.params;
    std::vector<std::string> args{
      m_options.daemon_path, "--foreground", "--config", (m_dir / "config.toml").string(),
      "--socket", socket().string(), "--database", database().string(),
      "-o", "ttl.semantic=never", "-o", "store.max_bytes=0",
      "-o", fmt::format("semantic.m={}", p.m), "-o", fmt::format("semantic.ef_construction={}", p.ef_construction),
      "-o", fmt::format("semantic.ef={}", p.ef),
    };
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> env; // without OMNICACHE_* settings
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "OMNICACHE_", 10) != 0) {
        env.push_back(*e);
      }
    }
    env.push_back(nullptr);
    ::execve(argv[0], argv.data(), env.data());
    std::perror(argv[0]);
    ::_exit(127);
  }

  const Options& m_options;
  fs::path m_dir;
  pid_t m_pid = 0;
};

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
insert_all(Connection& connection, const DataSet& data, std::size_t n, std::size_t window)
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
    connection.receive();
    if ((received + 1) % 100000 == 0) {
      fmt::print(stderr, "  daemon: {} set, {:.0f} s\n", received + 1, seconds_since(started));
    }
  }
  return static_cast<double>(n) / seconds_since(started);
}

struct Lookups
{
  double p50_ms = 0;
  double p99_ms = 0;
  double recall = 0;
};

// One semantic_get per query, one at a time; the answer's key names the entry.
Lookups
look_up(Connection& connection, const Truth& truth, const std::unordered_map<std::string, std::size_t>& ids)
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

Restart
restart(Daemon& daemon, const Truth& truth, const std::unordered_map<std::string, std::size_t>& ids)
{
  Restart out;
  out.seconds = daemon.start();
  out.cpu_s = cpu_of(daemon.pid());
  out.memory = memory_of(daemon.pid());
  Connection connection(daemon.socket());
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
      Connection connection(daemon.socket());
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
