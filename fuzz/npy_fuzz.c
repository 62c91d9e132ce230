/*
** npy_fuzz.c: libFuzzer harness for the .npy reader (core/npy.c): the
** header's dict parser, dtypes in both byte orders, Fortran order. The
** input is the file.
*/
#include "fuzz.h"

#define NAME "fuzz.npy"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ln_tensor *t = ln_npy_read_memory(data, size, NAME);
  if (!t) {
    fuzz_check_error(NAME);
    return 0;
  }
  fuzz_touch_tensor(t);
  fuzz_check_ratio(t, size);
  ln_tensor_release(t);
  return 0;
}
