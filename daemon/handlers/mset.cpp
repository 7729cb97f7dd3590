// mset: many entries in one request and one transaction, for imports.
#include "daemon/handlers/typed.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::size_t k_max_mset_entries = 100000;

// Each entry is a set's fields and `size`; its value is the next `size`
// bytes of the request's value. An entry's error names its index.
std::vector<store::EntryWrite>
entries_of(const protocol::ops::MsetRequest& request, const protocol::Settings& settings, const std::string& tenant)
{
  const Json& list = request.entries;
  if (!list.is_array() || list.empty()) {
    throw Error(ErrorCode::bad_request, "field 'entries' must be a non-empty array");
  }
  if (list.size() > k_max_mset_entries) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} entries in one mset is over the limit of {}", list.size(), k_max_mset_entries));
  }
  const std::string_view values = request.value.bytes;
  std::vector<store::EntryWrite> entries;
  entries.reserve(list.size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& fields = list[i];
    if (!fields.is_object()) {
      throw Error(ErrorCode::bad_request, fmt::format("entries[{}] must be an object", i));
    }
    try {
      auto entry = entry_of(protocol::ops::decode<protocol::ops::SetRequest>(fields), settings, tenant);
      const auto size = protocol::optional_int(fields, "size").value_or(-1);
      if (size < 0 || static_cast<std::size_t>(size) > values.size() - offset) {
        throw Error(ErrorCode::bad_request,
                    fmt::format("field 'size' must be the value's length, and the values must fit in the {} bytes sent",
                                values.size()));
      }
      entry.value.assign(values.substr(offset, static_cast<std::size_t>(size)));
      offset += static_cast<std::size_t>(size);
      entries.push_back(std::move(entry));
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("entries[{}]: {}", i, e.what()));
    }
  }
  if (offset != values.size()) {
    throw Error(ErrorCode::bad_request,
                fmt::format("the entries' sizes add up to {} bytes, but {} were sent", offset, values.size()));
  }
  return entries;
}

} // namespace

void
handle_mset(Context& context, const protocol::ops::MsetRequest& request, Done<protocol::ops::MsetReply> done)
{
  const std::string tenant = tenant_of(request.tenant);
  auto entries = entries_of(request, context.settings, tenant);
  const auto condition = set_condition_of(request.only_missing, request.only_present);
  store::TenantKeys settles{tenant, {}};
  settles.keys.reserve(entries.size());
  for (const auto& entry : entries) {
    settles.keys.push_back(entry.key);
  }
  // The job keeps the entries: the commit's observers are told where they are.
  submit_typed_write(
    context,
    [entries = std::move(entries), condition](store::Writer& writer) {
      const std::int64_t now = store::now_ms();
      protocol::ops::MsetReply reply;
      for (const auto& entry : entries) {
        if (writer.set_if(entry, condition, now)) {
          ++reply.stored;
        } else {
          ++reply.skipped;
        }
      }
      return reply;
    },
    std::move(done), std::move(settles));
}

} // namespace omnicache::daemon
