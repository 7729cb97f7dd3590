#include "daemon/tier/outbox.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace omnicache::daemon::tier {

namespace {

constexpr std::string_view k_magic = "omnicache-tier-outbox";
constexpr std::string_view k_version = "1";
constexpr int k_invalidation = 1;
constexpr int k_own_removal = 2;

bool
is_word_list(const RedisReply& reply)
{
  if (reply.type != RedisReply::Type::array || reply.elements.empty()) {
    return false;
  }
  for (const auto& word : reply.elements) {
    if (word.type != RedisReply::Type::string) {
      return false;
    }
  }
  return true;
}

RedisCommand
words_of(const RedisReply& reply)
{
  RedisCommand command;
  command.reserve(reply.elements.size());
  for (const auto& word : reply.elements) {
    command.push_back(word.text);
  }
  return command;
}

} // namespace

void
save_outbox(const std::string& path, const Outbox& outbox)
{
  std::string bytes = format_command({std::string(k_magic), std::string(k_version), outbox.prefix, outbox.origin});
  for (const auto& item : outbox.items) {
    const int flags = (item.invalidation ? k_invalidation : 0) | (item.own_removal ? k_own_removal : 0);
    bytes += fmt::format("*{}\r\n:{}\r\n", item.commands.size() + 1, flags);
    for (const auto& command : item.commands) {
      bytes += format_command(command);
    }
  }
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      const int error = errno;
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw protocol::Error(protocol::ErrorCode::io, fmt::format("cannot write {}: {}", temporary, std::strerror(error)));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    throw protocol::Error(protocol::ErrorCode::io, fmt::format("cannot write {}: {}", path, ec.message()));
  }
}

std::optional<Outbox>
load_outbox(const std::string& path)
{
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw OutboxError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<RedisReply> values;
  try {
    values = parse_replies(text.str());
  } catch (const protocol::Error& e) {
    throw OutboxError(fmt::format("{} is not an outbox file: {}", path, e.what()));
  }
  if (values.empty() || !is_word_list(values.front()) || values.front().elements.size() < 2
      || values.front().elements[0].text != k_magic) {
    throw OutboxError(fmt::format("{} is not an outbox file: it does not start with the {} header", path, k_magic));
  }
  const auto& header = values.front().elements;
  if (header[1].text != k_version) {
    throw OutboxError(fmt::format("{} is an outbox file of version {}; this daemon reads version {}", path,
                                  header[1].text, k_version));
  }
  if (header.size() != 4) {
    throw OutboxError(fmt::format("{}: its header has {} words, not 4", path, header.size()));
  }
  Outbox outbox{header[2].text, header[3].text, {}};
  auto& items = outbox.items;
  items.reserve(values.size() - 1);
  for (std::size_t i = 1; i < values.size(); ++i) {
    const auto& value = values[i];
    if (value.type != RedisReply::Type::array || value.elements.size() < 2
        || value.elements.front().type != RedisReply::Type::integer) {
      throw OutboxError(fmt::format("{}: item {} is not flags followed by commands", path, i));
    }
    OutboxItem item;
    const auto flags = value.elements.front().integer;
    item.invalidation = (flags & k_invalidation) != 0;
    item.own_removal = (flags & k_own_removal) != 0;
    for (std::size_t c = 1; c < value.elements.size(); ++c) {
      if (!is_word_list(value.elements[c])) {
        throw OutboxError(fmt::format("{}: command {} of item {} is not a list of words", path, c, i));
      }
      item.commands.push_back(words_of(value.elements[c]));
    }
    items.push_back(std::move(item));
  }
  return outbox;
}

} // namespace omnicache::daemon::tier
