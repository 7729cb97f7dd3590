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
  store::TenantKeys settles{tenant, {}};
  settles.keys.reserve(entries.size());
  for (const auto& entry : entries) {
    settles.keys.push_back(entry.key);
  }
  // The job keeps the entries: the commit's observers are told where they are.
  submit_write(
    context, request,
    [entries = std::move(entries), condition](store::Writer& writer) {
      const std::int64_t now = store::now_ms();
      std::uint64_t stored = 0;
      std::uint64_t skipped = 0;
      for (const auto& entry : entries) {
        if (writer.set_if(entry, condition, now)) {
          ++stored;
        } else {
          ++skipped;
        }
      }
      return Json{{"stored", stored}, {"skipped", skipped}};
    },
    std::move(done), std::move(settles));
}

} // namespace omnicache::daemon
