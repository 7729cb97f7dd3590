#include "daemon/handlers/handler.hpp"

#include <fmt/core.h>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;

namespace {

constexpr std::int64_t k_default_page = 1000;
constexpr std::int64_t k_max_page = 10000;

} // namespace

protocol::Reply
handle_keys(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  store::Selector selector;
  selector.pattern = pattern_of(request.header);
  selector.layer = layer_of(request.header, false);
  selector.tags = tags_of(request.header, context.settings);
  const std::string after = protocol::optional_string(request.header, "after").value_or("");
  const std::int64_t limit = protocol::optional_int(request.header, "limit").value_or(k_default_page);
  if (limit < 1 || limit > k_max_page) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'limit' must be from 1 to {}, got {}", k_max_page, limit));
  }
  auto page = context.reader.keys(tenant, selector, after, static_cast<std::size_t>(limit), store::now_ms());
  auto reply = ok_reply(request, {{"keys", std::move(page.keys)}});
  if (page.next_after) {
    reply.header["next"] = *page.next_after;
  }
  return reply;
}

} // namespace omnicache::daemon
