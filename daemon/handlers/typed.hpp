#pragma once

#include "daemon/handlers/handler.hpp"
#include "protocol/ops/ops.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

// Between the wire and a typed handler: the dispatch reads the request's
// header into the operation's request struct once, and writes the reply
// struct the handler returns into a reply frame.
namespace omnicache::daemon {

template <class Struct>
Struct
request_of(const protocol::Request& request)
{
  auto out = protocol::ops::decode<Struct>(request.header);
  if constexpr (requires { out.value.owner; }) {
    out.value = protocol::ops::Payload{request.value, request.value_owner};
  }
  return out;
}

template <class Struct>
protocol::Reply
reply_of(std::uint64_t id, Struct in)
{
  protocol::Reply out;
  out.id = id;
  out.header = protocol::ops::to_reply_header(in);
  if constexpr (requires { in.value.size(); }) {
    out.value = std::move(in.value);
  }
  return out;
}

template <class Op>
using TypedHandler = typename Op::Reply (*)(Context&, const typename Op::Request&);

template <class Op, TypedHandler<Op> handler>
protocol::Reply
run_typed(Context& context, const protocol::Request& request)
{
  return reply_of(request.id, handler(context, request_of<typename Op::Request>(request)));
}

// How a typed handler that answers later replies: with its reply struct, or
// with an error (an exception the work threw, or a code and a message).
template <class Reply>
class Done
{
public:
  Done(std::uint64_t id, Completion done)
    : m_id(id),
      m_done(std::move(done))
  {
  }
  void operator()(Reply reply) const { m_done(reply_of(m_id, std::move(reply))); }
  void fail(protocol::ErrorCode code, std::string message) const
  {
    m_done(protocol::make_error(m_id, code, std::move(message)));
  }
  void fail(std::exception_ptr error) const;
  std::uint64_t id() const { return m_id; }

private:
  std::uint64_t m_id;
  Completion m_done;
};

template <class Reply>
void
Done<Reply>::fail(std::exception_ptr error) const
{
  try {
    std::rethrow_exception(error);
  } catch (const protocol::Error& e) {
    fail(e.code(), e.what());
  } catch (const std::exception& e) {
    fail(protocol::ErrorCode::internal, e.what());
  }
}

template <class Op>
using TypedAsyncHandler = void (*)(Context&, const typename Op::Request&, Done<typename Op::Reply>);

template <class Op, TypedAsyncHandler<Op> handler>
void
run_typed_async(Context& context, const protocol::Request& request, Completion done)
{
  handler(context, request_of<typename Op::Request>(request), Done<typename Op::Reply>(request.id, std::move(done)));
}

// Queues `apply` to the writer; `finished` runs once the transaction holding
// it has committed, or with the error that stopped it. What follows the
// commit is not the handler's: the store tells its observers
// (daemon/commit_effects.hpp) what the job changed, as from this connection,
// and that the keys in `settles` (those it means to set) are settled.
void submit_job(Context& context, std::function<void(store::Writer&)> apply,
                std::function<void(std::exception_ptr)> finished, store::TenantKeys settles);

// submit_job for a typed handler: what `apply` returns is the reply once
// committed; an exception becomes an error reply.
template <class Reply, class Apply>
void
submit_typed_write(Context& context, Apply apply, Done<Reply> done, store::TenantKeys settles = {})
{
  auto result = std::make_shared<Reply>();
  submit_job(
    context, [result, apply = std::move(apply)](store::Writer& writer) mutable { *result = apply(writer); },
    [result, done = std::move(done)](std::exception_ptr error) {
      if (error) {
        done.fail(error);
      } else {
        done(std::move(*result));
      }
    },
    std::move(settles));
}

// Field checks on typed requests. Each throws Error(bad_request) or
// Error(too_large) naming the field and the limit, as the Json ones do.
std::string tenant_of(const std::optional<std::string>& tenant);
const std::string& checked_key(const std::string& key, const protocol::Settings& settings, const char* field = "key");
const std::vector<std::string>& checked_keys(const std::vector<std::string>& keys, const protocol::Settings& settings);
const std::vector<std::string>& checked_tags(const std::vector<std::string>& tags, const protocol::Settings& settings);
std::string checked_layer(const std::optional<std::string>& layer, bool required_default);
store::Selector listing_selector_of(const std::optional<std::string>& pattern, const std::optional<std::string>& layer,
                                    const std::vector<std::string>& tags, const protocol::Settings& settings);
std::size_t page_limit_of(std::optional<std::int64_t> limit, std::int64_t by_default, std::int64_t most);
// `deps`: an array of names, or of {"name": ..., "version": ...} objects.
std::vector<store::Dependency> checked_deps(const protocol::Json& deps, const protocol::Settings& settings);
// The meta object as stored: its text, or empty for none.
std::string checked_meta(const protocol::Json& meta);
// The TTL given, or the layer's default.
std::int64_t checked_ttl(std::optional<std::int64_t> ttl, const protocol::Settings& settings, const std::string& layer);
// The entry a set describes (and an mset's entry, and a semantic_set's), without its value.
store::EntryWrite entry_of(const protocol::ops::SetRequest& request, const protocol::Settings& settings,
                           const std::string& tenant);
// only_missing and only_present, checked by the writer as it writes.
store::SetCondition set_condition_of(bool only_missing, bool only_present);

// A hit as get describes it (and mget, get_or_lease and semantic_get after
// it); counts what it saved per model and, with a shared tier, which tier
// answered.
protocol::ops::GetReply hit_of(Context& context, const std::string& tenant, store::Hit hit,
                               bool from_shared_tier = false);

// The typed handlers (the others still read the request's JSON header).
protocol::ops::HelloReply handle_hello(Context&, const protocol::ops::HelloRequest&);
protocol::ops::PingReply handle_ping(Context&, const protocol::ops::PingRequest&);
protocol::ops::ShutdownReply handle_shutdown(Context&, const protocol::ops::ShutdownRequest&);
protocol::ops::ConfigReply handle_config(Context&, const protocol::ops::ConfigRequest&);
protocol::ops::KeysReply handle_keys(Context&, const protocol::ops::KeysRequest&);
protocol::ops::ExportReply handle_export(Context&, const protocol::ops::ExportRequest&);
void handle_reload(Context&, const protocol::ops::ReloadRequest&, Done<protocol::ops::ReloadReply>);
void handle_set(Context&, const protocol::ops::SetRequest&, Done<protocol::ops::SetReply>);
void handle_mset(Context&, const protocol::ops::MsetRequest&, Done<protocol::ops::MsetReply>);
void handle_del(Context&, const protocol::ops::DelRequest&, Done<protocol::ops::RemovedReply>);
void handle_invalidate(Context&, const protocol::ops::InvalidateRequest&, Done<protocol::ops::RemovedReply>);
void handle_flush(Context&, const protocol::ops::FlushRequest&, Done<protocol::ops::RemovedReply>);
void handle_expire(Context&, const protocol::ops::ExpireRequest&, Done<protocol::ops::ExpireReply>);
void handle_touch(Context&, const protocol::ops::TouchRequest&, Done<protocol::ops::TouchReply>);
void handle_semantic_set(Context&, const protocol::ops::SemanticSetRequest&, Done<protocol::ops::SemanticSetReply>);
void handle_semantic_get(Context&, const protocol::ops::SemanticGetRequest&, Done<protocol::ops::SemanticGetReply>);
void handle_semantic_reject(Context&, const protocol::ops::SemanticRejectRequest&,
                            Done<protocol::ops::SemanticRejectReply>);
// get looks in the local store only; the op (get_tiered) goes on to the shared tier.
protocol::ops::GetReply handle_get(Context&, const protocol::ops::GetRequest&);
void handle_get_tiered(Context&, const protocol::ops::GetRequest&, Done<protocol::ops::GetReply>);
protocol::ops::ExistsReply handle_exists(Context&, const protocol::ops::ExistsRequest&);
protocol::ops::InspectReply handle_inspect(Context&, const protocol::ops::InspectRequest&);
protocol::ops::MgetReply handle_mget(Context&, const protocol::ops::MgetRequest&);
void handle_get_or_lease(Context&, const protocol::ops::GetOrLeaseRequest&, Done<protocol::ops::GetOrLeaseReply>);
protocol::ops::ReleaseReply handle_release(Context&, const protocol::ops::ReleaseRequest&);
protocol::ops::StatsReply handle_stats(Context&, const protocol::ops::StatsRequest&);
void handle_stats_reset(Context&, const protocol::ops::StatsResetRequest&, Done<protocol::ops::StatsResetReply>);

} // namespace omnicache::daemon
