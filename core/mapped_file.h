/*
** mapped_file.h: a file's bytes in memory for the readers of other
** programs' formats (safetensors, .npy, .npz), and tensors made from them
** (internal).
**
** A file is memory-mapped (private, copy-on-write: writing into a tensor
** never reaches the file) and reference counted: every tensor that wraps
** part of it holds a reference, so the mapping goes with the last of them.
** Large, aligned tensors in luann's own dtypes wrap the mapping without a
** copy (loading a 1 GiB file costs the pages read, not a second GiB);
** everything else is copied, converting dtype and byte order as asked.
** Memory handed in by a caller (a fuzzer's input) is borrowed and always
** copied from, since it may not outlive the tensors.
** As with any mapped file, one truncated by another program while its
** tensors live makes their reads fault (SIGBUS); replace files by renaming
** new ones over them (as luann's writers do), never by rewriting in place.
*/
#ifndef LUANN_MAPPED_FILE_H
#define LUANN_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "luann_core.h"

typedef struct ln_mapping {
  int refcount;
  const unsigned char *data;
  size_t len;
  bool mapped;   /* data is our own mapping (else borrowed) */
  char *name;    /* the path, for messages */
  size_t file_len; /* the file's size, that tensors are bounded by: len, or
                      the archive's for a member inflated from one */
} ln_mapping;

/* Maps path whole; op prefixes messages ("safetensors.load"). */
LN_INTERNAL ln_mapping *ln_mapping_open(const char *op, const char *path);
/* Borrows len bytes at data; name stands for the path in messages. */
LN_INTERNAL ln_mapping *ln_mapping_borrow(const void *data, size_t len,
                                          const char *name);
LN_INTERNAL void ln_mapping_release(ln_mapping *m); /* NULL is fine */

/* How a file stores the values of a tensor: the bytes of one element
** (1, 2, 4 or 8), its kind, and whether they are big-endian. */
typedef enum ln_elem_kind {
  LN_ELEM_FLOAT,   /* IEEE binary16, 32 or 64 */
  LN_ELEM_BFLOAT,  /* bfloat16 (2 bytes) */
  LN_ELEM_INT,     /* two's complement */
  LN_ELEM_UINT,
  LN_ELEM_BOOL     /* 1 byte, nonzero is true */
} ln_elem_kind;

typedef struct ln_elem {
  ln_elem_kind kind;
  int size;
  bool big_endian;
} ln_elem;

/* The luann dtype a stored element loads as: float16/bfloat16 and float32
** as float32, float64 as float64, integers of up to 32 bits (and int64)
** as int64, uint8 as uint8, bool as bool; LN_DTYPE_COUNT when none does
** (uint64, which int64 cannot hold). */
LN_INTERNAL ln_dtype ln_elem_dtype(ln_elem e);

/* No file may make luann allocate more than this many times its size,
** nor describe an empty tensor whose other dims span more (as for
** checkpoints: core/checkpoint.c). */
#define LN_FILE_MAX_RATIO 1100

/* Whether a tensor of this shape and loaded dtype may come from m: sizes
** valid (ln_check_sizes) and its extent, empty dims counted as 1, within
** LN_FILE_MAX_RATIO times the file (m->file_len). what names the tensor in the message
** "<op>: <file>: <what> has shape (..): ...". */
LN_INTERNAL int ln_mapping_check_shape(const ln_mapping *m, const char *op,
                                       const char *what, int ndim,
                                       const int64_t *shape, ln_dtype dt);

/* A new CPU tensor of shape (ndim, shape) from the numel elements stored
** at byte offset of m, which the caller has checked lie inside it. Wraps
** the mapping when it can, else copies and converts. */
LN_INTERNAL ln_tensor *ln_mapping_tensor(ln_mapping *m, size_t offset,
                                         ln_elem e, int ndim,
                                         const int64_t *shape);

/* Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF):
** the byte offset of the first bad sequence, or len when all is well. */
LN_INTERNAL size_t ln_utf8_check(const unsigned char *s, size_t len);

#endif
