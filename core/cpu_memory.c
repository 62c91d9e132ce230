/*
** cpu_memory.c: moving bytes in and out of CPU storages (cpu_cache.c
** allocates them) and the strided row walker every CPU kernel uses.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

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
  parallel = parallel && numel >= CPU_PARALLEL_MIN &&
             cpu_free_threads(ln_get_num_threads()) > 1;
  if (!parallel) { /* no OpenMP region at all: even one with a false if
                   ** clause costs libgomp calls, a syscall among them */
    char *p[CPU_MAX_OPERANDS];
    for (int64_t r = 0; r < rows; r++) {
      row_pointers(&w, r, 0, p);
      row(p, s, inner, ctx);
    }
    return;
  }
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
