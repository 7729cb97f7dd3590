#pragma once

#include "protocol/message.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

// What `warm` counts and says while it runs. Shared by the import and the
// --exec workers, so every method may be called from any thread.
namespace omnicache::cli::warm {

struct Tally
{
  std::uint64_t rows = 0;     // records read, good or bad
  std::uint64_t imported = 0; // entries stored
  std::uint64_t skipped = 0;  // already cached, left alone
  std::uint64_t failed = 0;   // rows reported as FILE:LINE: reason
  std::uint64_t executed = 0; // runs of the --exec command
};

class Report
{
public:
  // `file` as failures name it; `progress`: draw a bar on stderr.
  Report(std::string file, bool progress);

  // Prints FILE:LINE: reason on stderr and counts the row failed.
  void fail(std::size_t line, std::string_view reason);
  void add_rows(std::uint64_t n);
  void add_stored(std::uint64_t imported, std::uint64_t skipped);
  void add_executed();

  // Redraws the bar (at most a few times a second).
  void progress(std::uint64_t bytes_read, std::uint64_t total_bytes);
  // Removes the bar for good.
  void end_progress();

  // --exec: `total` rows to answer. With `show`, a line on stderr says how
  // many are done, the rate and the time left, redrawn as rows finish.
  void begin_exec(std::uint64_t total, bool show);
  // One --exec row answered (computed, found cached, or failed).
  void exec_row_done();

  Tally tally() const;
  // The failures the --json output lists (the first k_listed_failures).
  protocol::Json failures() const;

  static constexpr std::size_t k_listed_failures = 1000;

private:
  void clear_bar();
  void draw_exec_line(std::chrono::steady_clock::time_point now);

  std::string m_file;
  bool m_progress;
  mutable std::mutex m_mutex;
  Tally m_tally;
  std::vector<std::pair<std::size_t, std::string>> m_failures;
  bool m_bar_drawn = false;
  std::chrono::steady_clock::time_point m_next_draw{};
  bool m_exec_line = false;
  std::uint64_t m_exec_total = 0;
  std::uint64_t m_exec_done = 0;
  std::chrono::steady_clock::time_point m_exec_started{};
};

} // namespace omnicache::cli::warm
