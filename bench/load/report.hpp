#pragma once

#include "bench/load/driver.hpp"
#include "bench/load/options.hpp"

#include <string>

namespace omnicache::bench {

// The human table: one line per operation of the mix, then the total, then
// error replies by code.
std::string text_report(const Options& options, const Result& result);

// The same figures as one JSON object.
std::string json_report(const Options& options, const Result& result);

} // namespace omnicache::bench
