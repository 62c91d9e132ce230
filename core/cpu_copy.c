/*
** cpu_copy.c: copy and fill across dtypes, on the row walker.
*/
#include <string.h>

#include "cpu.h"

typedef struct copy_ctx {
  ln_dtype to, from;
} copy_ctx;

static void copy_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const copy_ctx *c = ctx;
  size_t es = ln_dtype_size(c->to);
  char *d = p[0], *a = p[1];
  if (c->to == c->from) {
    if (s[0] == (int64_t)es && s[1] == (int64_t)es) {
      memcpy(d, a, (size_t)n * es);
      return;
    }
    for (int64_t i = 0; i < n; i++, d += s[0], a += s[1]) memcpy(d, a, es);
    return;
  }
  if (c->to == LN_FLOAT32 && c->from == LN_UINT8) { /* image bytes */
    if (s[0] == sizeof(float) && s[1] == 1) { /* indexed, so that it vectorizes */
      float *df = (float *)d;
      const uint8_t *ab = (const uint8_t *)a;
      for (int64_t i = 0; i < n; i++) df[i] = ab[i];
      return;
    }
    for (int64_t i = 0; i < n; i++, d += s[0], a += s[1])
      *(float *)d = *(const uint8_t *)a;
    return;
  }
  for (int64_t i = 0; i < n; i++, d += s[0], a += s[1])
    cpu_store(c->to, d, cpu_load(c->from, a));
}

int cpu_copy(ln_tensor *dst, const ln_tensor *src) {
  copy_ctx c = {dst->dtype, src->dtype};
  const ln_tensor *ts[2] = {dst, src};
  cpu_for_each(2, ts, copy_row, &c, true);
  return LN_OK;
}

typedef struct fill_ctx {
  ln_dtype dt;
  union {
    char bytes[8];
    float f32;
    int64_t i64;
  } value; /* aligned for any element type */
} fill_ctx;

static void fill_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const fill_ctx *c = ctx;
  size_t es = ln_dtype_size(c->dt);
  char *d = p[0];
  if (c->dt == LN_FLOAT32 && s[0] == 4) {
    float v = c->value.f32;
    for (int64_t i = 0; i < n; i++) ((float *)d)[i] = v;
    return;
  }
  for (int64_t i = 0; i < n; i++, d += s[0]) memcpy(d, c->value.bytes, es);
}

int cpu_fill(ln_tensor *dst, double value) {
  fill_ctx c = {dst->dtype, {{0}}};
  cpu_store(dst->dtype, c.value.bytes, value);
  const ln_tensor *ts[1] = {dst};
  cpu_for_each(1, ts, fill_row, &c, true);
  return LN_OK;
}
