#pragma once

#include "cli/run/fd.hpp"

#include <optional>
#include <string>
#include <vector>

// The key of a run: what decides whether two runs are the same work.
namespace omnicache::cli::run {

// Standard input as the command will get it. When it is read, its bytes are
// part of the key. The command still has to read them: a file is put back
// where it was, a pipe that fits in its buffer is hashed without being
// consumed, and a bigger one is spooled while it is hashed.
struct Stdin
{
  std::optional<std::string> sha256; // nullopt: not read, or empty
  Fd spool;                          // the command's stdin when valid, else ours

  int fd() const { return spool ? spool.get() : 0; }
};

// Whether standard input is read into the key (run --stdin, --no-stdin,
// OMNICACHE_RUN_STDIN). `automatic` reads anything but a terminal; `never`
// gives the command /dev/null, so nothing of ours is consumed or awaited.
enum class StdinMode { automatic, always, never };

// Empty input keys as no input: a run typed on a terminal, one from cron
// (</dev/null) and one fed an empty pipe are the same run. nullopt (errno
// set) when a pipe cannot be spooled: nothing of it has been read then, so
// the command can still have all of it. Throws CliError when reading or
// spooling fails half-way.
std::optional<Stdin> take_stdin(StdinMode mode);

struct HashedFile
{
  std::string path;     // as given
  std::string absolute; // names its file: dependency
  std::string sha256;
};

// Throws CliError(k_exit_usage) naming a file that cannot be read.
std::vector<HashedFile> hash_files(const std::vector<std::string>& paths);

struct KeyParts
{
  std::vector<std::string> argv;
  std::vector<std::string> env_names;
  std::vector<std::string> key_extra;
};

// layer_key("run", canonical JSON of argv, stdin's hash, the files' paths and
// hashes, the named environment variables' values, the extra strings).
// Throws protocol::Error when any of them is not valid UTF-8.
std::string run_key(const KeyParts& parts, const Stdin& input, const std::vector<HashedFile>& files);

// What two runs must share for one's output to answer the other's question
// by meaning (run --semantic-text): the run's key with the question taken
// out. Every occurrence of `question` in the arguments and --key-extra
// strings becomes "{}", and standard input that is the question (with or
// without one final newline) counts as no input.
std::string run_context(KeyParts parts, const Stdin& input, const std::vector<HashedFile>& files,
                        std::string_view question);

} // namespace omnicache::cli::run
