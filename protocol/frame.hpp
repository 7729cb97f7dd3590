#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Framing (PROTOCOL.md, "Frames"):
//   frame = length:u32be body[length]
//   body  = header_length:u32be header[header_length] value[rest]
// The header is a UTF-8 JSON object; the value is raw bytes, never escaped.
namespace omnicache::protocol {

inline constexpr std::size_t k_prefix_bytes = 4;
// The largest body a 4-byte length can describe.
inline constexpr std::size_t k_max_body_bytes = 0xFFFFFFFFu;

// The defaults of limits.max_frame_bytes and limits.max_header_bytes.
struct FrameLimits
{
  std::uint32_t max_frame_bytes = 256u << 20;
  std::uint32_t max_header_bytes = 1u << 20;
};

struct BodyView
{
  std::string_view header;
  std::string_view value;
};

std::uint32_t read_u32be(const void* data);
void write_u32be(void* data, std::uint32_t value);

// Appends one complete frame to `out`.
void append_frame(std::string& out, std::string_view header, std::string_view value);
// Appends a frame's lengths and header; `value_size` bytes of value must follow.
void append_frame_head(std::string& out, std::string_view header, std::size_t value_size);

// Splits a frame body into header and value. Throws Error(bad_frame) when the
// body is shorter than its header length says, Error(too_large) when the
// header is longer than the limit.
BodyView split_body(std::string_view body, std::uint32_t max_header_bytes);

// Incremental decoder for a byte stream: feed it what arrived, take complete
// bodies out. A length over the limit is reported as soon as the 4-byte prefix
// is in, before any of the body is read or buffered.
class FrameReader
{
public:
  explicit FrameReader(FrameLimits limits = {});

  // Room to read into, usually `wanted` bytes, never less than the rest of
  // the frame in progress (room() says how much); call commit() with the
  // number of bytes written there.
  char* prepare(std::size_t wanted);
  std::size_t room() const { return m_buffer.size() - m_end; }
  void commit(std::size_t n);

  // The next complete body, or nullopt when more bytes are needed. The view
  // stays valid until the next call to next(), prepare() or compact().
  // Throws Error(too_large) for an oversized frame.
  std::optional<std::string_view> next();

  // Drops consumed bytes so the buffer does not grow without bound.
  void compact();

  // Hands over the buffer that holds the body last returned by next(), so
  // that a large value can be kept without a copy: views into that body stay
  // valid in the returned string. The reader keeps a copy of only the bytes
  // after the body.
  std::string take_buffer();

  std::size_t buffered() const { return m_end - m_begin; }
  // Bytes still to come for the frame in progress, when its length is known.
  std::size_t missing() const;
  void set_limits(FrameLimits limits) { m_limits = limits; }

private:
  FrameLimits m_limits;
  std::string m_buffer;
  std::size_t m_begin = 0;
  std::size_t m_end = 0;
};

} // namespace omnicache::protocol
