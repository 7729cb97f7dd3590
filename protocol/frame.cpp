#include "protocol/frame.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace omnicache::protocol {

namespace {

// More than any std::string keeps inline: a buffer at least this large lives
// on the heap, so moving it out in take_buffer() keeps views into it valid.
constexpr std::size_t k_min_capacity = 64;

} // namespace

std::uint32_t
read_u32be(const void* data)
{
  const auto* p = static_cast<const unsigned char*>(data);
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8)
         | std::uint32_t{p[3]};
}

void
write_u32be(void* data, std::uint32_t value)
{
  auto* p = static_cast<unsigned char*>(data);
  p[0] = static_cast<unsigned char>(value >> 24);
  p[1] = static_cast<unsigned char>(value >> 16);
  p[2] = static_cast<unsigned char>(value >> 8);
  p[3] = static_cast<unsigned char>(value);
}

void
append_frame_head(std::string& out, std::string_view header, std::size_t value_size)
{
  const std::size_t body = k_prefix_bytes + header.size() + value_size;
  const std::size_t start = out.size();
  out.resize(start + 2 * k_prefix_bytes);
  write_u32be(out.data() + start, static_cast<std::uint32_t>(body));
  write_u32be(out.data() + start + k_prefix_bytes, static_cast<std::uint32_t>(header.size()));
  out.append(header);
}

void
append_frame(std::string& out, std::string_view header, std::string_view value)
{
  append_frame_head(out, header, value.size());
  out.append(value);
}

BodyView
split_body(std::string_view body, std::uint32_t max_header_bytes)
{
  if (body.size() < k_prefix_bytes) {
    throw Error(ErrorCode::bad_frame,
                fmt::format("frame body of {} bytes is shorter than its 4-byte header length", body.size()));
  }
  const std::uint32_t header_length = read_u32be(body.data());
  if (header_length > max_header_bytes) {
    throw Error(ErrorCode::too_large,
                fmt::format("header of {} bytes is over the limit of {} bytes", header_length, max_header_bytes));
  }
  if (header_length > body.size() - k_prefix_bytes) {
    throw Error(ErrorCode::bad_frame,
                fmt::format("header length {} runs past the end of a {}-byte frame body", header_length, body.size()));
  }
  return {body.substr(k_prefix_bytes, header_length), body.substr(k_prefix_bytes + header_length)};
}

FrameReader::FrameReader(FrameLimits limits)
  : m_limits(limits)
{
}

char*
FrameReader::prepare(std::size_t at_least)
{
  if (m_buffer.capacity() < k_min_capacity) {
    m_buffer.reserve(k_min_capacity);
  }
  if (m_buffer.size() - m_end < at_least) {
    compact();
    std::size_t wanted = m_end + at_least;
    if (const std::size_t frame = missing(); frame > 0) {
      // The frame's length is known: one allocation of the right size rather
      // than doublings that would hold the old and the new buffer at once,
      // and no growing past it just to read ahead.
      if (m_buffer.capacity() < m_end + frame) {
        m_buffer.reserve(m_end + frame);
      }
      wanted = std::min(wanted, std::max(m_buffer.capacity(), m_end + frame));
    }
    if (m_buffer.size() < wanted) {
      m_buffer.resize(wanted);
    }
  }
  return m_buffer.data() + m_end;
}

void
FrameReader::commit(std::size_t n)
{
  m_end += n;
}

std::optional<std::string_view>
FrameReader::next()
{
  const std::size_t available = m_end - m_begin;
  if (available < k_prefix_bytes) {
    return std::nullopt;
  }
  const std::uint32_t length = read_u32be(m_buffer.data() + m_begin);
  if (length > m_limits.max_frame_bytes) {
    throw Error(ErrorCode::too_large,
                fmt::format("frame of {} bytes is over the limit of {} bytes", length, m_limits.max_frame_bytes));
  }
  if (available - k_prefix_bytes < length) {
    return std::nullopt;
  }
  std::string_view body(m_buffer.data() + m_begin + k_prefix_bytes, length);
  m_begin += k_prefix_bytes + length;
  return body;
}

std::string
FrameReader::take_buffer()
{
  std::string rest;
  rest.reserve(std::max(k_min_capacity, m_end - m_begin));
  rest.assign(m_buffer.data() + m_begin, m_end - m_begin);
  std::string taken = std::move(m_buffer);
  m_buffer = std::move(rest);
  m_begin = 0;
  m_end = m_buffer.size();
  return taken;
}

std::size_t
FrameReader::missing() const
{
  const std::size_t available = m_end - m_begin;
  if (available < k_prefix_bytes) {
    return 0;
  }
  const std::size_t wanted = k_prefix_bytes + read_u32be(m_buffer.data() + m_begin);
  return wanted > available ? wanted - available : 0;
}

void
FrameReader::compact()
{
  if (m_begin == 0) {
    return;
  }
  if (m_begin < m_end) {
    std::memmove(m_buffer.data(), m_buffer.data() + m_begin, m_end - m_begin);
  }
  m_end -= m_begin;
  m_begin = 0;
}

} // namespace omnicache::protocol
