/*
** safetensors_fuzz.c: libFuzzer harness for the safetensors reader (core/
** safetensors.c), walked as luann.safetensors.load walks it (bindings/
** lformats.c): the header parsed and checked, then every tensor made and
** every metadata string read. The input is the file.
*/
#include "fuzz.h"

#define NAME "fuzz.safetensors"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ln_safetensors *f = ln_safetensors_open_memory(data, size, NAME);
  if (!f) {
    fuzz_check_error(NAME);
    return 0;
  }
  for (int64_t i = 0; i < ln_safetensors_count(f); i++) {
    fuzz_touch(ln_safetensors_name(f, i), strlen(ln_safetensors_name(f, i)));
    ln_tensor *t = ln_safetensors_tensor(f, i);
    if (!t) fuzz_fail("a checked tensor failed to load", ln_error_message());
    fuzz_touch_tensor(t);
    fuzz_check_ratio(t, size);
    ln_tensor_release(t);
  }
  for (int64_t i = 0; i < ln_safetensors_metadata_count(f); i++) {
    fuzz_touch(ln_safetensors_metadata_key(f, i), strlen(ln_safetensors_metadata_key(f, i)));
    fuzz_touch(ln_safetensors_metadata_value(f, i), strlen(ln_safetensors_metadata_value(f, i)));
  }
  ln_safetensors_close(f);
  return 0;
}
