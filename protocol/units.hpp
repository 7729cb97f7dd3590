#pragma once

#include "protocol/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>

// Durations and sizes as people write them in flags and config files.
namespace omnicache::protocol {

// "30" (seconds), "500ms", "30s", "10m", "2h", "7d", "1w", or a sequence such
// as "1h30m". "0" and "never" give 0, which means "no expiry" for TTLs.
// Otherwise a BAD_REQUEST Error saying the text is not a duration, or one
// past 64 bits of milliseconds.
Expected<std::int64_t> parse_duration_ms(std::string_view text);

// The shortest exact form: "never" for 0, else e.g. "1h30m", "250ms".
std::string format_duration_ms(std::int64_t ms);

// "1048576", "64k"/"64KB" (×1000), "64Ki"/"64KiB" (×1024), likewise M, G, T.
// Otherwise a BAD_REQUEST Error saying the text is not a size, or one past
// 64 bits.
Expected<std::uint64_t> parse_size(std::string_view text);

// Human form with a binary unit: "512 B", "1.5 KiB", "2.0 GiB".
std::string format_size(std::uint64_t bytes);

} // namespace omnicache::protocol
