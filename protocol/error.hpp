#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace omnicache::protocol {

// Stable error codes carried in error replies (see PROTOCOL.md, "Errors").
// The numeric values are not part of the wire format; the names are.
enum class ErrorCode {
  bad_frame,     // the framing itself is broken; the connection is closed
  bad_request,   // well framed, but the header is not valid JSON or a field is wrong
  too_large,     // a frame, header, key, value or list is over a limit
  not_found,     // the named thing does not exist where absence is an error
  unsupported,   // unknown operation, protocol version or capability
  busy,          // the connection limit is reached; try again later
  shutting_down, // the daemon is stopping and takes no new work
  disk_full,     // the database could not grow; nothing was changed
  unavailable,   // a service the request needs (a remote embedder) failed; try again later
  internal,      // a bug or an unexpected failure of the store
};

std::string_view error_code_name(ErrorCode code);

// Returns false when `name` is not one of the names above.
bool parse_error_code(std::string_view name, ErrorCode& code);

// The one exception type of the protocol, store and daemon libraries: it
// becomes an error reply with this code and message.
class Error : public std::runtime_error
{
public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const { return m_code; }

private:
  ErrorCode m_code;
};

} // namespace omnicache::protocol
