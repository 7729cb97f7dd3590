#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace omnicache::protocol {

// Stable error codes carried in error replies (see PROTOCOL.md, "Errors").
// The numeric values are not part of the wire format; the names are.
// The codes after `internal` are for failures that never answer a request
// (a bad setting, a file we cannot open): they let a caller tell them apart
// without a type of their own, and a reply carries INTERNAL in their place.
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
  // Internal only, never sent:
  config,   // a setting in a config file, the environment or a flag is wrong
  io,       // the system refused a file, folder, lock, socket or process we need
  bad_file, // a file we read (an outbox, an index, a table to import) is not in its format
};

constexpr ErrorCode k_last_wire_code = ErrorCode::internal;

// True for the codes an error reply may carry.
constexpr bool
is_wire_code(ErrorCode code)
{
  return code <= k_last_wire_code;
}

// The code as a reply carries it: INTERNAL for the internal-only codes.
constexpr ErrorCode
wire_code(ErrorCode code)
{
  return is_wire_code(code) ? code : ErrorCode::internal;
}

// The name of wire_code(code): what a reply says, so that an internal-only
// code cannot reach the wire under a name clients do not know.
std::string_view error_code_name(ErrorCode code);

// Returns false when `name` is not one of the wire names above.
bool parse_error_code(std::string_view name, ErrorCode& code);

// The one exception type of the protocol, store and daemon libraries: it
// becomes an error reply with this code and message. A few subclasses fix
// the code and add what their catchers need (ConfigError, StartupError,
// UnusableDatabase's reason and path, ...); they are still an Error.
class Error : public std::runtime_error
{
public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const { return m_code; }

private:
  ErrorCode m_code;
};

} // namespace omnicache::protocol
