#pragma once

#include "protocol/ops/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Operations on many entries at once: listing them (keys, export) and
// removing them (del, invalidate, flush). PROTOCOL.md 5.6, 5.9-5.11, 5.19.
namespace omnicache::protocol::ops {

// export selects and pages as keys does.
struct ExportRequest
{
  std::optional<std::string> tenant;
  std::optional<std::string> pattern;
  std::optional<std::string> layer;
  std::vector<std::string> tags;
  std::optional<std::string> after;
  std::optional<std::int64_t> limit;
};

struct KeysRequest : ExportRequest
{
  bool details = false;
};
struct KeysReply
{
  std::vector<std::string> keys;
  std::optional<Json> entries; // with `details`
  std::optional<std::string> next;
};

struct ExportReply
{
  Json entries = Json::array(); // each as mset takes it back, with `size`
  std::optional<std::string> next;
  std::string value; // the entries' values, concatenated
};

struct DelRequest
{
  std::optional<std::string> tenant;
  std::vector<std::string> keys;
};
// del, invalidate and flush.
struct RemovedReply
{
  std::uint64_t removed = 0;
};

struct InvalidateRequest
{
  std::optional<std::string> tenant;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> pattern;
  std::optional<std::string> layer;
  Json deps; // dependency names; not with the selectors above
  std::optional<std::string> version;
};

struct FlushRequest
{
  std::optional<std::string> tenant;
  bool all_tenants = false;
};

template <>
struct Fields<ExportRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &ExportRequest::tenant), field("pattern", &ExportRequest::pattern),
               field("layer", &ExportRequest::layer),   field("tags", &ExportRequest::tags),
               field("after", &ExportRequest::after),   field("limit", &ExportRequest::limit)};
};
template <>
struct Fields<KeysRequest>
{
  static constexpr auto fields =
    std::tuple_cat(Fields<ExportRequest>::fields, std::tuple{field("details", &KeysRequest::details)});
};
template <>
struct Fields<KeysReply>
{
  static constexpr auto fields = std::tuple{field("keys", &KeysReply::keys), field("entries", &KeysReply::entries),
                                            field("next", &KeysReply::next)};
};
template <>
struct Fields<ExportReply>
{
  static constexpr auto fields = std::tuple{field("entries", &ExportReply::entries), field("next", &ExportReply::next)};
};
template <>
struct Fields<DelRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &DelRequest::tenant), field("keys", &DelRequest::keys)};
};
template <>
struct Fields<RemovedReply>
{
  static constexpr auto fields = std::tuple{field("removed", &RemovedReply::removed)};
};
template <>
struct Fields<InvalidateRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &InvalidateRequest::tenant), field("tags", &InvalidateRequest::tags),
               field("pattern", &InvalidateRequest::pattern), field("layer", &InvalidateRequest::layer),
               field("deps", &InvalidateRequest::deps),       field("version", &InvalidateRequest::version)};
};
template <>
struct Fields<FlushRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &FlushRequest::tenant), field("all_tenants", &FlushRequest::all_tenants)};
};

} // namespace omnicache::protocol::ops
