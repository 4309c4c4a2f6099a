/*
 * LD_PRELOAD shim for fault tests: while the file named by EDGEAGG_EIO_FLAG exists, fdatasync and
 * fsync fail with EIO, as they do on a failing disk. Built by test/fault/store-faults.test.ts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int failing(void) {
  const char *flag = getenv("EDGEAGG_EIO_FLAG");
  return flag && access(flag, F_OK) == 0;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  if (failing()) { errno = EIO; return -1; }
  return real(fd);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if (failing()) { errno = EIO; return -1; }
  return real(fd);
}
