/*
** fuzz.h: what every libFuzzer harness checks after a reader returns.
**
** Sanitizers catch memory errors; these catch the quieter breaches of the
** readers' contract: a failure without a message, a message that does not
** name the file, a tensor whose bytes cannot all be read.
*/
#ifndef LUANN_FUZZ_H
#define LUANN_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luann_formats.h"
#include "luann_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken contract and aborts, so libFuzzer keeps the input. */
static inline void fuzz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz: %s: %s\n", what, detail);
  abort();
}

/* A failed read leaves a message naming the input. */
static inline void fuzz_check_error(const char *name) {
  const char *msg = ln_error_message();
  if (!msg[0]) fuzz_fail("a reader failed without a message", name);
  if (!strstr(msg, name)) fuzz_fail("an error does not name the file", msg);
  ln_error_clear();
}

/* Reads n bytes at p, so that ASan checks every one. */
static inline void fuzz_touch(const void *p, size_t n) {
  const volatile unsigned char *b = p;
  unsigned char sum = 0;
  for (size_t i = 0; i < n; i++) sum ^= b[i];
  (void)sum;
}

static inline void fuzz_touch_tensor(const ln_tensor *t) {
  if (ln_tensor_numel(t) < 0) fuzz_fail("a tensor", "negative element count");
  fuzz_touch(ln_tensor_data(t), ln_tensor_nbytes(t));
}

/* The bytes t spans with empty dims counted as 1 (a shape's real reach,
** whatever its element count), saturating at UINT64_MAX. */
static inline uint64_t fuzz_extent(const ln_tensor *t) {
  uint64_t e = ln_dtype_size(t->dtype);
  for (int i = 0; i < t->ndim; i++) {
    uint64_t d = t->shape[i] > 0 ? (uint64_t)t->shape[i] : 1;
    if (__builtin_mul_overflow(e, d, &e)) return UINT64_MAX;
  }
  return e;
}

/* No file makes a tensor over ~1,100 times its size, empty or not
** (IDX_MAX_RATIO, CKP_MAX_RATIO). */
static inline void fuzz_check_ratio(const ln_tensor *t, size_t file_size) {
  if (fuzz_extent(t) / 1100 > file_size)
    fuzz_fail("a tensor", "over 1,100 times the size of its file");
}

#endif
