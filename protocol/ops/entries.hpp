#pragma once

#include "protocol/ops/codec.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The requests and replies of the operations on single entries (PROTOCOL.md
// 5.2-5.5, 5.8, 5.22-5.24). Each struct lists its wire fields once, in
// Fields<> beside it; handlers and clients read and write the members.
namespace omnicache::protocol::ops {

// A request's value bytes. `bytes` points into the frame it came in, or into
// `owner` when the frame was large enough to be handed over instead of copied.
struct Payload
{
  std::string_view bytes;
  std::shared_ptr<const std::string> owner;
};

// "integer or null": absent, null (never), or a time.
using OptionalTime = OrNull<std::int64_t>;

struct PingRequest
{
};
struct PingReply
{
  std::int64_t time_ms = 0;
};

struct GetRequest
{
  std::optional<std::string> tenant;
  std::string key;
  std::optional<std::string> layer;
};
// A hit as get, mget, get_or_lease and semantic_get describe it.
struct GetReply
{
  bool found = false;
  std::optional<std::string> layer;
  OptionalTime expires_ms;
  std::optional<Json> meta;
  std::optional<std::string> tier; // "L1" or "L2", with a shared tier
  std::string value;
};

struct ExistsRequest
{
  std::optional<std::string> tenant;
  std::string key;
};
struct ExistsReply
{
  bool found = false;
};

using InspectRequest = ExistsRequest;
struct InspectReply
{
  bool found = false;
  std::optional<Json> entry; // PROTOCOL.md 5.5 lists its members
};

// Fields common to set, each entry of mset, and semantic_set.
struct SetRequest
{
  std::optional<std::string> tenant;
  std::string key;
  std::optional<std::string> layer;
  std::vector<std::string> tags;
  Json deps;                        // names, or {"name", "version"} objects
  std::optional<std::int64_t> ttl_ms; // the layer's default when absent
  Json meta;                        // an object, or null
  bool only_missing = false;
  bool only_present = false;
  Payload value;
};
struct SetReply
{
  bool stored = false;
  bool replaced = false;
  OptionalTime ttl_ms;
};

struct MgetRequest
{
  std::optional<std::string> tenant;
  std::vector<std::string> keys;
  std::optional<std::string> layer;
};
struct MgetReply
{
  Json results = Json::array(); // one get reply (with `size`) per key
  std::string value;            // the values found, in order
};

struct ExpireRequest
{
  std::optional<std::string> tenant;
  std::string key;
  std::optional<std::int64_t> ttl_ms; // required; its own message names it
};
struct ExpireReply
{
  bool found = false;
  OptionalTime ttl_ms = std::optional<std::int64_t>{}; // null: never, or not found
};

struct TouchRequest
{
  std::optional<std::string> tenant;
  std::vector<std::string> keys;
};
struct TouchReply
{
  std::uint64_t touched = 0;
};

template <>
struct Fields<PingRequest>
{
  static constexpr auto fields = std::tuple{};
};
template <>
struct Fields<PingReply>
{
  static constexpr auto fields = std::tuple{field("time_ms", &PingReply::time_ms)};
};
template <>
struct Fields<GetRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &GetRequest::tenant), field("key", &GetRequest::key),
                                            field("layer", &GetRequest::layer)};
};
template <>
struct Fields<GetReply>
{
  static constexpr auto fields =
    std::tuple{field("found", &GetReply::found), field("layer", &GetReply::layer),
               field("expires_ms", &GetReply::expires_ms), field("meta", &GetReply::meta),
               field("tier", &GetReply::tier)};
};
template <>
struct Fields<ExistsRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &ExistsRequest::tenant), field("key", &ExistsRequest::key)};
};
template <>
struct Fields<ExistsReply>
{
  static constexpr auto fields = std::tuple{field("found", &ExistsReply::found)};
};
template <>
struct Fields<InspectReply>
{
  static constexpr auto fields = std::tuple{field("found", &InspectReply::found), field("entry", &InspectReply::entry)};
};
template <>
struct Fields<SetRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &SetRequest::tenant),       field("key", &SetRequest::key),
               field("layer", &SetRequest::layer),         field("tags", &SetRequest::tags),
               field("deps", &SetRequest::deps),           field("ttl_ms", &SetRequest::ttl_ms),
               field("meta", &SetRequest::meta),           field("only_missing", &SetRequest::only_missing),
               field("only_present", &SetRequest::only_present)};
};
template <>
struct Fields<SetReply>
{
  static constexpr auto fields = std::tuple{field("stored", &SetReply::stored), field("replaced", &SetReply::replaced),
                                            field("ttl_ms", &SetReply::ttl_ms)};
};
template <>
struct Fields<MgetRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &MgetRequest::tenant), field("keys", &MgetRequest::keys),
                                            field("layer", &MgetRequest::layer)};
};
template <>
struct Fields<MgetReply>
{
  static constexpr auto fields = std::tuple{field("results", &MgetReply::results)};
};
template <>
struct Fields<ExpireRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &ExpireRequest::tenant), field("key", &ExpireRequest::key),
                                            field("ttl_ms", &ExpireRequest::ttl_ms)};
};
template <>
struct Fields<ExpireReply>
{
  static constexpr auto fields = std::tuple{field("found", &ExpireReply::found), field("ttl_ms", &ExpireReply::ttl_ms)};
};
template <>
struct Fields<TouchRequest>
{
  static constexpr auto fields = std::tuple{field("tenant", &TouchRequest::tenant), field("keys", &TouchRequest::keys)};
};
template <>
struct Fields<TouchReply>
{
  static constexpr auto fields = std::tuple{field("touched", &TouchReply::touched)};
};

} // namespace omnicache::protocol::ops
