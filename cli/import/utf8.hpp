#pragma once

#include <string_view>

namespace omnicache::cli::import {

// Whether `text` is well-formed UTF-8: no overlong forms, surrogates or code
// points past U+10FFFF. The files warm reads and export writes keep text
// fields in UTF-8; other bytes travel as base64.
bool is_utf8(std::string_view text);

} // namespace omnicache::cli::import
