#pragma once

#include <fmt/core.h>

#include <cstdio>
#include <string_view>

// The daemon's log: one line per event, "2026-11-22T20:24:56.123Z info message".
namespace omnicache::daemon::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

Level parse_level(std::string_view name); // unknown names give info
void set_level(Level level);
bool enabled(Level level);
// Where lines go; stderr until set. The log does not own the stream.
void set_output(std::FILE* out);
void write(Level level, std::string_view message);

template<typename... Args>
void
error(fmt::format_string<Args...> format, Args&&... args)
{
  write(Level::error, fmt::format(format, std::forward<Args>(args)...));
}

template<typename... Args>
void
warn(fmt::format_string<Args...> format, Args&&... args)
{
  write(Level::warn, fmt::format(format, std::forward<Args>(args)...));
}

template<typename... Args>
void
info(fmt::format_string<Args...> format, Args&&... args)
{
  if (enabled(Level::info)) {
    write(Level::info, fmt::format(format, std::forward<Args>(args)...));
  }
}

template<typename... Args>
void
debug(fmt::format_string<Args...> format, Args&&... args)
{
  if (enabled(Level::debug)) {
    write(Level::debug, fmt::format(format, std::forward<Args>(args)...));
  }
}

} // namespace omnicache::daemon::log
