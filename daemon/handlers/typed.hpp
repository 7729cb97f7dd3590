#pragma once

#include "daemon/handlers/handler.hpp"
#include "protocol/ops/ops.hpp"

#include <exception>
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

// The typed handlers (the others still read the request's JSON header).
protocol::ops::HelloReply handle_hello(Context&, const protocol::ops::HelloRequest&);
protocol::ops::PingReply handle_ping(Context&, const protocol::ops::PingRequest&);
protocol::ops::ShutdownReply handle_shutdown(Context&, const protocol::ops::ShutdownRequest&);
protocol::ops::ConfigReply handle_config(Context&, const protocol::ops::ConfigRequest&);
protocol::ops::KeysReply handle_keys(Context&, const protocol::ops::KeysRequest&);
protocol::ops::ExportReply handle_export(Context&, const protocol::ops::ExportRequest&);
void handle_reload(Context&, const protocol::ops::ReloadRequest&, Done<protocol::ops::ReloadReply>);

} // namespace omnicache::daemon
