#pragma once

#include "bench/semantic_scale/options.hpp"
#include "protocol/connection.hpp"
#include "protocol/error.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

// A real omnicached started for the measurement, and what /proc says of it.
namespace omnicache::bench::scale {

namespace fs = std::filesystem;
namespace protocol = omnicache::protocol;

inline constexpr auto k_start_timeout = std::chrono::hours(6);
inline constexpr auto k_stop_timeout = std::chrono::hours(1);

// CPU time a process has used, in seconds.
double cpu_of(pid_t pid);

struct Memory
{
  double rss_mb = 0;
  double hwm_mb = 0;
};

Memory memory_of(pid_t pid);

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
      throw protocol::Error(protocol::ErrorCode::io, fmt::format("fork: {}", std::strerror(errno)));
    }
    if (m_pid == 0) {
      exec();
    }
    while (Clock::now() - started < k_start_timeout) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = 0;
        throw protocol::Error(protocol::ErrorCode::unavailable,
                              fmt::format("omnicached exited before serving; see {}", (m_dir / "log").string()));
      }
      try {
        protocol::Connection::open(socket().string(), 0).call("ping");
        return seconds_since(started);
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    throw protocol::Error(protocol::ErrorCode::unavailable, "omnicached did not answer in time");
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
          throw protocol::Error(protocol::ErrorCode::internal, "omnicached did not exit cleanly");
        }
        return seconds_since(started);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw protocol::Error(protocol::ErrorCode::unavailable, "omnicached did not stop in time");
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

} // namespace omnicache::bench::scale
