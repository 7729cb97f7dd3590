// mset: many entries in one request and one transaction, for imports.
#include "daemon/handlers/handler.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::size_t k_max_entries = 100000;

std::vector<store::EntryWrite>
entries_of(const protocol::Request& request, const protocol::Settings& settings, const std::string& tenant)
{
  const auto list = request.header.find("entries");
  if (list == request.header.end() || !list->is_array() || list->empty()) {
    throw Error(ErrorCode::bad_request, "field 'entries' must be a non-empty array");
  }
  if (list->size() > k_max_entries) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} entries in one mset is over the limit of {}", list->size(), k_max_entries));
  }
  std::vector<store::EntryWrite> entries;
  entries.reserve(list->size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& fields = (*list)[i];
    if (!fields.is_object()) {
      throw Error(ErrorCode::bad_request, fmt::format("entries[{}] must be an object", i));
    }
    try {
      auto entry = entry_of(fields, settings, tenant);
      const auto size = protocol::optional_int(fields, "size").value_or(-1);
      if (size < 0 || static_cast<std::size_t>(size) > request.value.size() - offset) {
        throw Error(ErrorCode::bad_request,
                    fmt::format("field 'size' must be the value's length, and the values must fit in the {} bytes sent",
                                request.value.size()));
      }
      entry.value.assign(request.value.substr(offset, static_cast<std::size_t>(size)));
      offset += static_cast<std::size_t>(size);
      entries.push_back(std::move(entry));
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("entries[{}]: {}", i, e.what()));
    }
  }
  if (offset != request.value.size()) {
    throw Error(ErrorCode::bad_request, fmt::format("the entries' sizes add up to {} bytes, but {} were sent", offset,
                                                    request.value.size()));
  }
  return entries;
}

} // namespace

void
handle_mset(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  auto entries = entries_of(request, context.settings, tenant);
  const bool only_missing = protocol::optional_bool(request.header, "only_missing", false);
  const bool only_present = protocol::optional_bool(request.header, "only_present", false);
  if (only_missing && only_present) {
    throw Error(ErrorCode::bad_request, "'only_missing' and 'only_present' cannot both be true");
  }
  const auto condition = only_missing   ? store::SetCondition::if_absent
                         : only_present ? store::SetCondition::if_present
                                        : store::SetCondition::always;
  std::vector<std::string> keys;
  // Waiters (get_or_lease) only need waking when someone waits at all.
  if (context.shared.leases.any()) {
    keys.reserve(entries.size());
    for (const auto& entry : entries) {
      keys.push_back(entry.key);
    }
  }
  // The entries written, for the shared tier (those skipped as present are
  // not), and whether each replaced one.
  auto written = std::make_shared<std::vector<std::pair<store::EntryWrite, bool>>>();
  auto written_ms = std::make_shared<std::int64_t>(0);
  submit_write(
    context, request,
    [entries = std::move(entries), condition, written, written_ms, mirrored = context.shared.tier != nullptr](
      store::Writer& writer) mutable {
      const std::int64_t now = store::now_ms();
      *written_ms = now;
      std::uint64_t stored = 0;
      std::uint64_t skipped = 0;
      for (auto& entry : entries) {
        const auto replaced = writer.set_if(entry, condition, now);
        if (!replaced) {
          ++skipped;
          continue;
        }
        ++stored;
        if (mirrored) {
          written->emplace_back(std::move(entry), *replaced);
        }
      }
      return Json{{"stored", stored}, {"skipped", skipped}};
    },
    [done = std::move(done), &shared = context.shared, tenant, keys = std::move(keys), written, written_ms,
     connection = context.connection->id](protocol::Reply reply) {
      if (reply.ok) {
        for (const auto& [entry, replaced] : *written) {
          mirror_entry(shared, entry, *written_ms, replaced);
        }
      }
      for (const auto& key : keys) {
        shared.leases.on_set(tenant, key, connection);
      }
      done(std::move(reply));
    });
}

} // namespace omnicache::daemon
