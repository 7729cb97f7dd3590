#include "protocol/message.hpp"

#include <fmt/core.h>

#include <cstdint>

namespace omnicache::protocol {

namespace {

[[noreturn]] void
bad_field(const char* field, const char* expected, const Json& got)
{
  throw Error(ErrorCode::bad_request,
              fmt::format("field '{}' must be {}, got {}", field, expected, got.type_name()));
}

} // namespace

Request
parse_request(BodyView body, std::uint64_t& id_seen)
{
  Request request;
  request.header = Json::parse(body.header, nullptr, /*allow_exceptions=*/false);
  if (request.header.is_discarded()) {
    throw Error(ErrorCode::bad_request, "header is not valid JSON");
  }
  if (!request.header.is_object()) {
    throw Error(ErrorCode::bad_request, fmt::format("header must be a JSON object, got {}", request.header.type_name()));
  }
  const auto id = request.header.find("id");
  if (id != request.header.end() && !id->is_null()) {
    if (!id->is_number_unsigned()) {
      bad_field("id", "a non-negative integer", *id);
    }
    request.id = id->get<std::uint64_t>();
    id_seen = request.id;
  }
  request.op = required_string(request.header, "op");
  request.value = body.value;
  return request;
}

const std::string&
required_string(const Json& header, const char* field)
{
  const auto it = header.find(field);
  if (it == header.end()) {
    throw Error(ErrorCode::bad_request, fmt::format("missing field '{}'", field));
  }
  if (!it->is_string()) {
    bad_field(field, "a string", *it);
  }
  return it->get_ref<const std::string&>();
}

std::optional<std::string>
optional_string(const Json& header, const char* field)
{
  const auto it = header.find(field);
  if (it == header.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_string()) {
    bad_field(field, "a string", *it);
  }
  return it->get<std::string>();
}

std::optional<std::int64_t>
optional_int(const Json& header, const char* field)
{
  const auto it = header.find(field);
  if (it == header.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number_integer()) {
    bad_field(field, "an integer", *it);
  }
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    throw Error(ErrorCode::bad_request,
                fmt::format("field '{}' must be at most {}, got {}", field, INT64_MAX, it->get<std::uint64_t>()));
  }
  return it->get<std::int64_t>();
}

std::int64_t
required_int(const Json& header, const char* field)
{
  const auto value = optional_int(header, field);
  if (!value) {
    throw Error(ErrorCode::bad_request, fmt::format("missing field '{}'", field));
  }
  return *value;
}

double
required_number(const Json& header, const char* field)
{
  const auto it = header.find(field);
  if (it == header.end()) {
    throw Error(ErrorCode::bad_request, fmt::format("missing field '{}'", field));
  }
  if (!it->is_number()) {
    bad_field(field, "a number", *it);
  }
  return it->get<double>();
}

bool
optional_bool(const Json& header, const char* field, bool fallback)
{
  const auto it = header.find(field);
  if (it == header.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_boolean()) {
    bad_field(field, "true or false", *it);
  }
  return it->get<bool>();
}

std::vector<std::string>
optional_strings(const Json& header, const char* field)
{
  std::vector<std::string> out;
  const auto it = header.find(field);
  if (it == header.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    bad_field(field, "an array of strings", *it);
  }
  out.reserve(it->size());
  for (const auto& item : *it) {
    if (!item.is_string()) {
      throw Error(ErrorCode::bad_request,
                  fmt::format("field '{}' must hold only strings, found {}", field, item.type_name()));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Reply
make_error(std::uint64_t id, ErrorCode code, std::string message)
{
  Reply reply;
  reply.id = id;
  reply.ok = false;
  reply.error_code = code;
  reply.error_message = std::move(message);
  return reply;
}

bool
append_reply_head(std::string& out, const Reply& reply)
{
  Json header = reply.header;
  header["id"] = reply.id;
  header["ok"] = reply.ok;
  if (!reply.ok) {
    header["error"] = {{"code", error_code_name(reply.error_code)}, {"message", reply.error_message}};
  }
  // Replacement of invalid UTF-8 keeps a reply encodable whatever a client sent.
  const std::string text = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (k_prefix_bytes + text.size() + reply.value.size() > k_max_body_bytes) {
    append_reply(out, make_error(reply.id, ErrorCode::too_large,
                                 fmt::format("a reply of {} bytes does not fit in one frame", text.size() + reply.value.size())));
    return false;
  }
  append_frame_head(out, text, reply.value.size());
  return true;
}

void
append_reply(std::string& out, const Reply& reply)
{
  if (append_reply_head(out, reply)) {
    out.append(reply.value);
  }
}

std::string
request_header(std::uint64_t id, std::string_view op, Json fields)
{
  fields["id"] = id;
  fields["op"] = op;
  try {
    // Strict: replacing invalid bytes would make two different keys one.
    return fields.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error&) {
    throw Error(ErrorCode::bad_request, "keys, tags and other names must be valid UTF-8 text");
  }
}

void
append_request(std::string& out, std::uint64_t id, std::string_view op, Json fields, std::string_view value)
{
  append_frame(out, request_header(id, op, std::move(fields)), value);
}

Reply
parse_reply(BodyView body)
{
  Reply reply;
  reply.header = Json::parse(body.header, nullptr, false);
  if (reply.header.is_discarded() || !reply.header.is_object()) {
    throw Error(ErrorCode::bad_frame, "reply header is not a JSON object");
  }
  // Json::value() throws its own type_error for a field of the wrong type;
  // callers expect Error for anything unreadable in a reply.
  try {
    reply.id = reply.header.value("id", std::uint64_t{0});
    reply.ok = reply.header.value("ok", false);
    if (!reply.ok) {
      const auto error = reply.header.find("error");
      if (error != reply.header.end() && error->is_object()) {
        const std::string code = error->value("code", std::string("INTERNAL"));
        if (!parse_error_code(code, reply.error_code)) {
          reply.error_code = ErrorCode::internal;
        }
        reply.error_message = error->value("message", std::string());
      }
    }
  } catch (const Json::type_error& e) {
    throw Error(ErrorCode::bad_frame, fmt::format("reply header has a field of the wrong type: {}", e.what()));
  }
  reply.value.assign(body.value);
  return reply;
}

} // namespace omnicache::protocol
