/*
** atomic_file.h: files that appear whole or not at all (internal).
**
** A writer opens "<path>.tmp.<pid>", writes through the FILE, and commits:
** flush, fsync, close, rename over path, fsync the directory. A crash or
** an error at any point leaves path as it was and no temp file behind.
** Messages name the path the caller asked for and the OS's reason.
*/
#ifndef LUANN_ATOMIC_FILE_H
#define LUANN_ATOMIC_FILE_H

#include <stdio.h>

#include "internal.h"

typedef struct ln_atomic_file {
  FILE *f;     /* write here between open and commit */
  char *path;  /* the destination */
  char *tmp;   /* the temp file beside it */
} ln_atomic_file;

/* Starts a replacement for path; op prefixes messages ("image.save"). */
LN_INTERNAL int ln_atomic_open(ln_atomic_file *a, const char *op,
                               const char *path);
/* Makes the written bytes path's contents. Frees a either way; on error
** the temp file is removed and path keeps its old contents. */
LN_INTERNAL int ln_atomic_commit(ln_atomic_file *a, const char *op);
/* Gives up: removes the temp file and frees a (safe after a failed open). */
LN_INTERNAL void ln_atomic_abort(ln_atomic_file *a);
/* fsyncs the directory holding path, so that a rename into it is durable
** (best effort: some filesystems refuse fsync on directories). */
LN_INTERNAL void ln_sync_directory(const char *path);

#endif
