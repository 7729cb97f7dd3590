#pragma once

#include <string>

namespace omnicache::protocol {

// The KEYS section of omnicache.toml(5) in scdoc markup: every setting of the
// table with its default, its environment variable and whether SIGHUP applies
// it, so that the manual is built from the same table the code reads.
std::string config_manual();

} // namespace omnicache::protocol
