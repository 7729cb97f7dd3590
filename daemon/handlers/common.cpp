#include "daemon/handlers/handler.hpp"

#include "protocol/layers.hpp"

#include <fmt/core.h>

#include <memory>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::size_t k_max_tenant_bytes = 256;

void
check_length(std::string_view what, std::string_view text, std::uint64_t limit, const char* setting)
{
  if (text.size() > limit) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} of {} bytes is over the limit of {} bytes ({})", what, text.size(), limit, setting));
  }
}

} // namespace

std::string
tenant_of(const protocol::Request& request)
{
  auto tenant = protocol::optional_string(request.header, "tenant");
  if (!tenant) {
    // Not the daemon's own client.tenant: that setting belongs to clients.
    return std::string(protocol::k_default_tenant);
  }
  if (tenant->empty()) {
    throw Error(ErrorCode::bad_request, "field 'tenant' must not be empty");
  }
  if (tenant->size() > k_max_tenant_bytes) {
    throw Error(ErrorCode::too_large, fmt::format("tenant of {} bytes is over the limit of {} bytes", tenant->size(),
                                                  k_max_tenant_bytes));
  }
  return *tenant;
}

std::string
key_of(const protocol::Request& request, const protocol::Settings& settings, const char* field)
{
  const std::string& key = protocol::required_string(request.header, field);
  if (key.empty()) {
    throw Error(ErrorCode::bad_request, fmt::format("field '{}' must not be empty", field));
  }
  check_length("key", key, settings.max_key_bytes, "limits.max_key_bytes");
  return key;
}

std::vector<std::string>
keys_of(const protocol::Request& request, const protocol::Settings& settings)
{
  auto keys = protocol::optional_strings(request.header, "keys");
  if (keys.empty()) {
    throw Error(ErrorCode::bad_request, "field 'keys' must name at least one key");
  }
  for (const auto& key : keys) {
    if (key.empty()) {
      throw Error(ErrorCode::bad_request, "field 'keys' must not hold an empty key");
    }
    check_length("key", key, settings.max_key_bytes, "limits.max_key_bytes");
  }
  return keys;
}

std::vector<std::string>
tags_of(const protocol::Request& request, const protocol::Settings& settings)
{
  auto tags = protocol::optional_strings(request.header, "tags");
  if (tags.size() > settings.max_tags) {
    throw Error(ErrorCode::too_large, fmt::format("{} tags is over the limit of {} (limits.max_tags)", tags.size(),
                                                  settings.max_tags));
  }
  for (const auto& tag : tags) {
    if (tag.empty()) {
      throw Error(ErrorCode::bad_request, "a tag must not be empty");
    }
    check_length("tag", tag, settings.max_tag_bytes, "limits.max_tag_bytes");
  }
  return tags;
}

std::string
layer_of(const protocol::Request& request, bool required_default)
{
  auto layer = protocol::optional_string(request.header, "layer");
  if (!layer) {
    return required_default ? std::string(protocol::k_default_layer) : std::string();
  }
  if (!protocol::is_layer(*layer)) {
    std::string names;
    for (auto name : protocol::k_layer_names) {
      names += names.empty() ? "" : ", ";
      names += name;
    }
    throw Error(ErrorCode::bad_request, fmt::format("unknown layer '{}' (layers: {})", *layer, names));
  }
  return *layer;
}

std::string
pattern_of(const protocol::Request& request)
{
  return protocol::optional_string(request.header, "pattern").value_or(std::string());
}

protocol::Reply
ok_reply(const protocol::Request& request, Json fields)
{
  protocol::Reply reply;
  reply.id = request.id;
  reply.header = std::move(fields);
  return reply;
}

void
submit_write(Context& context, const protocol::Request& request, std::function<Json(store::Writer&)> apply,
             Completion done)
{
  auto result = std::make_shared<Json>();
  const std::uint64_t id = request.id;
  context.shared.store.submit(store::WriteJob{
    [result, apply = std::move(apply)](store::Writer& writer) { *result = apply(writer); },
    [result, id, done = std::move(done)](std::exception_ptr error) {
      if (!error) {
        protocol::Reply reply;
        reply.id = id;
        reply.header = std::move(*result);
        done(std::move(reply));
        return;
      }
      try {
        std::rethrow_exception(error);
      } catch (const Error& e) {
        done(protocol::make_error(id, e.code(), e.what()));
      } catch (const std::exception& e) {
        done(protocol::make_error(id, ErrorCode::internal, e.what()));
      }
    },
  });
}

} // namespace omnicache::daemon
