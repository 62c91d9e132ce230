/*
** enospc_shim.c: a full disk for one process, as an LD_PRELOAD library.
** spec/enospc_spec.lua builds it with cc and runs luann.save under it.
**
** Only files whose path contains LUANN_ENOSPC_MATCH (default ".tmp.", the
** checkpoint writer's temp files) live on the "disk"; every other file is
** left alone. Settings, from the environment:
**
**   LUANN_ENOSPC_BYTES=N   the disk has N free bytes. A write that would grow
**                          the files past them writes what fits and fails
**                          with ENOSPC, as write(2) does; rewriting bytes
**                          already in a file (the checkpoint header) costs
**                          nothing.
**   LUANN_ENOSPC_AT=WHEN   WHEN is flush, fsync or close: that call fails
**                          with ENOSPC on a disk file (delayed allocation,
**                          NFS and quotas report a full disk there), after
**                          doing its work (close still closes).
**   LUANN_ENOSPC_LOG=FILE  appends one line per injected failure, so a spec
**                          can tell that its fault was reached.
**
** glibc's stdio writes through internal calls that a preloaded library
** cannot see, so both levels are wrapped: write(2) and fwrite(3), and the
** calls that open, flush, sync and close. Single-threaded use only.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FD 4096

static struct {
  int on;       /* this fd is a file on the disk */
  off_t extent; /* its size as far as the disk is concerned */
} files[MAX_FD];

static long long used; /* bytes the disk files have grown by */

/* The next definition of a wrapped function (libc's, or a sanitizer's). */
#define REAL(name) \
  static __typeof__(name) *real_##name; \
  if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static long long free_bytes(void) {
  const char *s = getenv("LUANN_ENOSPC_BYTES");
  return s && *s ? atoll(s) - used : -1; /* -1: unlimited */
}

static int fails_at(const char *when) {
  const char *s = getenv("LUANN_ENOSPC_AT");
  return s && strcmp(s, when) == 0;
}

static void note(const char *call, long long asked, long long done) {
  const char *log = getenv("LUANN_ENOSPC_LOG");
  if (!log || !*log) return;
  int saved = errno;
  REAL(fopen);
  FILE *f = real_fopen(log, "a");
  if (f) {
    fprintf(f, "ENOSPC %s asked %lld wrote %lld\n", call, asked, done);
    fclose(f);
  }
  errno = saved;
}

static int on_disk(int fd) {
  return fd >= 0 && fd < MAX_FD && files[fd].on;
}

static void track(int fd, const char *path) {
  const char *match = getenv("LUANN_ENOSPC_MATCH");
  if (!match || !*match) match = ".tmp.";
  if (fd < 0 || fd >= MAX_FD || !path || !strstr(path, match)) return;
  struct stat st;
  files[fd].on = 1;
  files[fd].extent = fstat(fd, &st) == 0 ? st.st_size : 0;
}

/* How many of n bytes at offset pos fit on the disk; takes their space. */
static size_t room(int fd, off_t pos, size_t n) {
  long long left = free_bytes();
  off_t end = pos + (off_t)n;
  if (left >= 0 && end > files[fd].extent + left) {
    end = files[fd].extent + left;
    n = end > pos ? (size_t)(end - pos) : 0;
  }
  if (end > files[fd].extent) {
    used += end - files[fd].extent;
    files[fd].extent = end;
  }
  return n;
}

/* ---- opening ------------------------------------------------------------ */

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...) {
  REAL(open);
  va_list ap;
  va_start(ap, flags);
  int fd = real_open(path, flags, mode_arg(flags, ap));
  va_end(ap);
  track(fd, path);
  return fd;
}

int open64(const char *path, int flags, ...) {
  REAL(open64);
  va_list ap;
  va_start(ap, flags);
  int fd = real_open64(path, flags, mode_arg(flags, ap));
  va_end(ap);
  track(fd, path);
  return fd;
}

int openat(int dirfd, const char *path, int flags, ...) {
  REAL(openat);
  va_list ap;
  va_start(ap, flags);
  int fd = real_openat(dirfd, path, flags, mode_arg(flags, ap));
  va_end(ap);
  track(fd, path);
  return fd;
}

FILE *fopen(const char *path, const char *mode) {
  REAL(fopen);
  FILE *f = real_fopen(path, mode);
  if (f) track(fileno(f), path);
  return f;
}

FILE *fopen64(const char *path, const char *mode) {
  REAL(fopen64);
  FILE *f = real_fopen64(path, mode);
  if (f) track(fileno(f), path);
  return f;
}

/* ---- writing ------------------------------------------------------------ */

ssize_t write(int fd, const void *buf, size_t n) {
  REAL(write);
  if (!on_disk(fd)) return real_write(fd, buf, n);
  off_t pos = lseek(fd, 0, SEEK_CUR);
  size_t fit = room(fd, pos < 0 ? files[fd].extent : pos, n);
  if (n > 0 && fit == 0) {
    note("write", (long long)n, 0);
    errno = ENOSPC;
    return -1;
  }
  ssize_t done = real_write(fd, buf, fit);
  if (fit < n) note("write", (long long)n, (long long)done);
  return done;
}

size_t fwrite(const void *buf, size_t size, size_t count, FILE *f) {
  REAL(fwrite);
  int fd = fileno(f);
  if (!on_disk(fd) || size == 0) return real_fwrite(buf, size, count, f);
  size_t n = size * count;
  off_t pos = ftello(f);
  size_t fit = room(fd, pos < 0 ? files[fd].extent : pos, n);
  if (fit == n) return real_fwrite(buf, size, count, f);
  size_t done = real_fwrite(buf, 1, fit, f);
  note("fwrite", (long long)n, (long long)done);
  errno = ENOSPC;
  return done / size;
}

/* ---- flushing, syncing, closing ----------------------------------------- */

int fflush(FILE *f) {
  REAL(fflush);
  int rc = real_fflush(f);
  if (rc == 0 && f && on_disk(fileno(f)) && fails_at("flush")) {
    note("fflush", 0, 0);
    errno = ENOSPC;
    return EOF;
  }
  return rc;
}

int fsync(int fd) {
  REAL(fsync);
  int rc = real_fsync(fd);
  if (rc == 0 && on_disk(fd) && fails_at("fsync")) {
    note("fsync", 0, 0);
    errno = ENOSPC;
    return -1;
  }
  return rc;
}

int fdatasync(int fd) {
  REAL(fdatasync);
  int rc = real_fdatasync(fd);
  if (rc == 0 && on_disk(fd) && fails_at("fsync")) {
    note("fdatasync", 0, 0);
    errno = ENOSPC;
    return -1;
  }
  return rc;
}

int close(int fd) {
  REAL(close);
  int was = on_disk(fd);
  if (was) files[fd].on = 0;
  int rc = real_close(fd);
  if (rc == 0 && was && fails_at("close")) {
    note("close", 0, 0);
    errno = ENOSPC;
    return -1;
  }
  return rc;
}

int fclose(FILE *f) {
  REAL(fclose);
  int fd = fileno(f);
  int was = on_disk(fd);
  if (was) files[fd].on = 0;
  int rc = real_fclose(f);
  if (rc == 0 && was && fails_at("close")) {
    note("fclose", 0, 0);
    errno = ENOSPC;
    return EOF;
  }
  return rc;
}
