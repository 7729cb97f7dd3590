#include "protocol/frame.hpp"

#include "protocol/error.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <algorithm>
#include <vector>

using namespace omnicache::protocol;
using omnicache::unit::thrown;

namespace {

// Hands `bytes` to the reader the way socket reads would: as much as the
// room it offers each time.
void
feed(FrameReader& reader, std::string_view bytes)
{
  while (!bytes.empty()) {
    char* room = reader.prepare(bytes.size());
    const std::size_t n = std::min(bytes.size(), reader.room());
    std::memcpy(room, bytes.data(), n);
    reader.commit(n);
    bytes.remove_prefix(n);
  }
}

std::string
frame_of(std::string_view header, std::string_view value)
{
  std::string out;
  append_frame(out, header, value);
  return out;
}

std::string
u32be(std::uint32_t value)
{
  std::string out(4, '\0');
  write_u32be(out.data(), value);
  return out;
}

// Every body the reader has ready, copied out.
std::vector<std::string>
drain(FrameReader& reader)
{
  std::vector<std::string> out;
  while (auto body = reader.next()) {
    out.emplace_back(*body);
  }
  return out;
}

} // namespace

TEST_SUITE("protocol.frame")
{
  TEST_CASE("u32 values are written and read big-endian")
  {
    unsigned char bytes[4] = {};
    write_u32be(bytes, 0x01020304u);
    CHECK(bytes[0] == 0x01);
    CHECK(bytes[1] == 0x02);
    CHECK(bytes[2] == 0x03);
    CHECK(bytes[3] == 0x04);
    CHECK(read_u32be(bytes) == 0x01020304u);
    write_u32be(bytes, 0xFFFFFFFFu);
    CHECK(read_u32be(bytes) == 0xFFFFFFFFu);
  }

  TEST_CASE("a frame is its body length then header length header and value")
  {
    const std::string frame = frame_of("{\"op\":\"ping\"}", "abc");
    REQUIRE(frame.size() == 4 + 4 + 13 + 3);
    CHECK(read_u32be(frame.data()) == 4 + 13 + 3);
    CHECK(read_u32be(frame.data() + 4) == 13);
    CHECK(frame.substr(8) == "{\"op\":\"ping\"}abc");
  }

  TEST_CASE("a frame round trips through split_body with binary values")
  {
    const std::string value("\0\x01\xff\0value\0", 10);
    const std::string frame = frame_of("{\"id\":1}", value);
    const BodyView body = split_body(std::string_view(frame).substr(4), 1024);
    CHECK(body.header == "{\"id\":1}");
    CHECK(body.value == value);
  }

  TEST_CASE("a frame with an empty header and an empty value round trips")
  {
    const std::string frame = frame_of("", "");
    REQUIRE(frame.size() == 8);
    const BodyView body = split_body(std::string_view(frame).substr(4), 1024);
    CHECK(body.header.empty());
    CHECK(body.value.empty());
  }

  TEST_CASE("append_frame appends after what is already in the buffer")
  {
    std::string out = "xyz";
    append_frame(out, "h", "v");
    CHECK(out.substr(0, 3) == "xyz");
    CHECK(out.substr(3) == frame_of("h", "v"));
  }

  TEST_CASE("split_body refuses a body shorter than its header length field")
  {
    const auto error = thrown<Error>([] { split_body(std::string_view("\0\0\0", 3), 1024); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_frame);
  }

  TEST_CASE("split_body refuses a header over the limit with TOO_LARGE")
  {
    const std::string body = u32be(100) + std::string(100, 'h');
    const auto error = thrown<Error>([&] { split_body(body, 99); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::too_large);
    // Exactly at the limit is fine.
    CHECK(split_body(body, 100).header.size() == 100);
  }

  TEST_CASE("split_body refuses a header length that runs past the end of the body")
  {
    const std::string body = u32be(10) + "12345";
    const auto error = thrown<Error>([&] { split_body(body, 1024); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::bad_frame);
  }

  TEST_CASE("split_body gives the rest of the body as the value")
  {
    const std::string body = u32be(2) + "hdvalue";
    const BodyView view = split_body(body, 1024);
    CHECK(view.header == "hd");
    CHECK(view.value == "value");
  }

  TEST_CASE("the frame reader assembles frames fed one byte at a time")
  {
    const std::vector<std::pair<std::string, std::string>> frames{
      {"{\"id\":1}", "first"}, {"{\"id\":2}", ""}, {"{}", std::string("\0\0bin", 5)}};
    std::string stream;
    for (const auto& [header, value] : frames) {
      append_frame(stream, header, value);
    }
    FrameReader reader;
    std::vector<std::string> bodies;
    for (char byte : stream) {
      feed(reader, std::string_view(&byte, 1));
      if (auto body = reader.next()) {
        bodies.emplace_back(*body);
        // The body is complete only with its last byte.
        CHECK(reader.buffered() == 0);
      }
    }
    REQUIRE(bodies.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const BodyView view = split_body(bodies[i], 1024);
      CHECK(view.header == frames[i].first);
      CHECK(view.value == frames[i].second);
    }
    CHECK_FALSE(reader.next());
  }

  TEST_CASE("the frame reader returns every frame of a chunk that holds several")
  {
    std::string chunk;
    for (int i = 0; i < 5; ++i) {
      append_frame(chunk, "{\"id\":" + std::to_string(i) + "}", std::string(static_cast<std::size_t>(i), 'v'));
    }
    // Half of a sixth frame follows the five complete ones.
    const std::string sixth = frame_of("{\"id\":5}", "tail");
    chunk += sixth.substr(0, 6);
    FrameReader reader;
    feed(reader, chunk);
    const auto bodies = drain(reader);
    REQUIRE(bodies.size() == 5);
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      const BodyView view = split_body(bodies[i], 1024);
      CHECK(view.header == "{\"id\":" + std::to_string(i) + "}");
      CHECK(view.value == std::string(i, 'v'));
    }
    CHECK(reader.buffered() == 6);
    reader.compact();
    feed(reader, std::string_view(sixth).substr(6));
    const auto rest = drain(reader);
    REQUIRE(rest.size() == 1);
    CHECK(split_body(rest[0], 1024).value == "tail");
  }

  TEST_CASE("the frame reader refuses an oversized length before the body arrives")
  {
    FrameReader reader(FrameLimits{100, 50});
    feed(reader, u32be(101).substr(0, 3));
    CHECK_FALSE(reader.next()); // the length is not known yet
    feed(reader, u32be(101).substr(3));
    const auto error = thrown<Error>([&] { reader.next(); });
    REQUIRE(error);
    CHECK(error->code() == ErrorCode::too_large);
    CHECK(reader.buffered() == 4); // nothing of the body was needed
  }

  TEST_CASE("the frame reader accepts a frame exactly at the limit")
  {
    FrameReader reader(FrameLimits{100, 50});
    const std::string frame = frame_of("{}", std::string(100 - 4 - 2, 'x'));
    REQUIRE(read_u32be(frame.data()) == 100);
    feed(reader, frame);
    const auto body = reader.next();
    REQUIRE(body);
    CHECK(body->size() == 100);
  }

  TEST_CASE("set_limits changes the limit for frames not yet read")
  {
    FrameReader reader(FrameLimits{100, 50});
    reader.set_limits(FrameLimits{1000, 50});
    feed(reader, u32be(500));
    CHECK_FALSE(reader.next());
    reader.set_limits(FrameLimits{499, 50});
    CHECK(thrown<Error>([&] { reader.next(); }));
  }

  TEST_CASE("missing counts the bytes still to come once the length is known")
  {
    FrameReader reader;
    CHECK(reader.missing() == 0);
    const std::string frame = frame_of("{}", "0123456789"); // body of 16 bytes
    feed(reader, std::string_view(frame).substr(0, 2));
    CHECK(reader.missing() == 0); // the length is not known yet
    feed(reader, std::string_view(frame).substr(2, 2));
    CHECK(reader.missing() == 16);
    feed(reader, std::string_view(frame).substr(4, 5));
    CHECK(reader.missing() == 11);
    CHECK_FALSE(reader.next());
    feed(reader, std::string_view(frame).substr(9));
    CHECK(reader.missing() == 0);
    CHECK(reader.next());
    CHECK(reader.missing() == 0);
  }

  TEST_CASE("compact keeps the unread part of a frame")
  {
    FrameReader reader;
    const std::string a = frame_of("{\"a\":1}", "AAAA");
    const std::string b = frame_of("{\"b\":2}", "BBBB");
    feed(reader, a + b.substr(0, 7));
    REQUIRE(reader.next());
    reader.compact();
    CHECK(reader.buffered() == 7);
    feed(reader, std::string_view(b).substr(7));
    const auto body = reader.next();
    REQUIRE(body);
    CHECK(split_body(*body, 1024).value == "BBBB");
    reader.compact();
    CHECK(reader.buffered() == 0);
  }

  TEST_CASE("the frame reader handles a large frame read in many chunks")
  {
    const std::string value(1 << 20, 'z');
    const std::string frame = frame_of("{\"big\":true}", value);
    FrameReader reader;
    std::size_t offset = 0;
    int bodies = 0;
    while (offset < frame.size()) {
      const std::size_t n = std::min<std::size_t>(4093, frame.size() - offset);
      feed(reader, std::string_view(frame).substr(offset, n));
      offset += n;
      while (auto body = reader.next()) {
        ++bodies;
        CHECK(split_body(*body, 1024).value == value);
      }
      reader.compact();
    }
    CHECK(bodies == 1);
  }

  TEST_CASE("a taken buffer holds the body just read however small the frames")
  {
    // Found by fuzz/frame.cpp: a buffer small enough for a string's inline
    // storage was copied, not handed over, leaving the body's view pointing
    // at the bytes that replaced it.
    const std::string first = frame_of("{}", "v");
    const std::string second = frame_of("{}", "w");
    FrameReader reader;
    feed(reader, first + second.substr(0, 4));
    const auto body = reader.next();
    REQUIRE(body);
    const std::string taken = reader.take_buffer();
    CHECK(body->data() >= taken.data());
    CHECK(body->data() + body->size() <= taken.data() + taken.size());
    CHECK(split_body(*body, 1024).value == "v");
    CHECK(reader.buffered() == 4);
    feed(reader, std::string_view(second).substr(4));
    const auto next = reader.next();
    REQUIRE(next);
    CHECK(split_body(*next, 1024).value == "w");
  }
}
