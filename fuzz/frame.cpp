// The frame decoder as a session drives it: bytes arrive in chunks of any
// size, bodies come out, a large body's buffer is sometimes taken. A plain
// decoder of the same stream says what must come out.
#include "fuzz/fuzz_check.hpp"
#include "protocol/error.hpp"
#include "protocol/frame.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace omnicache::protocol;

namespace {

constexpr std::array<std::uint32_t, 8> k_frame_limits{0, 1, 4, 16, 64, 256, 4096, 65536};

struct Expected
{
  std::vector<std::string_view> bodies;
  std::size_t consumed = 0;                  // bytes of the complete frames
  std::optional<std::size_t> oversized_at;   // where the first length over the limit starts
};

Expected
decode(std::string_view stream, std::uint32_t limit)
{
  Expected out;
  while (stream.size() - out.consumed >= k_prefix_bytes) {
    const std::uint32_t length = read_u32be(stream.data() + out.consumed);
    if (length > limit) {
      out.oversized_at = out.consumed;
      break;
    }
    if (stream.size() - out.consumed - k_prefix_bytes < length) {
      break;
    }
    out.bodies.push_back(stream.substr(out.consumed + k_prefix_bytes, length));
    out.consumed += k_prefix_bytes + length;
  }
  return out;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  omnicache::fuzz::Input input(data, size);
  const std::uint32_t limit = k_frame_limits[input.byte() % k_frame_limits.size()];
  std::array<std::size_t, 4> chunks{};
  for (auto& chunk : chunks) {
    chunk = 1 + input.byte() % 64;
  }
  const std::uint8_t take_mask = input.byte();
  const std::string_view stream = input.rest();
  const Expected expected = decode(stream, limit);

  FrameReader reader({limit, limit});
  std::size_t fed = 0;
  std::size_t delivered = 0;
  std::size_t consumed = 0;
  for (std::size_t round = 0; fed < stream.size(); ++round) {
    const std::size_t wanted = chunks[round % chunks.size()];
    const std::size_t missing = reader.missing();
    char* room = reader.prepare(wanted);
    FUZZ_CHECK(reader.room() >= (missing > 0 ? std::min(wanted, missing) : wanted));
    const std::size_t n = std::min({reader.room(), wanted, stream.size() - fed});
    std::memcpy(room, stream.data() + fed, n);
    reader.commit(n);
    fed += n;
    try {
      while (const auto body = reader.next()) {
        FUZZ_CHECK(delivered < expected.bodies.size());
        FUZZ_CHECK(*body == expected.bodies[delivered]);
        consumed += k_prefix_bytes + body->size();
        if ((take_mask >> (delivered % 8)) & 1) {
          // The view must stay valid in the string handed over.
          const std::string taken = reader.take_buffer();
          FUZZ_CHECK(body->data() >= taken.data() && body->data() + body->size() <= taken.data() + taken.size());
          FUZZ_CHECK(*body == expected.bodies[delivered]);
        }
        ++delivered;
      }
    } catch (const Error& e) {
      // Refused as soon as the oversized length is in, not later.
      FUZZ_CHECK(e.code() == ErrorCode::too_large);
      FUZZ_CHECK(expected.oversized_at && delivered == expected.bodies.size());
      FUZZ_CHECK(fed - n < *expected.oversized_at + k_prefix_bytes && *expected.oversized_at + k_prefix_bytes <= fed);
      return 0;
    }
    FUZZ_CHECK(reader.buffered() == fed - consumed);
    if (round % 3 == 0) {
      reader.compact();
      FUZZ_CHECK(reader.buffered() == fed - consumed);
    }
  }
  FUZZ_CHECK(!expected.oversized_at);
  FUZZ_CHECK(delivered == expected.bodies.size() && consumed == expected.consumed);
  const std::size_t rest = stream.size() - consumed;
  const std::size_t pending = rest >= k_prefix_bytes ? k_prefix_bytes + read_u32be(stream.data() + consumed) : 0;
  FUZZ_CHECK(reader.missing() == (pending > rest ? pending - rest : 0));
  return 0;
}
