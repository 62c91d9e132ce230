/*
** atomic_file.c: write to a temp file beside the destination, rename it
** over the destination only once it is complete and on disk (the scheme of
** checkpoint.c's writer, for the files that are written in one go: PNG
** images and plots).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "luann_core.h"

static char *join(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  char *s = malloc(n + m + 1);
  if (s) {
    memcpy(s, a, n);
    memcpy(s + n, b, m + 1);
  }
  return s;
}

int ln_atomic_open(ln_atomic_file *a, const char *op, const char *path) {
  char suffix[32];
  snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
  *a = (ln_atomic_file){NULL, join(path, ""), join(path, suffix)};
  if (!a->path || !a->tmp) {
    ln_atomic_abort(a);
    return ln_error("%s: out of memory", op);
  }
  int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  int err = errno;
  struct stat old;
  if (fd >= 0 && stat(path, &old) == 0) /* the replacement keeps its mode */
    fchmod(fd, old.st_mode & 07777);
  a->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!a->f) {
    if (fd >= 0) {
      err = errno;
      close(fd);
      unlink(a->tmp);
    }
    ln_atomic_abort(a);
    return ln_error("%s: cannot write %s: %s", op, path, strerror(err));
  }
  return LN_OK;
}

void ln_atomic_abort(ln_atomic_file *a) {
  if (a->f) {
    fclose(a->f);
    unlink(a->tmp);
  }
  free(a->path);
  free(a->tmp);
  *a = (ln_atomic_file){NULL, NULL, NULL};
}

void ln_sync_directory(const char *path) {
  char *dir = join(path, "");
  if (!dir) return;
  char *slash = strrchr(dir, '/');
  if (!slash) strcpy(dir, ".");
  else if (slash == dir) slash[1] = 0; /* the root directory */
  else *slash = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

int ln_atomic_commit(ln_atomic_file *a, const char *op) {
  int err = 0; /* the first failure's reason */
  errno = 0;
  if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0) err = errno ? errno : EIO;
  FILE *f = a->f;
  a->f = NULL;
  errno = 0;
  if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
  if (!err && rename(a->tmp, a->path) != 0) err = errno;
  int rc = LN_OK;
  if (err) {
    rc = ln_error("%s: cannot write %s: %s", op, a->path, strerror(err));
    unlink(a->tmp);
  } else {
    ln_sync_directory(a->path);
  }
  ln_atomic_abort(a);
  return rc;
}
