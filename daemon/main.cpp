#include "daemon/daemon_main.hpp"

int
main(int argc, char** argv)
{
  return omnicache::daemon::daemon_main(argc, argv);
}
