#include "cli/warm/report.hpp"

#include "cli/output.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

namespace omnicache::cli::warm {

namespace {

constexpr auto k_redraw_interval = std::chrono::milliseconds(200);
constexpr std::size_t k_bar_width = 30;

} // namespace

Report::Report(std::string file, bool progress)
  : m_file(std::move(file)),
    m_progress(progress)
{
}

void
Report::fail(std::size_t line, std::string_view reason)
{
  const std::lock_guard lock(m_mutex);
  clear_bar();
  fmt::print(stderr, "{}:{}: {}\n", m_file, line, reason);
  ++m_tally.failed;
  if (m_failures.size() < k_listed_failures) {
    m_failures.emplace_back(line, std::string(reason));
  }
}

void
Report::add_rows(std::uint64_t n)
{
  const std::lock_guard lock(m_mutex);
  m_tally.rows += n;
}

void
Report::add_stored(std::uint64_t imported, std::uint64_t skipped)
{
  const std::lock_guard lock(m_mutex);
  m_tally.imported += imported;
  m_tally.skipped += skipped;
}

void
Report::add_executed()
{
  const std::lock_guard lock(m_mutex);
  ++m_tally.executed;
}

void
Report::progress(std::uint64_t bytes_read, std::uint64_t total_bytes)
{
  if (!m_progress || total_bytes == 0) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(m_mutex);
  if (now < m_next_draw) {
    return;
  }
  m_next_draw = now + k_redraw_interval;
  const double done = std::min(1.0, static_cast<double>(bytes_read) / static_cast<double>(total_bytes));
  const auto filled = static_cast<std::size_t>(done * k_bar_width);
  fmt::print(stderr, "\r[{:#<{}}{:-<{}}] {:3.0f}%  {} of {}  {}\x1b[K", "", filled, "", k_bar_width - filled,
             done * 100, protocol::format_size(bytes_read), protocol::format_size(total_bytes),
             output::counted(m_tally.rows, "row"));
  std::fflush(stderr);
  m_bar_drawn = true;
}

void
Report::end_progress()
{
  const std::lock_guard lock(m_mutex);
  clear_bar();
  m_progress = false;
  m_exec_line = false;
}

void
Report::begin_exec(std::uint64_t total, bool show)
{
  const std::lock_guard lock(m_mutex);
  m_exec_line = show && total > 0;
  m_exec_total = total;
  m_exec_done = 0;
  m_exec_started = std::chrono::steady_clock::now();
  if (m_exec_line) {
    // At once, so that even a short run says what it is doing.
    draw_exec_line(m_exec_started);
  }
}

void
Report::exec_row_done()
{
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(m_mutex);
  ++m_exec_done;
  if (m_exec_line && (now >= m_next_draw || m_exec_done == m_exec_total)) {
    draw_exec_line(now);
  }
}

// "--exec: 12/40 rows, 3.1 rows/s, about 9s left"
void
Report::draw_exec_line(std::chrono::steady_clock::time_point now)
{
  m_next_draw = now + k_redraw_interval;
  const double seconds = std::chrono::duration<double>(now - m_exec_started).count();
  std::string rate = "rate not known yet";
  std::string left;
  if (m_exec_done > 0 && seconds > 0) {
    const double per_second = static_cast<double>(m_exec_done) / seconds;
    rate = fmt::format("{:.1f} rows/s", per_second);
    const auto left_ms = static_cast<std::int64_t>(static_cast<double>(m_exec_total - m_exec_done) / per_second * 1000);
    // Whole seconds: milliseconds would flicker without saying more.
    left = fmt::format(", about {} left", protocol::format_duration_ms(std::max<std::int64_t>(left_ms / 1000, 1) * 1000));
  }
  if (m_exec_done == m_exec_total) {
    left.clear();
  }
  fmt::print(stderr, "\r--exec: {}/{} rows, {}{}\x1b[K", m_exec_done, m_exec_total, rate, left);
  std::fflush(stderr);
  m_bar_drawn = true;
}

void
Report::clear_bar()
{
  if (m_bar_drawn) {
    fmt::print(stderr, "\r\x1b[K");
    m_bar_drawn = false;
    m_next_draw = {}; // redraw right after the line that interrupted it
  }
}

Tally
Report::tally() const
{
  const std::lock_guard lock(m_mutex);
  return m_tally;
}

protocol::Json
Report::failures() const
{
  const std::lock_guard lock(m_mutex);
  auto list = protocol::Json::array();
  for (const auto& [line, reason] : m_failures) {
    list.push_back({{"line", line}, {"error", reason}});
  }
  return list;
}

} // namespace omnicache::cli::warm
