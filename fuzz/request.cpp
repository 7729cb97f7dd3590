// A request body as the daemon reads one: split into header and value, the
// header parsed, then the typed fields a handler asks for. A request that
// parses is written again with the client's encoder and must parse to the
// same request.
#include "fuzz/fuzz_check.hpp"
#include "protocol/error.hpp"
#include "protocol/frame.hpp"
#include "protocol/message.hpp"

#include <array>
#include <cstring>
#include <string>

using namespace omnicache::protocol;

namespace {

constexpr std::array<std::uint32_t, 6> k_header_limits{0, 2, 16, 256, 4096, 0xFFFFFFFFu};

// The header without the fields the encoder writes itself.
Json
without_id_and_op(Json header)
{
  header.erase("id");
  header.erase("op");
  return header;
}

void
check_split(std::string_view body, std::uint32_t limit, const BodyView& view)
{
  FUZZ_CHECK(body.size() >= k_prefix_bytes);
  const std::uint32_t header_length = read_u32be(body.data());
  FUZZ_CHECK(header_length <= limit);
  FUZZ_CHECK(view.header.data() == body.data() + k_prefix_bytes && view.header.size() == header_length);
  FUZZ_CHECK(view.value.data() == view.header.data() + header_length);
  FUZZ_CHECK(k_prefix_bytes + view.header.size() + view.value.size() == body.size());
}

void
check_refused_split(std::string_view body, std::uint32_t limit, const Error& e)
{
  if (body.size() < k_prefix_bytes) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_frame);
    return;
  }
  const std::uint32_t header_length = read_u32be(body.data());
  if (header_length > limit) {
    FUZZ_CHECK(e.code() == ErrorCode::too_large);
  } else {
    FUZZ_CHECK(e.code() == ErrorCode::bad_frame && header_length > body.size() - k_prefix_bytes);
  }
}

// The accessors either agree with the header or throw BAD_REQUEST.
void
check_fields(const Json& header)
{
  try {
    if (const auto key = optional_string(header, "key")) {
      FUZZ_CHECK(header["key"].is_string() && header["key"].get_ref<const std::string&>() == *key);
    }
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
  }
  try {
    if (const auto ttl = optional_int(header, "ttl_ms")) {
      FUZZ_CHECK(header["ttl_ms"].is_number_integer() && header["ttl_ms"] == *ttl);
    }
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
  }
  try {
    const auto tags = optional_strings(header, "tags");
    FUZZ_CHECK(tags.empty() || (header["tags"].is_array() && header["tags"].size() == tags.size()));
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
  }
  try {
    const bool refresh = optional_bool(header, "refresh", false);
    FUZZ_CHECK(!refresh || header["refresh"] == true);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
  }
}

// Written with the client's encoder and read back as the daemon reads.
void
check_round_trip(const Request& request)
{
  std::string frame;
  append_request(frame, request.id, request.op, without_id_and_op(request.header), request.value);
  FrameReader reader({0xFFFFFFFFu, 0xFFFFFFFFu});
  char* room = reader.prepare(frame.size());
  FUZZ_CHECK(reader.room() >= frame.size());
  std::memcpy(room, frame.data(), frame.size());
  reader.commit(frame.size());
  const auto body = reader.next();
  FUZZ_CHECK(body && reader.buffered() == 0);
  std::uint64_t id_seen = 0;
  const Request again = parse_request(split_body(*body, 0xFFFFFFFFu), id_seen);
  FUZZ_CHECK(again.id == request.id && id_seen == request.id);
  FUZZ_CHECK(again.op == request.op);
  FUZZ_CHECK(again.value == request.value);
  FUZZ_CHECK(without_id_and_op(again.header) == without_id_and_op(request.header));
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  omnicache::fuzz::Input input(data, size);
  const std::uint32_t limit = k_header_limits[input.byte() % k_header_limits.size()];
  const std::string_view body = input.rest();
  BodyView view;
  try {
    view = split_body(body, limit);
  } catch (const Error& e) {
    check_refused_split(body, limit, e);
    return 0;
  }
  check_split(body, limit, view);

  const Json header = Json::parse(view.header, nullptr, false);
  const bool valid_id = header.is_object() && header.contains("id") && header["id"].is_number_unsigned();
  std::uint64_t id_seen = 0;
  Request request;
  try {
    request = parse_request(view, id_seen);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
    // The id goes into the error reply whenever it could be read.
    FUZZ_CHECK(id_seen == (valid_id ? header["id"].get<std::uint64_t>() : 0));
    return 0;
  }
  FUZZ_CHECK(request.header == header && header.is_object());
  FUZZ_CHECK(header["op"].is_string() && header["op"].get_ref<const std::string&>() == request.op);
  FUZZ_CHECK(request.id == (valid_id ? header["id"].get<std::uint64_t>() : 0) && id_seen == request.id);
  FUZZ_CHECK(request.value.data() == view.value.data() && request.value.size() == view.value.size());
  check_fields(request.header);
  check_round_trip(request);
  return 0;
}
