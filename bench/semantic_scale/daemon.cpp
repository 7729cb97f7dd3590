#include "bench/semantic_scale/daemon.hpp"

#include <iterator>
#include <sstream>

namespace omnicache::bench::scale {

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

} // namespace omnicache::bench::scale
