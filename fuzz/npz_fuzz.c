/*
** npz_fuzz.c: libFuzzer harness for the .npz reader (core/npz.c): libzip
** on the archive, members' claimed sizes, inflating, and each member as a
** .npy file. The input is the archive; every array in it is loaded, as
** luann.numpy.load does.
*/
#include "fuzz.h"

#define NAME "fuzz.npz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ln_npz *z = ln_npz_open_memory(data, size, NAME);
  if (!z) {
    fuzz_check_error(NAME);
    return 0;
  }
  for (int64_t i = 0; i < ln_npz_count(z); i++) {
    fuzz_touch(ln_npz_name(z, i), strlen(ln_npz_name(z, i)));
    ln_tensor *t = ln_npz_tensor(z, i);
    if (!t) {
      fuzz_check_error(NAME);
      continue;
    }
    fuzz_touch_tensor(t);
    fuzz_check_ratio(t, size);
    ln_tensor_release(t);
  }
  ln_npz_close(z);
  return 0;
}
