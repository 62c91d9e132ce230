/*
** cpu_index.c: the CPU backend's indexing kernels: gather, scatter,
** index_select, index_add, masked_select and sort.
**
** gather-like kernels follow PyTorch's TensorIterator trick: the source is
** viewed with the index's shape and stride 0 along `dim`, so one walk over
** (out, source, index) finds every element at source + index * stride.
** scatter-like kernels do the same on the destination, with `dim` moved
** innermost, so each row of the walk is one whole fiber along `dim`: rows
** never write the same element, and they can run on several threads.
**
** Every index is range-checked in a first, sequential pass (in logical
** order, so the message names the first bad index whatever the threads
** do). Messages report indices and dims 1-based, as Lua users see them.
*/
#include <stdlib.h>
#include <string.h>

#include "op_cpu.h"

/* ---- views for the walker ----------------------------------------------- */

/* A header with t's storage, offset and dtype but another geometry; lives
** on the caller's stack (the walker reads nothing else). */
static ln_tensor restride(const ln_tensor *t, int ndim, const int64_t *shape,
                          const int64_t *stride) {
  ln_tensor v = *t;
  v.ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    v.shape[i] = shape[i];
    v.stride[i] = stride[i];
  }
  return v;
}

/* Moves dim to the end of t's dims (in place on a stack header). */
static void move_dim_last(ln_tensor *t, int dim) {
  int64_t size = t->shape[dim], stride = t->stride[dim];
  for (int i = dim; i < t->ndim - 1; i++) {
    t->shape[i] = t->shape[i + 1];
    t->stride[i] = t->stride[i + 1];
  }
  t->shape[t->ndim - 1] = size;
  t->stride[t->ndim - 1] = stride;
}

/* ---- range check -------------------------------------------------------- */

typedef struct range_ctx {
  int64_t size;
  bool found;
  int64_t bad;
} range_ctx;

static void range_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  range_ctx *c = ctx;
  const char *ix = p[0];
  for (int64_t i = 0; i < n && !c->found; i++, ix += s[0]) {
    int64_t v = *(const int64_t *)ix;
    if (v < 0 || v >= c->size) {
      c->found = true;
      c->bad = v;
    }
  }
}

/* Errors on the first index (in logical order) outside [0, size). */
static int check_range(const char *op, const ln_tensor *index, int dim,
                       int64_t size) {
  range_ctx c = {size, false, 0};
  const ln_tensor *ts[1] = {index};
  cpu_for_each(1, ts, range_row, &c, false);
  if (!c.found) return LN_OK;
  return ln_error("%s: index %lld is out of range for dim %d of size %lld", op,
                  (long long)c.bad + 1, dim + 1, (long long)size);
}

/* ---- gather and index_select -------------------------------------------- */

typedef struct gather_ctx {
  int64_t step; /* bytes between neighbours along dim in the source */
  size_t es;
} gather_ctx;

/* p[0] = out, p[1] = source at index 0 along dim, p[2] = int64 index. */
static void gather_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const gather_ctx *c = ctx;
  char *o = p[0], *a = p[1], *ix = p[2];
  if (c->es == 4 && s[0] == 4 && s[2] == 8) { /* float32, contiguous */
    float *of = (float *)o;
    const int64_t *iv = (const int64_t *)ix;
    for (int64_t i = 0; i < n; i++)
      of[i] = *(const float *)(a + i * s[1] + iv[i] * c->step);
    return;
  }
  for (int64_t i = 0; i < n; i++, o += s[0], a += s[1], ix += s[2]) {
    const char *src = a + *(const int64_t *)ix * c->step;
    switch (c->es) { /* fixed sizes compile to single moves */
      case 8: memcpy(o, src, 8); break;
      case 4: memcpy(o, src, 4); break;
      default: memcpy(o, src, c->es); break;
    }
  }
}

static void run_gather(ln_tensor *out, const ln_tensor *src,
                       const ln_tensor *idx, int64_t step) {
  gather_ctx c = {step, ln_dtype_size(out->dtype)};
  const ln_tensor *ts[3] = {out, src, idx};
  cpu_for_each(3, ts, gather_row, &c, true);
}

/* out[i][j][k] = a[i][index[i][j][k]][k] for dim 1; out has index's shape. */
int cpu_gather(ln_tensor *out, const ln_tensor *a, int dim,
               const ln_tensor *index) {
  if (check_range("gather", index, dim, a->shape[dim]) != LN_OK) return LN_ERR;
  int64_t stride[LN_MAX_DIMS];
  memcpy(stride, a->stride, sizeof stride);
  stride[dim] = 0;
  ln_tensor src = restride(a, index->ndim, index->shape, stride);
  run_gather(out, &src, index,
             a->stride[dim] * (int64_t)ln_dtype_size(a->dtype));
  return LN_OK;
}

/* out = a with dim's entries picked by the 1-D index: a gather whose index
** is broadcast along every other dim. */
/* Whole rows of a contiguous a, selected along dim 0 (a data loader's
** batches): one memcpy per index. The rows are scattered through a large
** data set, so each copy mostly waits on memory: the next row is
** prefetched while one is copied, and a big batch is split over threads,
** whose misses overlap. */
#define SELECT_PREFETCH_LINES 16 /* of the next row: its first 1 KiB */

typedef struct row_select {
  const char *base;
  char *out;
  const int64_t *ix;
  int64_t n, is;
  size_t row, lines;
} row_select;

/* Rows [first, last) of the selection (an ln_cpu_split range). */
static void select_range(void *ctx, int64_t first, int64_t last) {
  const row_select *g = ctx;
  for (int64_t i = first; i < last; i++) {
    if (i + 1 < g->n) {
      const char *next = g->base + (size_t)g->ix[(i + 1) * g->is] * g->row;
      for (size_t l = 0; l < g->lines; l++) __builtin_prefetch(next + 64 * l);
    }
    memcpy(g->out + (size_t)i * g->row, g->base + (size_t)g->ix[i * g->is] * g->row,
           g->row);
  }
}

/* Split over threads from 64 KiB a batch (a row's cost counted in bytes): the
** rows' misses overlap on two cores (64 rows of 784 floats: 22 to 19 us). */
static void select_rows(ln_tensor *out, const ln_tensor *a,
                        const ln_tensor *index) {
  row_select g = {ln_tensor_data(a), ln_tensor_data(out), ln_tensor_data(index),
                  index->shape[0], index->stride[0], 0, 0};
  g.row = (size_t)(ln_tensor_numel(a) / (a->shape[0] ? a->shape[0] : 1)) *
          ln_dtype_size(a->dtype);
  g.lines = g.row / 64 < SELECT_PREFETCH_LINES ? g.row / 64 : SELECT_PREFETCH_LINES;
  ln_cpu_split(select_range, &g, g.n, (int64_t)g.row);
}

int cpu_index_select(ln_tensor *out, const ln_tensor *a, int dim,
                     const ln_tensor *index) {
  if (check_range("index_select", index, dim, a->shape[dim]) != LN_OK)
    return LN_ERR;
  if (dim == 0 && ln_tensor_is_contiguous(a) && ln_tensor_is_contiguous(out)) {
    select_rows(out, a, index);
    return LN_OK;
  }
  int64_t astride[LN_MAX_DIMS], istride[LN_MAX_DIMS] = {0};
  memcpy(astride, a->stride, sizeof astride);
  astride[dim] = 0;
  istride[dim] = index->stride[0];
  ln_tensor src = restride(a, out->ndim, out->shape, astride);
  ln_tensor idx = restride(index, out->ndim, out->shape, istride);
  run_gather(out, &src, &idx,
             a->stride[dim] * (int64_t)ln_dtype_size(a->dtype));
  return LN_OK;
}

/* ---- scatter and index_add ---------------------------------------------- */

typedef struct scatter_ctx {
  int64_t step; /* bytes between neighbours along dim in out */
  ln_dtype dt;
  bool accumulate;
  double alpha;
} scatter_ctx;

/* p[0] = int64 index, p[1] = src, p[2] = out at index 0 along dim. */
static void scatter_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const scatter_ctx *c = ctx;
  char *ix = p[0], *src = p[1], *o = p[2];
  size_t es = ln_dtype_size(c->dt);
  if (!c->accumulate) {
    for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
      memcpy(o + *(const int64_t *)ix * c->step, src, es);
    return;
  }
  switch (c->dt) {
    case LN_FLOAT32: {
      float alpha = (float)c->alpha;
      for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
        *(float *)(o + *(const int64_t *)ix * c->step) += alpha * *(const float *)src;
      break;
    }
    case LN_FLOAT64:
      for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
        *(double *)(o + *(const int64_t *)ix * c->step) += c->alpha * *(const double *)src;
      break;
    case LN_INT64: {
      int64_t alpha = (int64_t)c->alpha;
      for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
        *(int64_t *)(o + *(const int64_t *)ix * c->step) += alpha * *(const int64_t *)src;
      break;
    }
    case LN_UINT8: { /* wraps around, as uint8 arithmetic does */
      uint8_t alpha = (uint8_t)(int64_t)c->alpha;
      for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
        *(uint8_t *)(o + *(const int64_t *)ix * c->step) += (uint8_t)(alpha * *(const uint8_t *)src);
      break;
    }
    case LN_BOOL: /* adding booleans is "or" */
      for (int64_t i = 0; i < n; i++, ix += s[0], src += s[1], o += s[2])
        if (c->alpha != 0 && *(const uint8_t *)src)
          *(uint8_t *)(o + *(const int64_t *)ix * c->step) = 1;
      break;
    default: break;
  }
}

/* Walks idx, src and dst (all of one shape, dst with stride 0 along dim)
** with dim innermost. Rows then own disjoint fibers of out, except when
** the walk is one single row, which the walker would cut into chunks. */
static void run_scatter(ln_tensor *idx, ln_tensor *src, ln_tensor *dst,
                        int dim, const scatter_ctx *c) {
  move_dim_last(idx, dim);
  move_dim_last(src, dim);
  move_dim_last(dst, dim);
  int64_t numel = ln_tensor_numel(idx), fiber = idx->shape[idx->ndim - 1];
  bool parallel = fiber <= 1 || numel / fiber > 1;
  const ln_tensor *ts[3] = {idx, src, dst};
  cpu_for_each(3, ts, scatter_row, (void *)c, parallel);
}

/* out[i][index[i][j][k]][k] (+)= src[i][j][k] for dim 1, over index's
** shape (src may be larger than index). */
int cpu_scatter(ln_tensor *out, int dim, const ln_tensor *index,
                const ln_tensor *src, bool accumulate) {
  const char *op = accumulate ? "scatter_add" : "scatter";
  if (check_range(op, index, dim, out->shape[dim]) != LN_OK)
    return LN_ERR;
  int64_t ostride[LN_MAX_DIMS];
  memcpy(ostride, out->stride, sizeof ostride);
  ostride[dim] = 0;
  ln_tensor idx = *index;
  ln_tensor s = restride(src, index->ndim, index->shape, src->stride);
  ln_tensor dst = restride(out, index->ndim, index->shape, ostride);
  scatter_ctx c = {out->stride[dim] * (int64_t)ln_dtype_size(out->dtype),
                   out->dtype, accumulate, 1.0};
  run_scatter(&idx, &s, &dst, dim, &c);
  return LN_OK;
}

/* out[..., index[j], ...] += alpha * src[..., j, ...] along dim: a scatter
** whose index is broadcast along every other dim of src. */
int cpu_index_add(ln_tensor *out, int dim, const ln_tensor *index,
                  const ln_tensor *src, double alpha) {
  if (check_range("index_add", index, dim, out->shape[dim]) != LN_OK)
    return LN_ERR;
  int64_t ostride[LN_MAX_DIMS], istride[LN_MAX_DIMS] = {0};
  memcpy(ostride, out->stride, sizeof ostride);
  ostride[dim] = 0;
  istride[dim] = index->stride[0];
  ln_tensor idx = restride(index, src->ndim, src->shape, istride);
  ln_tensor s = *src;
  ln_tensor dst = restride(out, src->ndim, src->shape, ostride);
  scatter_ctx c = {out->stride[dim] * (int64_t)ln_dtype_size(out->dtype),
                   out->dtype, true, alpha};
  run_scatter(&idx, &s, &dst, dim, &c);
  return LN_OK;
}

/* ---- masked_select ------------------------------------------------------ */

typedef struct select_ctx {
  char *next; /* where the next selected element goes */
  size_t es;
} select_ctx;

static void masked_select_row(char **p, const int64_t *s, int64_t n,
                              void *ctx) {
  select_ctx *c = ctx;
  const char *a = p[0], *m = p[1];
  for (int64_t i = 0; i < n; i++, a += s[0], m += s[1]) {
    if (!*(const uint8_t *)m) continue;
    memcpy(c->next, a, c->es);
    c->next += c->es;
  }
}

/* out = the elements of a where mask is true, in row-major order. One
** thread: the order of the output is the order of the walk. */
int cpu_masked_select(ln_tensor *out, const ln_tensor *a,
                      const ln_tensor *mask) {
  select_ctx c = {ln_tensor_data(out), ln_dtype_size(a->dtype)};
  const ln_tensor *ts[2] = {a, mask};
  cpu_for_each(2, ts, masked_select_row, &c, false);
  return LN_OK;
}

/* ---- sort --------------------------------------------------------------- */

/* A key and its position; int64 keys compare exactly, the others as
** doubles (exact for float32, float64, uint8 and bool). */
typedef struct sort_item {
  union {
    double f;
    int64_t i;
  } key;
  int64_t pos;
} sort_item;

/* NaN sorts above every number, as in PyTorch; ties keep their order
** (the position decides), which makes qsort stable. */
static int cmp_float(const sort_item *x, const sort_item *y, int dir) {
  double a = x->key.f, b = y->key.f;
  bool an = a != a, bn = b != b;
  if (an != bn) return an ? dir : -dir;
  if (!an && a != b) return a < b ? -dir : dir;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_float_asc(const void *x, const void *y) { return cmp_float(x, y, 1); }
static int cmp_float_desc(const void *x, const void *y) { return cmp_float(x, y, -1); }

static int cmp_int(const sort_item *x, const sort_item *y, int dir) {
  int64_t a = x->key.i, b = y->key.i;
  if (a != b) return a < b ? -dir : dir;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_int_asc(const void *x, const void *y) { return cmp_int(x, y, 1); }
static int cmp_int_desc(const void *x, const void *y) { return cmp_int(x, y, -1); }

/* Element offset (in elements) of the first entry of slice r of t, slices
** running over every dim but `dim` in row-major order. */
static int64_t slice_offset(const ln_tensor *t, int dim, int64_t r) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (d == dim) continue;
    off += (r % t->shape[d]) * t->stride[d];
    r /= t->shape[d];
  }
  return off;
}

typedef struct sort_job {
  ln_tensor *values, *indices;
  const ln_tensor *a;
  int dim;
  bool descending;
} sort_job;

static void sort_slice(const sort_job *j, int64_t r, sort_item *items) {
  const ln_tensor *a = j->a;
  int64_t n = a->shape[j->dim];
  size_t es = ln_dtype_size(a->dtype);
  const char *src = (const char *)a->storage->data +
                    slice_offset(a, j->dim, r) * (int64_t)es;
  int64_t as = a->stride[j->dim] * (int64_t)es;
  bool is_int = a->dtype == LN_INT64;
  for (int64_t i = 0; i < n; i++) {
    if (is_int) items[i].key.i = *(const int64_t *)(src + i * as);
    else items[i].key.f = cpu_load(a->dtype, src + i * as);
    items[i].pos = i;
  }
  int (*cmp)(const void *, const void *) =
      is_int ? (j->descending ? cmp_int_desc : cmp_int_asc)
             : (j->descending ? cmp_float_desc : cmp_float_asc);
  qsort(items, (size_t)n, sizeof *items, cmp);
  char *v = (char *)j->values->storage->data +
            slice_offset(j->values, j->dim, r) * (int64_t)es;
  int64_t *ix = (int64_t *)j->indices->storage->data +
                slice_offset(j->indices, j->dim, r);
  int64_t vs = j->values->stride[j->dim] * (int64_t)es;
  int64_t is = j->indices->stride[j->dim];
  for (int64_t i = 0; i < n; i++) {
    memcpy(v + i * vs, src + items[i].pos * as, es); /* exact values */
    ix[i * is] = items[i].pos;
  }
}

/* Sorts every slice along dim on its own; slices are shared out among
** threads, each with its own scratch. */
int cpu_sort(ln_tensor *values, ln_tensor *indices, const ln_tensor *a,
             int dim, bool descending) {
  int64_t n = a->shape[dim], numel = ln_tensor_numel(a);
  if (numel == 0) return LN_OK;
  int64_t slices = numel / n;
  sort_job j = {values, indices, a, dim, descending};
  int failed = 0;
#pragma omp parallel if (slices > 1 && numel >= CPU_PARALLEL_MIN)
  {
    sort_item *items = malloc((size_t)n * sizeof *items);
    if (!items) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t r = 0; r < slices; r++)
      if (items) sort_slice(&j, r, items);
    free(items);
  }
  if (failed) return ln_error("sort: out of memory sorting %lld values",
                              (long long)n);
  return LN_OK;
}
