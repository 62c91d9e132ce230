/*
** ckpt_fuzz.c: libFuzzer harness for the checkpoint reader (core/
** checkpoint.c), walked as luann.load walks it (bindings/lio.c).
**
** A mutated file almost always fails its CRCs, so the first input byte
** picks what the rest is:
**   bit 0 clear   the file as it is (header and checksum checks);
**   bit 0 set     a payload: the harness deflates it at level
**                 (byte >> 2) % 10 and writes a header with valid CRCs,
**                 so the record parser sees mutated records; with bit 1
**                 set, the next 8 bytes are the header's payload size
**                 (a lie the reader must catch) instead of the true one.
*/
#include <zlib.h>

#include "fuzz.h"

#define NAME "fuzz.ckp"

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* A checkpoint file around payload, in a malloc'd buffer (NULL: zlib
** failed). The format is at the top of core/checkpoint.c. */
static unsigned char *forge(const uint8_t *payload, size_t size,
                            uint64_t claimed, int level, size_t *out) {
  z_stream z = {0};
  if (deflateInit(&z, level) != Z_OK) return NULL;
  size_t cap = 40 + deflateBound(&z, size) + 32;
  unsigned char *f = malloc(cap);
  z.next_in = (unsigned char *)payload;
  z.avail_in = (uInt)size;
  z.next_out = f + 40;
  z.avail_out = (uInt)(cap - 40);
  int rc = f ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
  size_t stored = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(f);
    return NULL;
  }
  memcpy(f, "LUANNCKP", 8);
  put_le(f + 8, 1, 4);
  put_le(f + 12, 0, 4);
  put_le(f + 16, claimed, 8);
  put_le(f + 24, stored, 8);
  put_le(f + 32, crc32(0, f + 40, (uInt)stored), 4);
  put_le(f + 36, crc32(0, f, 36), 4);
  *out = 40 + stored;
  return f;
}

/* One value and everything under it; false once the reader failed. A
** tensor takes at most 1,100 times its file of size bytes; an empty one
** may span more, but no more than any tensor luann makes: 2^40 elements,
** empty dims counted as 1. */
static int walk(ln_ckpt_reader *r, size_t size) {
  ln_ckpt_item it;
  if (ln_ckpt_next(r, &it) != LN_OK) return 0;
  if (it.kind == LN_CKPT_STRING && it.len)
    fuzz_touch(it.str, it.len);
  if (it.kind == LN_CKPT_TENSOR) {
    fuzz_touch_tensor(it.tensor);
    if (ln_tensor_numel(it.tensor) > 0) fuzz_check_ratio(it.tensor, size);
    if (fuzz_extent(it.tensor) / ln_dtype_size(it.tensor->dtype) > (1ull << 40))
      fuzz_fail("a tensor", "over 2^40 elements, empty dims counted as 1");
    ln_tensor_release(it.tensor);
  }
  if (it.kind == LN_CKPT_TABLE)
    for (int64_t k = 0; k < it.i; k++)
      if (!walk(r, size) || !walk(r, size)) return 0;
  return 1;
}

static void load(const void *data, size_t size) {
  ln_ckpt_reader *r = ln_ckpt_reader_open_memory(data, size, NAME);
  int ok = r && walk(r, size) && ln_ckpt_reader_finish(r) == LN_OK;
  ln_ckpt_reader_close(r);
  if (!ok) fuzz_check_error(NAME);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  data++, size--;
  if (!(mode & 1)) {
    load(data, size);
    return 0;
  }
  uint64_t claimed = size;
  if (mode & 2) {
    if (size < 8) return 0;
    claimed = get_le64(data);
    data += 8, size -= 8;
  }
  size_t n;
  unsigned char *file = forge(data, size, claimed, (mode >> 2) % 10, &n);
  if (!file) fuzz_fail("forge", "deflate failed");
  load(file, n);
  free(file);
  return 0;
}
