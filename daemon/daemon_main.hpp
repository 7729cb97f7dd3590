#pragma once

namespace omnicache::daemon {

// omnicached's command line. Exit codes: 0 stopped cleanly, 1 could not start
// or failed while serving, 2 bad flags or configuration.
int daemon_main(int argc, char** argv);

} // namespace omnicache::daemon
