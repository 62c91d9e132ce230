/*
** cpu_reduce.c: the CPU backend's reductions (sum, mean, prod, max, min,
** argmax, argmin, logsumexp, any, all) and (log_)softmax.
**
** Both entries see a problem the same way: an "out space" (every dim but
** the reduced one, coalesced like cpu_for_each does) and a reduced dim of R
** elements. The out space is cut into blocks of neighbouring outputs along
** its innermost dim, and each block is done in one of two orders:
** - row order: each output reads its R inputs as one run (the reduced dim
**   is the more contiguous one: row sums, softmax over the last dim);
** - column order: R passes over the block's outputs, accumulating into a
**   small vector (the reduced dim is the outer one: the bias gradient sums
**   an (N,C) matrix over N by walking its rows, never down its columns).
** When there are fewer blocks than threads and a lot to read (a sum of all
** elements), the reduced dim itself is split over the threads and the
** partial results are merged in index order.
**
** Float sums, means and products accumulate in double, so 1e7 float32 ones
** sum to exactly 1e7; int64 sums wrap like C's unsigned arithmetic.
*/
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "exp_f32.h"
#include "shape.h"

/* Outputs per block at most: column order sweeps whole rows of up to this
** many values (shorter sweeps visit a new page per row and thrash the TLB),
** with accumulators on the stack (about 50 KB). */
#define CHUNK 1024
#define NOPS 3    /* a, out, idx */

/* ---- geometry ----------------------------------------------------------- */

typedef struct geom {
  int nops, ndim;                  /* out-space dims after coalescing, >= 1 */
  int64_t shape[LN_MAX_DIMS];
  int64_t st[NOPS][LN_MAX_DIMS];   /* byte strides over the out space */
  int64_t R, rs[NOPS];             /* reduced size; byte strides along it */
  char *base[NOPS];
  bool column;                     /* column order (else row order) */
  int64_t chunk, nchunks, nblocks; /* blocks along the innermost dim */
} geom;

static int64_t byte_stride(const ln_tensor *t, int d) {
  return t->stride[d] * (int64_t)ln_dtype_size(t->dtype);
}

/* Adds out-space dim d of every operand, merged into the previous dim when
** that one flows into it in all operands. */
static void geom_add_dim(geom *g, const ln_tensor *const *ts, int d) {
  int k = g->ndim;
  int64_t n = ts[0]->shape[d];
  bool merge = k > 0;
  for (int i = 0; i < g->nops && merge; i++)
    merge = g->st[i][k - 1] == byte_stride(ts[i], d) * n;
  if (merge) {
    g->shape[k - 1] *= n;
    for (int i = 0; i < g->nops; i++) g->st[i][k - 1] = byte_stride(ts[i], d);
    return;
  }
  g->shape[k] = n;
  for (int i = 0; i < g->nops; i++) g->st[i][k] = byte_stride(ts[i], d);
  g->ndim++;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* ts[0] is the input; every other operand has its shape, except that a
** reduction's outputs have size 1 along dim. */
static void geom_init(geom *g, int nops, const ln_tensor *const *ts, int dim) {
  const ln_tensor *a = ts[0];
  g->nops = nops;
  g->ndim = 0;
  g->R = a->ndim ? a->shape[dim] : 1;
  for (int i = 0; i < nops; i++) {
    g->base[i] = ln_tensor_data(ts[i]);
    g->rs[i] = ts[i]->ndim && ts[i]->shape[dim] > 1 ? byte_stride(ts[i], dim) : 0;
  }
  for (int d = 0; d < a->ndim; d++)
    if (d != dim && a->shape[d] != 1) geom_add_dim(g, ts, d);
  if (g->ndim == 0) { /* a single output */
    g->ndim = 1;
    g->shape[0] = 1;
    for (int i = 0; i < nops; i++) g->st[i][0] = 0;
  }
  int64_t inner = g->shape[g->ndim - 1];
  int64_t inner_st = abs64(g->st[0][g->ndim - 1]);
  g->column = inner > 1 && g->R > 1 && inner_st < abs64(g->rs[0]);
  int64_t threads = omp_get_max_threads();
  g->chunk = CHUNK;
  if (!g->column) { /* rows are independent: smaller blocks balance threads */
    g->chunk = inner / (4 * threads);
    g->chunk = g->chunk < 1 ? 1 : g->chunk > 256 ? 256 : g->chunk;
  }
  g->nchunks = (inner + g->chunk - 1) / g->chunk;
  g->nblocks = ln_shape_numel(g->ndim, g->shape) / inner * g->nchunks;
}

/* Pointers to the first output of block b (and its size). */
static int64_t block_start(const geom *g, int64_t b, char **p) {
  int64_t o = b / g->nchunks, i0 = b % g->nchunks * g->chunk;
  int64_t inner = g->shape[g->ndim - 1];
  for (int i = 0; i < g->nops; i++) p[i] = g->base[i] + i0 * g->st[i][g->ndim - 1];
  for (int d = g->ndim - 2; d >= 0; d--) {
    int64_t idx = o % g->shape[d];
    o /= g->shape[d];
    for (int i = 0; i < g->nops; i++) p[i] += idx * g->st[i][d];
  }
  return inner - i0 < g->chunk ? inner - i0 : g->chunk;
}

/* ---- accumulators ------------------------------------------------------- */

/* The running state of one output. Float inputs use v (and s), integer
** inputs (int64, uint8, bool) use n, so int64 stays exact. */
typedef struct racc {
  double v;     /* sum, product, extreme value, or logsumexp's running max */
  double s;     /* logsumexp: sum of exp(x - v) */
  int64_t n;    /* integer sum/product/extreme; any/all's flag */
  int64_t arg;  /* index of the extreme, -1 before the first element */
} racc;

typedef struct rplan {
  geom g;
  ln_reduce_op op;
  ln_dtype dt, odt;  /* input and output dtypes */
  bool isfloat;
} rplan;

static void acc_init(ln_reduce_op op, racc *c) {
  c->v = op == LN_REDUCE_PROD ? 1 : op == LN_REDUCE_LOGSUMEXP ? -INFINITY : 0;
  c->s = 0;
  c->n = op == LN_REDUCE_PROD || op == LN_REDUCE_ALL ? 1 : 0;
  c->arg = -1;
}

static bool is_max(ln_reduce_op op) {
  return op == LN_REDUCE_MAX || op == LN_REDUCE_ARGMAX;
}

/* Whether x (at index k) replaces the extreme so far: strictly better, or
** the first NaN (NaN propagates, as in PyTorch); ties keep the first. */
static inline bool better_float(bool max, double x, double best, int64_t arg) {
  if (arg < 0) return true;
  if (x != x) return best == best;
  return max ? x > best : x < best;
}

static inline bool better_int(bool max, int64_t x, int64_t best, int64_t arg) {
  return arg < 0 || (max ? x > best : x < best);
}

/* logsumexp's state (v, s) means exp(v) * s; adding exp(x) keeps v the max. */
static inline void lse_fold(racc *c, double x) {
  if (x == -INFINITY) return;
  if (x == c->v) {
    c->s += 1;
  } else if (x > c->v) {
    c->s = c->s * exp(c->v - x) + 1;
    c->v = x;
  } else {
    c->s += exp(x - c->v); /* NaN x lands here and poisons s */
  }
}

static inline void fold_float(ln_reduce_op op, racc *c, double x, int64_t k) {
  switch (op) {
    case LN_REDUCE_SUM: case LN_REDUCE_MEAN: c->v += x; break;
    case LN_REDUCE_PROD: c->v *= x; break;
    case LN_REDUCE_MAX: case LN_REDUCE_ARGMAX:
    case LN_REDUCE_MIN: case LN_REDUCE_ARGMIN:
      if (better_float(is_max(op), x, c->v, c->arg)) c->v = x, c->arg = k;
      break;
    case LN_REDUCE_LOGSUMEXP: lse_fold(c, x); break;
    case LN_REDUCE_ANY: c->n |= x != 0; break;
    case LN_REDUCE_ALL: c->n &= x != 0; break;
    default: break;
  }
}

static inline void fold_int(ln_reduce_op op, racc *c, int64_t x, int64_t k) {
  switch (op) {
    case LN_REDUCE_SUM: c->n = (int64_t)((uint64_t)c->n + (uint64_t)x); break;
    case LN_REDUCE_PROD: c->n = (int64_t)((uint64_t)c->n * (uint64_t)x); break;
    case LN_REDUCE_MAX: case LN_REDUCE_ARGMAX:
    case LN_REDUCE_MIN: case LN_REDUCE_ARGMIN:
      if (better_int(is_max(op), x, c->n, c->arg)) c->n = x, c->arg = k;
      break;
    case LN_REDUCE_ANY: c->n |= x != 0; break;
    case LN_REDUCE_ALL: c->n &= x != 0; break;
    default: break; /* mean and logsumexp take float input only */
  }
}

static inline int64_t load_int(ln_dtype dt, const char *x) {
  if (dt == LN_INT64) return *(const int64_t *)x;
  if (dt == LN_UINT8) return *(const uint8_t *)x;
  return *(const uint8_t *)x != 0;
}

static inline void fold(const rplan *p, racc *c, const char *x, int64_t k) {
  if (p->dt == LN_FLOAT32) fold_float(p->op, c, *(const float *)x, k);
  else if (p->dt == LN_FLOAT64) fold_float(p->op, c, *(const double *)x, k);
  else fold_int(p->op, c, load_int(p->dt, x), k);
}

/* c = c then b, where b covers later indices than c. */
static void acc_merge(const rplan *p, racc *c, const racc *b) {
  ln_reduce_op op = p->op;
  switch (op) {
    case LN_REDUCE_SUM: case LN_REDUCE_MEAN: case LN_REDUCE_PROD:
      if (p->isfloat) c->v = op == LN_REDUCE_PROD ? c->v * b->v : c->v + b->v;
      else fold_int(op, c, b->n, 0);
      break;
    case LN_REDUCE_LOGSUMEXP:
      if (b->v == -INFINITY) break;
      if (b->v == c->v) c->s += b->s;
      else if (b->v > c->v) c->s = c->s * exp(c->v - b->v) + b->s, c->v = b->v;
      else c->s += b->s * exp(b->v - c->v);
      break;
    case LN_REDUCE_ANY: c->n |= b->n; break;
    case LN_REDUCE_ALL: c->n &= b->n; break;
    default: /* the extremes */
      if (b->arg < 0) break;
      if (p->isfloat ? better_float(is_max(op), b->v, c->v, c->arg)
                     : better_int(is_max(op), b->n, c->n, c->arg))
        *c = *b;
      break;
  }
}

static void store_int(ln_dtype dt, char *o, int64_t v) {
  if (dt == LN_INT64) *(int64_t *)o = v;
  else *(uint8_t *)o = dt == LN_BOOL ? v != 0 : (uint8_t)v;
}

/* Writes one finished output (and its index for max/min with idx). */
static void acc_store(const rplan *p, const racc *c, char *o, char *ix) {
  switch (p->op) {
    case LN_REDUCE_SUM: case LN_REDUCE_PROD:
      if (p->isfloat) cpu_store(p->odt, o, c->v);
      else *(int64_t *)o = c->n;
      break;
    case LN_REDUCE_MEAN: cpu_store(p->odt, o, c->v / (double)p->g.R); break;
    case LN_REDUCE_LOGSUMEXP:
      cpu_store(p->odt, o, c->s != c->s      ? NAN
                           : c->v == -INFINITY ? -INFINITY
                                               : c->v + log(c->s));
      break;
    case LN_REDUCE_ANY: case LN_REDUCE_ALL: *(uint8_t *)o = c->n != 0; break;
    case LN_REDUCE_ARGMAX: case LN_REDUCE_ARGMIN: *(int64_t *)o = c->arg; break;
    default: /* max, min */
      if (p->isfloat) cpu_store(p->odt, o, c->v);
      else store_int(p->odt, o, c->n);
      if (ix) *(int64_t *)ix = c->arg;
      break;
  }
}

/* ---- float32 fast paths -------------------------------------------------- */

/* Eight independent double accumulators keep the adds pipelined. */
static double sum_f32(const float *x, int64_t n) {
  double s[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) s[j] += x[i + j];
  for (; i < n; i++) s[0] += x[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static double sum_f64(const double *x, int64_t n) {
  double s[4] = {0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; j++) s[j] += x[i + j];
  for (; i < n; i++) s[0] += x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Max (or min) of a run, in a form the compiler vectorizes; NaNs are
** found by a separate test. */
static float max_f32(const float *x, int64_t n) {
  float m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static float min_f32(const float *x, int64_t n) {
  float m = x[0];
#pragma omp simd reduction(min : m)
  for (int64_t i = 1; i < n; i++) m = x[i] < m ? x[i] : m;
  return m;
}

static bool has_nan_f32(const float *x, int64_t n) {
  int nan = 0;
#pragma omp simd reduction(| : nan)
  for (int64_t i = 0; i < n; i++) nan |= x[i] != x[i];
  return nan;
}

/* Max or min of a run into c; x[i] has index k0 + i. The first NaN wins;
** else the first element equal to the extreme. */
static void extreme_f32(bool max, const float *x, int64_t n, int64_t k0,
                        racc *c) {
  if (n == 0) return;
  bool nan = has_nan_f32(x, n);
  float best = nan ? NAN : max ? max_f32(x, n) : min_f32(x, n);
  int64_t arg = 0;
  while (nan ? x[arg] == x[arg] : x[arg] != best) arg++;
  racc r = {best, 0, 0, k0 + arg};
  rplan p = {.op = max ? LN_REDUCE_MAX : LN_REDUCE_MIN, .isfloat = true};
  acc_merge(&p, c, &r);
}

/* y[i] = exp(x[i] - m) for a run (every x[i] - m <= 0). */
static void exp_shifted_f32(const float *x, float *y, int64_t n, float m) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = ln_exp_neg_f32(x[i] - m);
}

/* logsumexp of a run as a (max, sum of exp) state merged into c. */
static void lse_f32(const float *x, int64_t n, racc *c) {
  if (n == 0) return;
  float m = max_f32(x, n), e[CHUNK];
  racc r = {m, 0, 0, 0};
  if (has_nan_f32(x, n)) {
    r.v = r.s = NAN; /* poisons whatever it is merged into */
  } else if (m == INFINITY || m == -INFINITY) {
    for (int64_t i = 0; i < n; i++) r.s += x[i] == m;
  } else {
    for (int64_t i = 0; i < n; i += CHUNK) {
      int64_t len = n - i < CHUNK ? n - i : CHUNK;
      exp_shifted_f32(x + i, e, len, m);
      r.s += sum_f32(e, len);
    }
  }
  rplan p = {.op = LN_REDUCE_LOGSUMEXP, .isfloat = true};
  acc_merge(&p, c, &r);
}

/* Row order: output j reads its inputs at x + k*rs, k in [k0, k1). */
static void rows_fold(const rplan *p, const char *x, int64_t k0, int64_t k1,
                      racc *c) {
  int64_t rs = p->g.rs[0], n = k1 - k0;
  const char *at = x + k0 * rs;
  ln_reduce_op op = p->op;
  if (p->dt == LN_FLOAT32 && (rs == 4 || n == 1)) {
    if (op == LN_REDUCE_SUM || op == LN_REDUCE_MEAN) {
      c->v += sum_f32((const float *)at, n);
      return;
    }
    if (op == LN_REDUCE_MAX || op == LN_REDUCE_MIN || op == LN_REDUCE_ARGMAX ||
        op == LN_REDUCE_ARGMIN) {
      extreme_f32(is_max(op), (const float *)at, n, k0, c);
      return;
    }
    if (op == LN_REDUCE_LOGSUMEXP) {
      lse_f32((const float *)at, n, c);
      return;
    }
  }
  if (p->dt == LN_FLOAT64 && rs == 8 &&
      (op == LN_REDUCE_SUM || op == LN_REDUCE_MEAN)) {
    c->v += sum_f64((const double *)at, n);
    return;
  }
  for (int64_t k = k0; k < k1; k++, at += rs) fold(p, c, at, k);
}

/* Column order, float32 inputs side by side: sums and extremes. */
static bool cols_fold_f32(const rplan *p, const char *x, int64_t m,
                          int64_t k0, int64_t k1, racc *c) {
  ln_reduce_op op = p->op;
  int64_t rs = p->g.rs[0];
  if (op == LN_REDUCE_SUM || op == LN_REDUCE_MEAN) {
    double s[CHUNK];
    for (int64_t j = 0; j < m; j++) s[j] = 0; /* not all CHUNK: blocks may be small */
    for (int64_t k = k0; k < k1; k++) {
      const float *row = (const float *)(x + k * rs);
#pragma omp simd
      for (int64_t j = 0; j < m; j++) s[j] += row[j];
    }
    for (int64_t j = 0; j < m; j++) c[j].v += s[j];
    return true;
  }
  if (op == LN_REDUCE_LOGSUMEXP || op == LN_REDUCE_PROD || op == LN_REDUCE_ANY ||
      op == LN_REDUCE_ALL || k1 == k0)
    return false;
  bool max = is_max(op);
  float best[CHUNK];
  int64_t arg[CHUNK];
  const float *row = (const float *)(x + k0 * rs);
  for (int64_t j = 0; j < m; j++) best[j] = row[j], arg[j] = k0;
  for (int64_t k = k0 + 1; k < k1; k++) {
    row = (const float *)(x + k * rs);
    for (int64_t j = 0; j < m; j++) {
      float v = row[j];
      bool take = max ? v > best[j] : v < best[j];
      take |= v != v && best[j] == best[j];
      best[j] = take ? v : best[j];
      arg[j] = take ? k : arg[j];
    }
  }
  for (int64_t j = 0; j < m; j++) {
    racc r = {best[j], 0, 0, arg[j]};
    acc_merge(p, &c[j], &r);
  }
  return true;
}

/* ---- the reduce entry ---------------------------------------------------- */

/* Folds inputs [k0, k1) of the m outputs of a block starting at x. */
static void block_fold(const rplan *p, const char *x, int64_t m, int64_t k0,
                       int64_t k1, racc *c) {
  const geom *g = &p->g;
  int64_t is = g->st[0][g->ndim - 1], rs = g->rs[0];
  if (!g->column) {
    for (int64_t j = 0; j < m; j++) rows_fold(p, x + j * is, k0, k1, &c[j]);
    return;
  }
  if (p->dt == LN_FLOAT32 && is == 4 && cols_fold_f32(p, x, m, k0, k1, c))
    return;
  for (int64_t k = k0; k < k1; k++) {
    const char *row = x + k * rs;
    for (int64_t j = 0; j < m; j++) fold(p, &c[j], row + j * is, k);
  }
}

static void block_store(const rplan *p, char **ptr, int64_t m, const racc *c) {
  const geom *g = &p->g;
  int last = g->ndim - 1;
  for (int64_t j = 0; j < m; j++)
    acc_store(p, &c[j], ptr[1] + j * g->st[1][last],
              g->nops > 2 ? ptr[2] + j * g->st[2][last] : NULL);
}

/* Every block on its own: the common case. */
static void reduce_blocks(const rplan *p, bool parallel) {
  CPU_FOR(parallel ? omp_get_max_threads() : 1, b, p->g.nblocks, {
    char *ptr[NOPS];
    racc c[CHUNK];
    int64_t m = block_start(&p->g, b, ptr);
    for (int64_t j = 0; j < m; j++) acc_init(p->op, &c[j]);
    block_fold(p, ptr[0], m, 0, p->g.R, c);
    block_store(p, ptr, m, c);
  });
}

/* Few blocks, long reductions: nparts threads each fold a slice of the
** reduced dim, then the slices are merged in order. */
static int reduce_split(const rplan *p, int nparts) {
  const geom *g = &p->g;
  int64_t nb = g->nblocks, slice = (g->R + nparts - 1) / nparts;
  racc *part = malloc((size_t)(nb * nparts * g->chunk) * sizeof *part);
  if (!part) return ln_error("reduce: out of memory");
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < nb * nparts; t++) {
    char *ptr[NOPS];
    int64_t b = t / nparts, k0 = t % nparts * slice;
    int64_t k1 = k0 + slice < g->R ? k0 + slice : g->R;
    int64_t m = block_start(g, b, ptr);
    racc *c = part + t * g->chunk;
    for (int64_t j = 0; j < m; j++) acc_init(p->op, &c[j]);
    if (k0 < k1) block_fold(p, ptr[0], m, k0, k1, c);
  }
  for (int64_t b = 0; b < nb; b++) {
    char *ptr[NOPS];
    int64_t m = block_start(g, b, ptr);
    racc *c = part + b * nparts * g->chunk;
    for (int q = 1; q < nparts; q++)
      for (int64_t j = 0; j < m; j++) acc_merge(p, &c[j], &c[q * g->chunk + j]);
    block_store(p, ptr, m, c);
  }
  free(part);
  return LN_OK;
}

int cpu_reduce(ln_reduce_op op, ln_tensor *out, ln_tensor *idx,
               const ln_tensor *a, int dim) {
  rplan p = {.op = op, .dt = a->dtype, .odt = out->dtype,
             .isfloat = ln_dtype_is_float(a->dtype)};
  const ln_tensor *ts[NOPS] = {a, out, idx};
  if (ln_tensor_numel(out) == 0) return LN_OK;
  geom_init(&p.g, idx ? 3 : 2, ts, dim);
  int64_t numel = ln_tensor_numel(a);
  int threads = omp_get_max_threads();
  bool parallel = numel >= CPU_PARALLEL_MIN;
  if (parallel && threads > 1 && p.g.nblocks < threads &&
      p.g.R >= 4 * CPU_PARALLEL_MIN / threads)
    return reduce_split(&p, threads);
  reduce_blocks(&p, parallel && p.g.nblocks > 1);
  return LN_OK;
}

/* ---- softmax ------------------------------------------------------------- */

/* y = softmax(x) or log_softmax(x) of one contiguous float32 row; y
** holds the exponentials in between. */
static void softmax_row_f32(const float *x, float *y, int64_t n, bool logp) {
  float m = max_f32(x, n);
  exp_shifted_f32(x, y, n, m);
  double s = sum_f32(y, n);
  if (logp) {
    double ls = m + log(s); /* log_softmax(x) = x - (m + log sum exp(x - m)) */
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] - ls);
    return;
  }
  float inv = (float)(1.0 / s);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

/* Any float dtype and strides, in double. */
static void softmax_row(ln_dtype dt, const char *x, int64_t xs, char *y,
                        int64_t ys, int64_t n, bool logp) {
  double m = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = cpu_load(dt, x + i * xs);
    m = v > m ? v : m;
  }
  for (int64_t i = 0; i < n; i++) s += exp(cpu_load(dt, x + i * xs) - m);
  double ls = m + log(s);
  for (int64_t i = 0; i < n; i++) {
    double v = cpu_load(dt, x + i * xs);
    cpu_store(dt, y + i * ys, logp ? v - ls : exp(v - m) / s);
  }
}

/* Column order: m outputs side by side, R rows apart. */
static void softmax_cols(const geom *g, ln_dtype dt, const char *x, char *y,
                         int64_t m, bool logp) {
  double mx[CHUNK], s[CHUNK];
  int64_t xs = g->st[0][g->ndim - 1], ys = g->st[1][g->ndim - 1];
  for (int64_t j = 0; j < m; j++) mx[j] = -INFINITY, s[j] = 0;
  for (int64_t k = 0; k < g->R; k++)
    for (int64_t j = 0; j < m; j++) {
      double v = cpu_load(dt, x + k * g->rs[0] + j * xs);
      mx[j] = v > mx[j] ? v : mx[j];
    }
  for (int64_t k = 0; k < g->R; k++)
    for (int64_t j = 0; j < m; j++)
      s[j] += exp(cpu_load(dt, x + k * g->rs[0] + j * xs) - mx[j]);
  for (int64_t j = 0; j < m; j++) s[j] = logp ? mx[j] + log(s[j]) : s[j];
  for (int64_t k = 0; k < g->R; k++)
    for (int64_t j = 0; j < m; j++) {
      double v = cpu_load(dt, x + k * g->rs[0] + j * xs);
      cpu_store(dt, y + k * g->rs[1] + j * ys,
                logp ? v - s[j] : exp(v - mx[j]) / s[j]);
    }
}

int cpu_softmax(ln_tensor *out, const ln_tensor *a, int dim, bool logp) {
  if (ln_tensor_numel(a) == 0) return LN_OK;
  geom g;
  const ln_tensor *ts[2] = {a, out};
  geom_init(&g, 2, ts, dim);
  ln_dtype dt = a->dtype;
  bool fast = dt == LN_FLOAT32 && (g.R == 1 || (g.rs[0] == 4 && g.rs[1] == 4));
  bool parallel = ln_tensor_numel(a) >= CPU_PARALLEL_MIN && g.nblocks > 1;
  CPU_FOR(parallel ? omp_get_max_threads() : 1, b, g.nblocks, {
    char *ptr[NOPS];
    int64_t m = block_start(&g, b, ptr);
    int64_t xs = g.st[0][g.ndim - 1], ys = g.st[1][g.ndim - 1];
    if (g.column) {
      softmax_cols(&g, dt, ptr[0], ptr[1], m, logp);
    } else if (fast) {
      for (int64_t j = 0; j < m; j++)
        softmax_row_f32((const float *)(ptr[0] + j * xs),
                        (float *)(ptr[1] + j * ys), g.R, logp);
    } else {
      for (int64_t j = 0; j < m; j++)
        softmax_row(dt, ptr[0] + j * xs, g.rs[0], ptr[1] + j * ys, g.rs[1],
                    g.R, logp);
    }
  });
  return LN_OK;
}
