#include "cli/run/key.hpp"

#include "cli/exit_codes.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
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
