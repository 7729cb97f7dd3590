#include "cli/cli_main.hpp"

int
main(int argc, char** argv)
{
  return omnicache::cli::cli_main(argc, argv);
}
