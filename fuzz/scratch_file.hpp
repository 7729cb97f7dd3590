#pragma once

#include "fuzz/fuzz_check.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace omnicache::fuzz {

// One temporary file, rewritten for each input, for the targets whose code
// under test reads a path. In /dev/shm when there is one: truncating a file on
// disk takes milliseconds, which would make a target a hundred times slower.
class ScratchFile
{
public:
  ScratchFile()
  {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    m_path = fmt::format("{}/omnicache-fuzz-XXXXXX", dir);
    m_fd = mkstemp(m_path.data());
    FUZZ_CHECK(m_fd >= 0);
    unlink_at_exit(m_path);
  }
  const std::string& write(std::string_view bytes)
  {
    FUZZ_CHECK(ftruncate(m_fd, 0) == 0);
    FUZZ_CHECK(pwrite(m_fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
    return m_path;
  }

private:
  static void unlink_at_exit(const std::string& path)
  {
    static std::string s_path;
    s_path = path;
    std::atexit([] { ::unlink(s_path.c_str()); });
  }

  std::string m_path;
  int m_fd = -1;
};

} // namespace omnicache::fuzz
