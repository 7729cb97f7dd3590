#pragma once

#include "cli/globals.hpp"
#include "cli/warm/report.hpp"
#include "cli/warm/rows.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// `warm --exec`: prompt rows without a response get one from a command.
namespace omnicache::cli::warm {

struct CommandResult
{
  int wait_status = 0;
  std::string output;
};

// Runs `command` with /bin/sh -c, `input` on its standard input and
// `environment` added to ours; returns its standard output (its standard
// error is ours). Throws CliError when it cannot be started.
CommandResult run_command(const std::string& command, std::string_view input,
                          const std::vector<std::pair<std::string, std::string>>& environment);

// "exited with status 3", "was killed by signal 9"; nullopt for success.
std::optional<std::string> command_failure(int wait_status);

struct ExecOptions
{
  std::string command;
  unsigned jobs = 1;
};

// Answers `rows` (prompt rows without a value), `jobs` at a time, each on
// its own connection. Stampede-safe: a row is computed only by whoever gets
// its lease; a row another process is computing is waited for and then
// counted as skipped, like one that is already cached.
void answer_rows(Globals& globals, const ExecOptions& options, std::span<Entry> rows, Report& report);

} // namespace omnicache::cli::warm
