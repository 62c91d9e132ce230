/*
** cpu_memory.c: the CPU backend's memory, the strided row walker every CPU
** kernel uses, and copy/fill across dtypes.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* 64-byte alignment suits AVX-512 loads and BLIS's packing. */
int cpu_storage_alloc(ln_storage *s, size_t nbytes) {
  size_t size = (nbytes + 63) / 64 * 64;
  s->data = aligned_alloc(64, size ? size : 64);
  if (!s->data)
    return ln_error("out of memory allocating %zu bytes", nbytes);
  return LN_OK;
}

void cpu_storage_free(ln_storage *s) { free(s->data); }

int cpu_write(ln_storage *s, size_t offset, const void *src, size_t n) {
  if (n) memcpy((char *)s->data + offset, src, n);
  return LN_OK;
}

int cpu_read(ln_storage *s, size_t offset, void *dst, size_t n) {
  if (n) memcpy(dst, (char *)s->data + offset, n);
  return LN_OK;
}

char *cpu_element(const ln_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return (char *)t->storage->data + off * (int64_t)ln_dtype_size(t->dtype);
}

/* ---- the row walker ----------------------------------------------------- */

typedef struct walk {
  int nops, ndim;                      /* ndim >= 1 after coalescing */
  int64_t shape[LN_MAX_DIMS];
  int64_t stride[CPU_MAX_OPERANDS][LN_MAX_DIMS]; /* bytes */
  char *base[CPU_MAX_OPERANDS];
} walk;

static void walk_init(walk *w, int nops, const ln_tensor *const *ts) {
  const ln_tensor *t0 = ts[0];
  w->nops = nops;
  w->ndim = 0;
  for (int i = 0; i < nops; i++)
    w->base[i] = (char *)ts[i]->storage->data +
                 ts[i]->offset * (int64_t)ln_dtype_size(ts[i]->dtype);
  for (int d = 0; d < t0->ndim; d++) {
    if (t0->shape[d] == 1) continue;
    int k = w->ndim;
    bool merge = k > 0;
    for (int i = 0; i < nops && merge; i++) {
      int64_t es = (int64_t)ln_dtype_size(ts[i]->dtype);
      merge = w->stride[i][k - 1] == ts[i]->stride[d] * es * t0->shape[d];
    }
    if (merge) { /* the previous dim flows into this one: fold it in */
      w->shape[k - 1] *= t0->shape[d];
      for (int i = 0; i < nops; i++)
        w->stride[i][k - 1] = ts[i]->stride[d] * (int64_t)ln_dtype_size(ts[i]->dtype);
      continue;
    }
    w->shape[k] = t0->shape[d];
    for (int i = 0; i < nops; i++)
      w->stride[i][k] = ts[i]->stride[d] * (int64_t)ln_dtype_size(ts[i]->dtype);
    w->ndim++;
  }
  if (w->ndim == 0) { /* a single element */
    w->ndim = 1;
    w->shape[0] = 1;
    for (int i = 0; i < nops; i++) w->stride[i][0] = 0;
  }
}

/* Pointers to the start of outer row r, elements [from, ...) of it. */
static void row_pointers(const walk *w, int64_t r, int64_t from, char **p) {
  for (int i = 0; i < w->nops; i++)
    p[i] = w->base[i] + from * w->stride[i][w->ndim - 1];
  for (int d = w->ndim - 2; d >= 0; d--) {
    int64_t idx = r % w->shape[d];
    r /= w->shape[d];
    for (int i = 0; i < w->nops; i++) p[i] += idx * w->stride[i][d];
  }
}

void cpu_for_each(int nops, const ln_tensor *const *ts, cpu_row_fn row,
                  void *ctx, bool parallel) {
  int64_t numel = ln_tensor_numel(ts[0]);
  if (numel == 0) return;
  walk w;
  walk_init(&w, nops, ts);
  int64_t inner = w.shape[w.ndim - 1], rows = numel / inner;
  int64_t s[CPU_MAX_OPERANDS];
  for (int i = 0; i < nops; i++) s[i] = w.stride[i][w.ndim - 1];
  parallel = parallel && numel >= CPU_PARALLEL_MIN;
  if (rows == 1) { /* one long row: cut it into chunks */
    int64_t chunk = parallel ? 16384 : inner, nchunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for if (parallel && nchunks > 1) schedule(static)
    for (int64_t c = 0; c < nchunks; c++) {
      char *p[CPU_MAX_OPERANDS];
      int64_t from = c * chunk, n = inner - from < chunk ? inner - from : chunk;
      row_pointers(&w, 0, from, p);
      row(p, s, n, ctx);
    }
    return;
  }
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    char *p[CPU_MAX_OPERANDS];
    row_pointers(&w, r, 0, p);
    row(p, s, inner, ctx);
  }
}

/* ---- copy and fill ------------------------------------------------------ */

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
