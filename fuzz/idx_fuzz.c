/*
** idx_fuzz.c: libFuzzer harness for the IDX reader (core/idx.c). The input
** is the file, through the same code as a file on disk: plain IDX mostly,
** though gzip input takes the .gz path too (gz_fuzz.c aims at that one).
*/
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ln_tensor *t = ln_read_idx_memory(data, size, "fuzz.idx");
  if (!t) {
    fuzz_check_error("fuzz.idx");
    return 0;
  }
  fuzz_touch_tensor(t);
  fuzz_check_ratio(t, size);
  ln_tensor_release(t);
  return 0;
}
