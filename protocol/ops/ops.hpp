#pragma once

#include "protocol/ops/entries.hpp"
#include "protocol/ops/listing.hpp"
#include "protocol/ops/semantic.hpp"
#include "protocol/ops/session.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// The operations of protocol version 1: one type per operation naming its
// request and reply structs, and one table (table.cpp) that the daemon's
// dispatch, hello's capabilities, the command's checks, the metrics' labels
// and the test that holds PROTOCOL.md to it all read.
namespace omnicache::protocol::ops {

enum class Kind {
  read,    // answered in order with the connection's other reads
  write,   // applied by the writer, in order with the connection's writes
  control, // answered after every earlier request of the connection
};

template <class RequestT, class ReplyT>
struct Op
{
  using Request = RequestT;
  using Reply = ReplyT;
};

// clang-format off
struct Hello : Op<HelloRequest, HelloReply>                 { static constexpr std::string_view name = "hello"; };
struct Ping : Op<PingRequest, PingReply>                    { static constexpr std::string_view name = "ping"; };
struct Get : Op<GetRequest, GetReply>                       { static constexpr std::string_view name = "get"; };
struct Exists : Op<ExistsRequest, ExistsReply>              { static constexpr std::string_view name = "exists"; };
struct Inspect : Op<InspectRequest, InspectReply>           { static constexpr std::string_view name = "inspect"; };
struct Keys : Op<KeysRequest, KeysReply>                    { static constexpr std::string_view name = "keys"; };
struct Export : Op<ExportRequest, ExportReply>              { static constexpr std::string_view name = "export"; };
struct Stats : Op<StatsRequest, StatsReply>                 { static constexpr std::string_view name = "stats"; };
struct Set : Op<SetRequest, SetReply>                       { static constexpr std::string_view name = "set"; };
struct Del : Op<DelRequest, RemovedReply>                   { static constexpr std::string_view name = "del"; };
struct Invalidate : Op<InvalidateRequest, RemovedReply>     { static constexpr std::string_view name = "invalidate"; };
struct Flush : Op<FlushRequest, RemovedReply>               { static constexpr std::string_view name = "flush"; };
struct Shutdown : Op<ShutdownRequest, ShutdownReply>        { static constexpr std::string_view name = "shutdown"; };
struct GetOrLease : Op<GetOrLeaseRequest, GetOrLeaseReply>  { static constexpr std::string_view name = "get_or_lease"; };
struct Release : Op<ReleaseRequest, ReleaseReply>           { static constexpr std::string_view name = "release"; };
struct Mset : Op<MsetRequest, MsetReply>                    { static constexpr std::string_view name = "mset"; };
struct SemanticSet : Op<SemanticSetRequest, SemanticSetReply>       { static constexpr std::string_view name = "semantic_set"; };
struct SemanticGet : Op<SemanticGetRequest, SemanticGetReply>       { static constexpr std::string_view name = "semantic_get"; };
struct SemanticReject : Op<SemanticRejectRequest, SemanticRejectReply> { static constexpr std::string_view name = "semantic_reject"; };
struct Reload : Op<ReloadRequest, ReloadReply>              { static constexpr std::string_view name = "reload"; };
struct Config : Op<ConfigRequest, ConfigReply>              { static constexpr std::string_view name = "config"; };
struct Mget : Op<MgetRequest, MgetReply>                    { static constexpr std::string_view name = "mget"; };
struct Expire : Op<ExpireRequest, ExpireReply>              { static constexpr std::string_view name = "expire"; };
struct Touch : Op<TouchRequest, TouchReply>                 { static constexpr std::string_view name = "touch"; };
struct StatsReset : Op<StatsResetRequest, StatsResetReply>  { static constexpr std::string_view name = "stats_reset"; };
// clang-format on

struct OpInfo
{
  std::string_view name;
  Kind kind;
  // The capability (PROTOCOL.md 8.2) a server announces when it has this
  // operation; empty for hello, which every server has.
  std::string_view capability;
  std::string_view summary;
  std::vector<std::string_view> (*request_fields)();
  std::vector<std::string_view> (*reply_fields)();
};

// In PROTOCOL.md's order (section 5).
std::span<const OpInfo> op_table();
const OpInfo* find_op(std::string_view name);
std::size_t op_index(const OpInfo& op);
std::string_view kind_name(Kind kind);

// Every capability a server of this release announces: the operations' and
// the features' that are not one operation (tags, ttl, pipelining ...).
std::span<const std::string_view> capabilities();
bool has_capability(std::string_view name);

// A request's header: its fields, without the envelope (id, op).
template <class Request>
Json
to_header(const Request& request)
{
  return encode(request, Omit::defaults);
}

template <class Reply>
Json
to_reply_header(const Reply& reply)
{
  return encode(reply, Omit::empty_optionals);
}

} // namespace omnicache::protocol::ops
