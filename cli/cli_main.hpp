#pragma once

namespace omnicache::cli {

// The omnicache command. Returns its exit code (see exit_codes.hpp).
int cli_main(int argc, char** argv);

} // namespace omnicache::cli
