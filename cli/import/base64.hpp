#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omnicache::cli::import {

// Standard base64 (RFC 4648, '+' and '/', '=' padding optional) as bytes;
// nullopt when `text` holds anything else. The way a file carries values that
// are not UTF-8 text: `export` writes them so, `warm` reads them back.
std::optional<std::string> decode_base64(std::string_view text);

} // namespace omnicache::cli::import
