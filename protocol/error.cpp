#include "protocol/error.hpp"

#include <array>
#include <utility>

namespace omnicache::protocol {

namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 10> k_names{{
  {ErrorCode::bad_frame, "BAD_FRAME"},
  {ErrorCode::bad_request, "BAD_REQUEST"},
  {ErrorCode::too_large, "TOO_LARGE"},
  {ErrorCode::not_found, "NOT_FOUND"},
  {ErrorCode::unsupported, "UNSUPPORTED"},
  {ErrorCode::busy, "BUSY"},
  {ErrorCode::shutting_down, "SHUTTING_DOWN"},
  {ErrorCode::disk_full, "DISK_FULL"},
  {ErrorCode::unavailable, "UNAVAILABLE"},
  {ErrorCode::internal, "INTERNAL"},
}};

} // namespace

std::string_view
error_code_name(ErrorCode code)
{
  for (const auto& [c, name] : k_names) {
    if (c == wire_code(code)) {
      return name;
    }
  }
  return "INTERNAL";
}

bool
parse_error_code(std::string_view name, ErrorCode& code)
{
  for (const auto& [c, n] : k_names) {
    if (n == name) {
      code = c;
      return true;
    }
  }
  return false;
}

Error::Error(ErrorCode code, const std::string& message)
  : std::runtime_error(message),
    m_code(code)
{
}

} // namespace omnicache::protocol
