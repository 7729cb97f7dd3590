#pragma once

#include "cli/import/table_reader.hpp"

#include <cstddef>
#include <string_view>

namespace omnicache::cli::import {

// One line of a JSON Lines file (without its line break) as a record, by the
// rules table_reader.hpp states: a RowError when it is not a JSON object.
Record parse_json_line(std::size_t line, std::string_view text);

} // namespace omnicache::cli::import
