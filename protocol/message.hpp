#pragma once

#include "protocol/error.hpp"
#include "protocol/frame.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Request and reply headers (PROTOCOL.md, "Request and reply headers").
namespace omnicache::protocol {

using Json = nlohmann::json;

inline constexpr int k_protocol_version = 1;

// The largest ttl_ms a request may carry: 2^53 - 1, exact in every JSON
// implementation, and far from overflowing when added to the clock.
inline constexpr std::int64_t k_max_ttl_ms = (std::int64_t{1} << 53) - 1;

struct Request
{
  std::uint64_t id = 0;
  std::string op;
  Json header;
  std::string_view value; // points into the frame; valid only while it is dispatched
  // When set, `value` points into this buffer, which a handler may keep
  // (large values are handed over rather than copied).
  std::shared_ptr<const std::string> value_owner;
};

// Parses a request body. Throws Error(bad_request) naming what is wrong; the
// id is filled in as soon as it is known so that the error can carry it.
Request parse_request(BodyView body, std::uint64_t& id_seen);

// Typed access to header fields; each throws Error(bad_request) naming the
// field and what was expected.
const std::string& required_string(const Json& header, const char* field);
std::optional<std::string> optional_string(const Json& header, const char* field);
std::optional<std::int64_t> optional_int(const Json& header, const char* field);
std::int64_t required_int(const Json& header, const char* field);
double required_number(const Json& header, const char* field);
bool optional_bool(const Json& header, const char* field, bool fallback);
std::vector<std::string> optional_strings(const Json& header, const char* field);

struct Reply
{
  std::uint64_t id = 0;
  bool ok = true;
  Json header = Json::object(); // fields beyond id and ok
  std::string value;
  ErrorCode error_code = ErrorCode::internal;
  std::string error_message;
};

Reply make_error(std::uint64_t id, ErrorCode code, std::string message);

// Appends the reply as one frame.
void append_reply(std::string& out, const Reply& reply);
// Appends all of the frame but the value, which the caller sends right after
// (a large value need not be copied). Returns false when it appended an error
// reply instead (the reply does not fit in a frame); then nothing follows.
bool append_reply_head(std::string& out, const Reply& reply);

// Client side: builds a request frame (throws Error(bad_request) when a
// string in `fields` is not valid UTF-8), and parses a reply body.
void append_request(std::string& out, std::uint64_t id, std::string_view op, Json fields, std::string_view value);
// A request's header as text, the envelope (id, op) added; Error(bad_request)
// when a string in `fields` is not valid UTF-8.
std::string request_header(std::uint64_t id, std::string_view op, Json fields);
Reply parse_reply(BodyView body);

} // namespace omnicache::protocol
