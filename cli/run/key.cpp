#include "cli/run/key.hpp"

#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace omnicache::cli::run {

using protocol::Json;

namespace {

std::string
finish_hex(protocol::Sha256& hash)
{
  const auto digest = hash.finish();
  return protocol::hex(digest.data(), digest.size());
}

// A regular file needs no spool: hash it from where the command would start
// reading, then put the offset back.
std::optional<Stdin>
hash_regular_stdin()
{
  const off_t start = lseek(STDIN_FILENO, 0, SEEK_CUR);
  protocol::Sha256 hash;
  bool ok = false;
  const auto size = hash_to_end(STDIN_FILENO, hash, -1, ok);
  if (!ok || start < 0 || lseek(STDIN_FILENO, start, SEEK_SET) != start) {
    throw CliError(k_exit_usage, fmt::format("cannot read standard input: {}", std::strerror(errno)));
  }
  Stdin out;
  if (size > 0) {
    out.sha256 = finish_hex(hash);
  }
  return out;
}

// A pipe, a terminal, a socket: read to its end into a spool the command
// reads instead.
std::optional<Stdin>
spool_stdin()
{
  Stdin out;
  out.spool = open_spool();
  if (!out.spool) {
    return std::nullopt;
  }
  protocol::Sha256 hash;
  bool ok = false;
  const auto size = hash_to_end(STDIN_FILENO, hash, out.spool.get(), ok);
  if (!ok || lseek(out.spool.get(), 0, SEEK_SET) != 0) {
    throw CliError(k_exit_usage, fmt::format("cannot spool standard input: {}", std::strerror(errno)));
  }
  if (size > 0) {
    out.sha256 = finish_hex(hash);
  }
  return out;
}

// All of a pipe whose writers are gone, at most a pipe buffer of it: tee(2)
// copies it into a pipe of our own without consuming it. nullopt when it
// cannot be copied whole.
std::optional<Stdin>
hash_pipe_in_place(int available, int capacity)
{
  Stdin out;
  if (available == 0) {
    return out;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return std::nullopt;
  }
  const Fd copy_in(fds[0]);
  Fd copy_out(fds[1]);
  if (fcntl(copy_out.get(), F_SETPIPE_SZ, capacity) < capacity
      || tee(STDIN_FILENO, copy_out.get(), static_cast<std::size_t>(available), SPLICE_F_NONBLOCK) != available) {
    return std::nullopt;
  }
  copy_out.reset();
  protocol::Sha256 hash;
  bool ok = false;
  if (hash_to_end(copy_in.get(), hash, -1, ok) != static_cast<std::uint64_t>(available) || !ok) {
    return std::nullopt;
  }
  out.sha256 = finish_hex(hash);
  return out;
}

// A pipe is keyed on all it will ever hold, so this waits for its writers to
// close it. When that fits in its buffer, it is hashed where it lies and the
// command reads the pipe itself: what the command leaves stays for the next
// reader, which lets `... | while read -r line; do omnicache run ...; done`
// run every line. nullopt when the pipe fills up first (its writer waits for
// a reader) or cannot be peeked at: it is read then.
std::optional<Stdin>
peek_finished_pipe()
{
  const int capacity = fcntl(STDIN_FILENO, F_GETPIPE_SZ);
  if (capacity <= 0) {
    return std::nullopt;
  }
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    pollfd ready{STDIN_FILENO, POLLIN, 0};
    if (poll(&ready, 1, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return std::nullopt;
    }
    int available = 0;
    if ((ready.revents & (POLLERR | POLLNVAL)) != 0 || ioctl(STDIN_FILENO, FIONREAD, &available) != 0) {
      return std::nullopt;
    }
    if ((ready.revents & POLLHUP) != 0) {
      return hash_pipe_in_place(available, capacity);
    }
    if (available >= capacity) {
      return std::nullopt;
    }
    // Something to read but a writer still there: poll() would say so at
    // once again, so wait a little before looking.
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

Stdin
dev_null_stdin()
{
  Stdin out;
  out.spool = Fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!out.spool) {
    throw CliError(k_exit_usage, fmt::format("cannot open /dev/null: {}", std::strerror(errno)));
  }
  return out;
}

} // namespace

std::optional<Stdin>
take_stdin(StdinMode mode)
{
  if (mode == StdinMode::never) {
    return dev_null_stdin();
  }
  struct stat status
  {
  };
  if (fstat(STDIN_FILENO, &status) != 0) {
    return Stdin{}; // none at all: nothing to read, nothing to key
  }
  if (isatty(STDIN_FILENO) && mode == StdinMode::automatic) {
    return Stdin{};
  }
  if (S_ISREG(status.st_mode)) {
    return hash_regular_stdin();
  }
  if (S_ISFIFO(status.st_mode)) {
    if (auto peeked = peek_finished_pipe()) {
      return peeked;
    }
  }
  return spool_stdin();
}

std::vector<HashedFile>
hash_files(const std::vector<std::string>& paths)
{
  std::vector<HashedFile> files;
  for (const auto& path : paths) {
    const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    protocol::Sha256 hash;
    bool ok = false;
    if (fd) {
      hash_to_end(fd.get(), hash, -1, ok);
    }
    if (!ok) {
      throw CliError(k_exit_usage, fmt::format("cannot read --file {}: {}", path, std::strerror(errno)));
    }
    std::error_code ignored;
    const auto absolute = std::filesystem::absolute(path, ignored).lexically_normal();
    files.push_back({path, absolute.string(), finish_hex(hash)});
  }
  return files;
}

std::string
run_key(const KeyParts& parts, const Stdin& input, const std::vector<HashedFile>& files)
{
  Json file_list = Json::array();
  for (const auto& file : files) {
    file_list.push_back({{"path", file.path}, {"sha256", file.sha256}});
  }
  Json env = Json::object();
  for (const auto& name : parts.env_names) {
    const char* value = std::getenv(name.c_str());
    env[name] = value != nullptr ? Json(value) : Json(nullptr);
  }
  const Json canonical{
    {"argv", parts.argv},
    {"stdin", input.sha256 ? Json(*input.sha256) : Json(nullptr)},
    {"files", std::move(file_list)},
    {"env", std::move(env)},
    {"key_extra", parts.key_extra},
  };
  return protocol::layer_key("run", protocol::canonical_json(canonical));
}

namespace {

std::string
without(std::string text, std::string_view question)
{
  for (auto at = text.find(question); at != std::string::npos; at = text.find(question, at + 2)) {
    text.replace(at, question.size(), "{}");
  }
  return text;
}

} // namespace

std::string
run_context(KeyParts parts, const Stdin& input, const std::vector<HashedFile>& files, std::string_view question)
{
  if (question.empty()) {
    return run_key(parts, input, files);
  }
  for (auto& arg : parts.argv) {
    arg = without(std::move(arg), question);
  }
  for (auto& extra : parts.key_extra) {
    extra = without(std::move(extra), question);
  }
  Stdin masked;
  if (input.sha256 && *input.sha256 != protocol::sha256_hex(question)
      && *input.sha256 != protocol::sha256_hex(std::string(question) + "\n")) {
    masked.sha256 = input.sha256;
  }
  return run_key(parts, masked, files);
}

} // namespace omnicache::cli::run
