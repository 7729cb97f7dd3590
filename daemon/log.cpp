#include "daemon/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace omnicache::daemon::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<std::FILE*> g_output{nullptr};
std::mutex g_mutex;

constexpr std::string_view k_names[] = {"error", "warn", "info", "debug"};

} // namespace

Level
parse_level(std::string_view name)
{
  for (int i = 0; i < 4; ++i) {
    if (k_names[i] == name) {
      return static_cast<Level>(i);
    }
  }
  return Level::info;
}

void
set_level(Level level)
{
  g_level = static_cast<int>(level);
}

bool
enabled(Level level)
{
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void
set_output(std::FILE* out)
{
  g_output = out;
}

void
write(Level level, std::string_view message)
{
  if (!enabled(level)) {
    return;
  }
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::FILE* out = g_output.load();
  if (out == nullptr) {
    out = stderr;
  }
  std::lock_guard lock(g_mutex);
  fmt::print(out, "{}.{:03}Z {} {}\n", stamp, millis, k_names[static_cast<int>(level)], message);
  std::fflush(out);
}

} // namespace omnicache::daemon::log
