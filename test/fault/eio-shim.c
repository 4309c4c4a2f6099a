/*
 * LD_PRELOAD shim for fault tests: while the file named by EDGEAGG_EIO_FLAG exists, the disk cannot make
 * anything durable, as a failing disk does: fdatasync and fsync fail with EIO, and so do writes to files
 * opened for synchronous writes (O_DSYNC: the write journal, whose writes are its syncs).
 * Built by test/fault/store-faults.test.ts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/uio.h>
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

static int synchronous(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags != -1 && (flags & O_DSYNC) == O_DSYNC;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
  if (failing() && synchronous(fd)) { errno = EIO; return -1; }
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  if (failing() && synchronous(fd)) { errno = EIO; return -1; }
  return real(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t);
  if (!real) real = (ssize_t (*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev");
  if (failing() && synchronous(fd)) { errno = EIO; return -1; }
  return real(fd, iov, iovcnt, offset);
}
