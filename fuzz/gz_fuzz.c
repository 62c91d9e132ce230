/*
** gz_fuzz.c: libFuzzer harness for the IDX reader on gzip files
** (core/idx.c). Mutated gzip bytes mostly fail zlib's checks before the
** IDX parser sees them, so an input that is not gzip is taken as an IDX
** file and gzipped here: the reader then inflates the mutated IDX, whole
** and cut in the middle. Input that starts with gzip's magic goes in as
** it is (forged and damaged streams, bombs).
*/
#include <zlib.h>

#include "fuzz.h"

static void read_one(const void *data, size_t size) {
  ln_tensor *t = ln_read_idx_memory(data, size, "fuzz.idx.gz");
  if (!t) {
    fuzz_check_error("fuzz.idx.gz");
    return;
  }
  fuzz_touch_tensor(t);
  fuzz_check_ratio(t, size);
  ln_tensor_release(t);
}

/* gzip of data into a malloc'd buffer; NULL if zlib fails. */
static unsigned char *gzip(const uint8_t *data, size_t size, size_t *out) {
  z_stream z = {0};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  size_t cap = deflateBound(&z, size) + 32;
  unsigned char *buf = malloc(cap);
  z.next_in = (unsigned char *)data;
  z.avail_in = (uInt)size;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  int rc = buf ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
  *out = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(buf);
    return NULL;
  }
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    read_one(data, size);
    return 0;
  }
  size_t n;
  unsigned char *gz = gzip(data, size, &n);
  if (!gz) fuzz_fail("gzip", "deflate failed");
  read_one(gz, n);
  read_one(gz, n / 2);
  free(gz);
  return 0;
}
