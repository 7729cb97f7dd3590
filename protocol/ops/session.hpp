#pragma once

#include "protocol/ops/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Operations on the session and the daemon rather than on entries: hello,
// stats, stats_reset, shutdown, reload, config, and the leases of
// get_or_lease and release. PROTOCOL.md 5.1, 5.7, 5.12-5.14, 5.20, 5.21, 5.25.
namespace omnicache::protocol::ops {

struct HelloRequest
{
  std::optional<std::int64_t> version; // required; its own message names it
  std::vector<std::string> require;
  std::optional<std::string> client;
};
struct HelloReply
{
  std::int64_t version = 0;
  std::string server;
  std::string server_version;
  std::int64_t pid = 0;
  std::vector<std::string> capabilities;
  Json limits = Json::object();
  std::optional<std::string> proxy;
};

struct StatsRequest
{
  std::optional<std::string> tenant;
  bool all_tenants = false;
};
// PROTOCOL.md 5.7 lists the members of each object.
struct StatsReply
{
  OrNull<std::string> tenant = std::optional<std::string>{}; // null with all_tenants
  Json server = Json::object();
  Json totals = Json::object();
  Json layers = Json::object();
  std::optional<Json> tenants;
  Json operations = Json::object();
  Json models = Json::object();
  Json tier = Json::object();
};

using StatsResetRequest = StatsRequest;
struct StatsResetReply
{
  OrNull<std::string> tenant = std::optional<std::string>{}; // null with all_tenants
};

struct ShutdownRequest
{
};
struct ShutdownReply
{
  bool stopping = true;
};

using ReloadRequest = ShutdownRequest;
struct ReloadReply
{
  bool reloaded = false;
  std::optional<std::string> reason;
  std::string file;
  Json changes = Json::array(); // {"key", "before", "after", "live"}
};

using ConfigRequest = ShutdownRequest;
struct ConfigReply
{
  std::string file;
  bool file_exists = false;
  std::vector<std::string> environment;
  Json settings = Json::object(); // by key: {"value", "origin", "where", "live"}
};

struct GetOrLeaseRequest
{
  std::optional<std::string> tenant;
  std::string key;
  std::optional<std::string> layer;
  std::optional<std::int64_t> lease_ms;
  std::optional<std::int64_t> wait_ms;
};
struct GetOrLeaseReply
{
  bool found = false;
  bool waited = false;
  std::optional<std::string> layer;
  OrNull<std::int64_t> expires_ms;
  std::optional<Json> meta;
  std::optional<std::string> tier;
  std::optional<bool> lease;
  std::optional<std::int64_t> lease_ms;
  std::optional<bool> timed_out;
  std::string value;
};

struct ReleaseRequest
{
  std::optional<std::string> tenant;
  std::string key;
};
struct ReleaseReply
{
  bool released = false;
};

template <>
struct Fields<HelloRequest>
{
  static constexpr auto fields = std::tuple{field("version", &HelloRequest::version),
                                            field("require", &HelloRequest::require),
                                            field("client", &HelloRequest::client)};
};
template <>
struct Fields<HelloReply>
{
  static constexpr auto fields =
    std::tuple{field("version", &HelloReply::version),           field("server", &HelloReply::server),
               field("server_version", &HelloReply::server_version), field("pid", &HelloReply::pid),
               field("capabilities", &HelloReply::capabilities), field("limits", &HelloReply::limits),
               field("proxy", &HelloReply::proxy)};
};
template <>
struct Fields<StatsRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &StatsRequest::tenant), field("all_tenants", &StatsRequest::all_tenants)};
};
template <>
struct Fields<StatsReply>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &StatsReply::tenant),         field("server", &StatsReply::server),
               field("totals", &StatsReply::totals),         field("layers", &StatsReply::layers),
               field("tenants", &StatsReply::tenants),       field("operations", &StatsReply::operations),
               field("models", &StatsReply::models),         field("tier", &StatsReply::tier)};
};
template <>
struct Fields<StatsResetReply>
{
  static constexpr auto fields = std::tuple{field("tenant", &StatsResetReply::tenant)};
};
template <>
struct Fields<ShutdownRequest>
{
  static constexpr auto fields = std::tuple{};
};
template <>
struct Fields<ShutdownReply>
{
  static constexpr auto fields = std::tuple{field("stopping", &ShutdownReply::stopping)};
};
template <>
struct Fields<ReloadReply>
{
  static constexpr auto fields =
    std::tuple{field("reloaded", &ReloadReply::reloaded), field("reason", &ReloadReply::reason),
               field("file", &ReloadReply::file), field("changes", &ReloadReply::changes)};
};
template <>
struct Fields<ConfigReply>
{
  static constexpr auto fields =
    std::tuple{field("file", &ConfigReply::file), field("file_exists", &ConfigReply::file_exists),
               field("environment", &ConfigReply::environment), field("settings", &ConfigReply::settings)};
};
template <>
struct Fields<GetOrLeaseRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &GetOrLeaseRequest::tenant), field("key", &GetOrLeaseRequest::key),
               field("layer", &GetOrLeaseRequest::layer), field("lease_ms", &GetOrLeaseRequest::lease_ms),
               field("wait_ms", &GetOrLeaseRequest::wait_ms)};
};
template <>
struct Fields<GetOrLeaseReply>
{
  static constexpr auto fields =
    std::tuple{field("found", &GetOrLeaseReply::found),       field("waited", &GetOrLeaseReply::waited),
               field("layer", &GetOrLeaseReply::layer),       field("expires_ms", &GetOrLeaseReply::expires_ms),
               field("meta", &GetOrLeaseReply::meta),         field("tier", &GetOrLeaseReply::tier),
               field("lease", &GetOrLeaseReply::lease),       field("lease_ms", &GetOrLeaseReply::lease_ms),
               field("timed_out", &GetOrLeaseReply::timed_out)};
};
template <>
struct Fields<ReleaseRequest>
{
  static constexpr auto fields =
    std::tuple{field("tenant", &ReleaseRequest::tenant), field("key", &ReleaseRequest::key)};
};
template <>
struct Fields<ReleaseReply>
{
  static constexpr auto fields = std::tuple{field("released", &ReleaseReply::released)};
};

} // namespace omnicache::protocol::ops
