/*
** luann_io.h: reading datasets and saving/loading checkpoints.
**
** IDX files (MNIST and friends) load into tensors; checkpoints are a
** versioned, compressed, checksummed stream of typed records written
** atomically (the format is specified at the top of core/checkpoint.c).
** The core knows no Lua: a binding walks its tables and feeds records to
** a writer, or builds tables from the records a reader hands back.
*/
#ifndef LUANN_IO_H
#define LUANN_IO_H

#include "luann_core.h"

/* ---- IDX ------------------------------------------------------------- */

/* Reads an IDX file, plain or gzip-compressed, into a new CPU tensor:
** ubyte gives uint8, sbyte/short/int give int64, float gives float32 and
** double gives float64; the shape is the header's dims. */
ln_tensor *ln_read_idx(const char *path);
/* The same from len bytes in memory (a fuzzer's input, a download); name
** stands for the path in messages. Linux only (a memfd). */
ln_tensor *ln_read_idx_memory(const void *data, size_t len, const char *name);

/* ---- checkpoints: records -------------------------------------------- */

typedef enum ln_ckpt_kind {
  LN_CKPT_FALSE = 1,
  LN_CKPT_TRUE = 2,
  LN_CKPT_INT = 3,
  LN_CKPT_FLOAT = 4,
  LN_CKPT_STRING = 5,
  LN_CKPT_TENSOR = 6,
  LN_CKPT_TABLE = 7
} ln_ckpt_kind;

/* One record as the reader hands it back. Borrowed parts (str) stay valid
** until the next call on the reader; tensor is a new reference the caller
** takes over. */
typedef struct ln_ckpt_item {
  ln_ckpt_kind kind;
  int64_t i;             /* INT; the entry count of a TABLE */
  double f;              /* FLOAT */
  const char *str;       /* STRING (not 0-terminated inside the data) */
  size_t len;
  ln_tensor *tensor;     /* TENSOR */
  bool is_key;           /* a table key (INT or STRING) rather than a value */
} ln_ckpt_item;

/* ---- checkpoints: writing -------------------------------------------- */

typedef struct ln_ckpt_writer ln_ckpt_writer;

/* Starts writing path's replacement into "<path>.tmp.<pid>"; nothing
** touches path itself until ln_ckpt_writer_commit. level is zlib's
** compression level 0..9 (-1: 1, the fastest that compresses). */
ln_ckpt_writer *ln_ckpt_writer_open(const char *path, int level);
/* One value or key each. A table is put_table(count) followed by count
** (key, value) pairs; keys are put with put_int or put_string. */
int ln_ckpt_put_bool(ln_ckpt_writer *w, bool b);
int ln_ckpt_put_int(ln_ckpt_writer *w, int64_t i);
int ln_ckpt_put_float(ln_ckpt_writer *w, double f);
int ln_ckpt_put_string(ln_ckpt_writer *w, const char *s, size_t len);
int ln_ckpt_put_tensor(ln_ckpt_writer *w, ln_tensor *t);
int ln_ckpt_put_table(ln_ckpt_writer *w, int64_t count);
/* Finishes the stream, syncs it to disk and renames it over path. The
** writer is freed either way; on error the temp file is removed and path
** keeps its old contents. */
int ln_ckpt_writer_commit(ln_ckpt_writer *w);
/* Gives up: removes the temp file and frees the writer (NULL is fine). */
void ln_ckpt_writer_abort(ln_ckpt_writer *w);

/* ---- checkpoints: reading -------------------------------------------- */

typedef struct ln_ckpt_reader ln_ckpt_reader;

/* Opens and verifies a checkpoint (magic, version, sizes, checksum). */
ln_ckpt_reader *ln_ckpt_reader_open(const char *path);
/* The same over len bytes in memory, which must outlive the reader; name
** stands for the path in messages. */
ln_ckpt_reader *ln_ckpt_reader_open_memory(const void *data, size_t len,
                                           const char *name);
/* The next record in pre-order; errors on malformed data. */
int ln_ckpt_next(ln_ckpt_reader *r, ln_ckpt_item *item);
/* Checks that the stream ended exactly after the root value. */
int ln_ckpt_reader_finish(ln_ckpt_reader *r);
void ln_ckpt_reader_close(ln_ckpt_reader *r); /* NULL is fine */

/* Nesting limit of tables in a checkpoint, for writers and readers. */
#define LN_CKPT_MAX_DEPTH 64

#endif
