#include "daemon/daemon_main.hpp"

#include <malloc.h>

int
main(int argc, char** argv)
{
  // glibc gives freed memory back to the kernel as soon as 128 KiB lie free at
  // the top of a heap, and serves blocks over 128 KiB with mmap. Each give-back
  // and munmap flushes the TLB of every core; under a steady load of requests
  // that cost more than the requests themselves. Keeping a few MiB per thread
  // is cheap next to the database's page cache.
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  return omnicache::daemon::daemon_main(argc, argv);
}
