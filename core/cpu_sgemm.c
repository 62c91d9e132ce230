/*
** cpu_sgemm.c: float32 matrix products of the shapes a small network's
** training step makes, with AVX-512 kernels of our own.
**
** BLIS packs both operands into its own layouts on every call. For the
** skinny products of a small layer (a batch of 64 against a 784x128
** weight) packing the weight costs a third of the product, and a call's
** set-up and the edge tiles of a 10-wide layer cost more than the product.
** On one Zen 4 core (116 GFLOP/s FMA peak), over the tutorial MLP's five
** products per step: BLIS 67-96 GFLOP/s on the two big ones and 13-36 on
** the three small ones; these kernels 87-107 and 35-95. They read the
** operands where they lie, in one of the two layouts a training step makes:
**
**   outer: b's rows are contiguous (b.cs == 1): each step of the sum
**          multiplies one column of a (any strides: broadcast one element
**          at a time) by one row of b, into a tile of 8 rows x 48 columns
**          of c held in registers. Covers a @ w, a^T @ x (weight
**          gradients, x the batch) and every plain row-major product.
**   dot:   a's rows and b's columns are contiguous (a.cs == b.rs == 1):
**          x @ w^T, a Linear layer's forward. Each element of c is a dot
**          product of two contiguous rows; a tile of 4 x 6 of them runs
**          along the rows in vectors and is summed across lanes at the end.
**
** Anything else, and CPUs without AVX-512 (or LUANN_CPU_ISA below it),
** goes to BLIS (cpu_blas.c decides). Sums run in a fixed order whatever
** the thread count: threads split c's tiles, never a sum.
*/
#include <omp.h>

#include "cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
/* Full unrolling of the loops over a tile's registers, so that the tile
** lives in registers and not on the stack. */
#define UNROLL _Pragma("GCC unroll 16")
#define KERNEL static inline __attribute__((always_inline)) TARGET

enum { OUTER_ROWS = 8, OUTER_VECS = 3, OUTER_COLS = 16 * OUTER_VECS };
enum { OUTER_DEPTH = 128 }; /* sum steps per pass: b's panel stays in L1 */
enum { DOT_ROWS = 4, DOT_COLS = 6 };

/* c = alpha * acc + beta * c for one vector of c, masked to its columns. */
KERNEL void store_vec(float *c, __m512 acc, __mmask16 mask, float alpha,
                      float beta) {
  __m512 out = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
  if (beta != 0)
    out = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, c), _mm512_set1_ps(beta), out);
  _mm512_mask_storeu_ps(c, mask, out);
}

/* ---- outer: b's rows contiguous ----------------------------------------- */

/* A rows x (vecs vectors) tile of c from depth steps of the sum; last is
** the mask of the last vector's columns (all of them unless at c's edge).
** rows and vecs are constants in every instantiation, so acc stays in
** registers. */
KERNEL void outer_tile(int rows, int vecs, __mmask16 last, const float *a,
                       int64_t ars, int64_t acs, const float *b, int64_t brs,
                       int64_t depth, float *c, int64_t crs, float alpha,
                       float beta) {
  __m512 acc[OUTER_ROWS][OUTER_VECS];
  UNROLL
  for (int r = 0; r < rows; r++)
    UNROLL
    for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < depth; p++, a += acs, b += brs) {
    __m512 bv[OUTER_VECS];
    UNROLL
    for (int v = 0; v < vecs; v++)
      bv[v] = v == vecs - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v)
                            : _mm512_loadu_ps(b + 16 * v);
    UNROLL
    for (int r = 0; r < rows; r++) {
      __m512 av = _mm512_set1_ps(a[r * ars]);
      UNROLL
      for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  UNROLL
  for (int r = 0; r < rows; r++)
    UNROLL
    for (int v = 0; v < vecs; v++)
      store_vec(c + r * crs + 16 * v, acc[r][v], v == vecs - 1 ? last : 0xffff, alpha,
                beta);
}

#define OUTER_CASE(R)                                                        \
  case R:                                                                    \
    if (vecs == 3) outer_tile(R, 3, last, a, ars, acs, b, brs, depth, c, crs, alpha, beta); \
    else if (vecs == 2) outer_tile(R, 2, last, a, ars, acs, b, brs, depth, c, crs, alpha, beta); \
    else outer_tile(R, 1, last, a, ars, acs, b, brs, depth, c, crs, alpha, beta); \
    break;

static TARGET void outer_any(int rows, int vecs, __mmask16 last, const float *a,
                             int64_t ars, int64_t acs, const float *b, int64_t brs,
                             int64_t depth, float *c, int64_t crs, float alpha,
                             float beta) {
  switch (rows) {
    OUTER_CASE(1) OUTER_CASE(2) OUTER_CASE(3) OUTER_CASE(4) OUTER_CASE(5)
    OUTER_CASE(6) OUTER_CASE(7) OUTER_CASE(8)
  }
}

/* Rows [r0, r1) x columns [c0, c1) of c in tiles, row tiles fastest, pass
** by pass along the sum: consecutive tiles share b's panel while it is in
** L1. */
static TARGET void outer_run(const cpu_sgemm_args *g, int64_t r0, int64_t r1,
                             int64_t c0, int64_t c1) {
  for (int64_t p0 = 0; p0 < g->k; p0 += OUTER_DEPTH) {
    int64_t depth = g->k - p0 < OUTER_DEPTH ? g->k - p0 : OUTER_DEPTH;
    float beta = p0 == 0 ? g->beta : 1;
    for (int64_t j = c0; j < c1; j += OUTER_COLS) {
      int64_t cols = c1 - j < OUTER_COLS ? c1 - j : OUTER_COLS;
      int vecs = (int)((cols + 15) / 16);
      __mmask16 last = (__mmask16)((1u << (cols - 16 * (vecs - 1))) - 1);
      if (cols - 16 * (vecs - 1) == 16) last = 0xffff;
      for (int64_t i = r0; i < r1; i += OUTER_ROWS) {
        int rows = r1 - i < OUTER_ROWS ? (int)(r1 - i) : OUTER_ROWS;
        outer_any(rows, vecs, last, g->a + i * g->ars + p0 * g->acs, g->ars, g->acs,
                  g->b + p0 * g->brs + j, g->brs, depth, g->c + i * g->crs + j, g->crs,
                  g->alpha, beta);
      }
    }
  }
}

/* ---- dot: a's rows and b's columns contiguous ---------------------------- */

/* The sums of four vectors' lanes, in one vector: a tree of adds shared by
** the four (a quarter of the shuffles of four separate reductions), the
** same tree for every element, wherever its tile lies. */
KERNEL __m128 sum4(__m512 x0, __m512 x1, __m512 x2, __m512 x3) {
#define HALVES(x) _mm256_add_ps(_mm512_castps512_ps256(x), \
                                _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))
  __m256 y01 = _mm256_hadd_ps(HALVES(x0), HALVES(x1));
  __m256 y23 = _mm256_hadd_ps(HALVES(x2), HALVES(x3));
#undef HALVES
  __m256 y = _mm256_hadd_ps(y01, y23);
  return _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
}

/* A ri x rj tile of c: c[i][j] = alpha * (a row i . b column j) + beta c. */
KERNEL void dot_tile(int ri, int rj, const float *a, int64_t ars, const float *b,
                     int64_t bcs, int64_t k, float *c, int64_t crs, float alpha,
                     float beta) {
  __m512 acc[DOT_ROWS][DOT_COLS];
  UNROLL
  for (int i = 0; i < ri; i++)
    UNROLL
    for (int j = 0; j < rj; j++) acc[i][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 16) {
    __mmask16 m = k - p >= 16 ? 0xffff : (__mmask16)((1u << (k - p)) - 1);
    __m512 av[DOT_ROWS];
    UNROLL
    for (int i = 0; i < ri; i++) av[i] = _mm512_maskz_loadu_ps(m, a + i * ars + p);
    UNROLL
    for (int j = 0; j < rj; j++) {
      __m512 bv = _mm512_maskz_loadu_ps(m, b + j * bcs + p);
      UNROLL
      for (int i = 0; i < ri; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  UNROLL
  for (int i = 0; i < ri; i++)
    UNROLL
    for (int j = 0; j < rj; j += 4) {
      __m512 z = _mm512_setzero_ps();
      __m128 s = sum4(acc[i][j], j + 1 < rj ? acc[i][j + 1] : z,
                      j + 2 < rj ? acc[i][j + 2] : z, j + 3 < rj ? acc[i][j + 3] : z);
      __mmask8 m = (__mmask8)((1u << (rj - j < 4 ? rj - j : 4)) - 1);
      float *o = c + i * crs + j;
      s = _mm_mul_ps(s, _mm_set1_ps(alpha));
      if (beta != 0) s = _mm_fmadd_ps(_mm_maskz_loadu_ps(m, o), _mm_set1_ps(beta), s);
      _mm_mask_storeu_ps(o, m, s);
    }
}

#define DOT_CASE(I, J)                                                   \
  case (I - 1) * DOT_COLS + J - 1:                                       \
    dot_tile(I, J, a, ars, b, bcs, k, c, crs, alpha, beta);              \
    break;
#define DOT_ROW(I) DOT_CASE(I, 1) DOT_CASE(I, 2) DOT_CASE(I, 3) DOT_CASE(I, 4) \
                   DOT_CASE(I, 5) DOT_CASE(I, 6)

static TARGET void dot_any(int ri, int rj, const float *a, int64_t ars,
                           const float *b, int64_t bcs, int64_t k, float *c,
                           int64_t crs, float alpha, float beta) {
  switch ((ri - 1) * DOT_COLS + rj - 1) {
    DOT_ROW(1) DOT_ROW(2) DOT_ROW(3) DOT_ROW(4)
  }
}

/* Rows [r0, r1) x columns [c0, c1) of c in tiles, column tiles fastest:
** a's rows stay in L1. */
static TARGET void dot_run(const cpu_sgemm_args *g, int64_t r0, int64_t r1,
                           int64_t c0, int64_t c1) {
  for (int64_t i = r0; i < r1; i += DOT_ROWS) {
    int ri = r1 - i < DOT_ROWS ? (int)(r1 - i) : DOT_ROWS;
    for (int64_t j = c0; j < c1; j += DOT_COLS) {
      int rj = c1 - j < DOT_COLS ? (int)(c1 - j) : DOT_COLS;
      dot_any(ri, rj, g->a + i * g->ars, g->ars, g->b + j * g->bcs, g->bcs, g->k,
              g->c + i * g->crs + j, g->crs, g->alpha, g->beta);
    }
  }
}

/* ---- entry --------------------------------------------------------------- */

/* Threads split c into bands, one band each, in the direction that keeps a
** weight matrix's rows with one thread from step to step: a Linear
** layer's forward x @ w^T (dot) in bands of columns, which are rows of w;
** its weight gradient g^T @ x (outer) in bands of rows; and the optimizer
** (cpu_optim.c) in contiguous pieces, bands of rows again. Each thread
** then updates the part of w whose gradient it computed, and reads it in
** the next forward, from its own core's cache: the MLP's SGD step took
** 2.5x as long when the other core had written half of the gradient. Too
** few rows (columns) to share, and the bands run the other way. */
static void run(const cpu_sgemm_args *g, bool outer, int64_t tiles, int threads) {
  if (threads > tiles) threads = (int)tiles;
  if (threads <= 1) {
    outer ? outer_run(g, 0, g->m, 0, g->n) : dot_run(g, 0, g->m, 0, g->n);
    return;
  }
  bool by_rows = outer ? g->m >= (int64_t)OUTER_ROWS * threads
                       : g->n < (int64_t)DOT_COLS * threads;
#pragma omp parallel num_threads(threads)
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t r0 = 0, r1 = g->m, c0 = 0, c1 = g->n;
    if (by_rows) {
      r0 = g->m * t / nt, r1 = g->m * (t + 1) / nt;
    } else { /* whole vectors for outer's tiles */
      int64_t unit = outer ? 16 : 1, units = (g->n + unit - 1) / unit;
      c0 = units * t / nt * unit, c1 = units * (t + 1) / nt * unit;
      if (c1 > g->n) c1 = g->n;
    }
    outer ? outer_run(g, r0, r1, c0, c1) : dot_run(g, r0, r1, c0, c1);
  }
}

/* Where these kernels beat BLIS (one Zen 4 core, float32; BLIS's SKX
** kernels): below 2^26 multiply-adds the outer kernel did at every shape
** tried (64x784x128 81-90 against 67-84 GFLOP/s, 64x1024x1024 86 against
** 42), and from 512^3 up BLIS's blocking won (2048^3: 98 against 73). The
** dot kernel sums each tile across lanes at the end, which pays only over
** long rows or for narrow outputs: 64x1024x1024 77 against 36, a
** 10-wide layer 53 against 13, but 128^3 52 against 71. */
#define MAX_WORK ((double)(1 << 26))
#define DOT_MIN_DEPTH 512
#define DOT_MAX_DEPTH 2048 /* beyond, a's rows no longer stay in L1 */
#define DOT_NARROW 32

bool cpu_sgemm(const cpu_sgemm_args *g, int threads) {
  if (!cpu_has_avx512() || g->m <= 0 || g->n <= 0 || g->k <= 0) return false;
  if ((double)g->m * (double)g->n * (double)g->k > MAX_WORK) return false;
  if (g->bcs == 1) {
    int64_t tiles = (g->m + OUTER_ROWS - 1) / OUTER_ROWS * ((g->n + OUTER_COLS - 1) / OUTER_COLS);
    run(g, true, tiles, threads);
    return true;
  }
  if (g->acs == 1 && g->brs == 1 && g->k <= DOT_MAX_DEPTH &&
      (g->k >= DOT_MIN_DEPTH || g->n <= DOT_NARROW)) {
    int64_t tiles = (g->m + DOT_ROWS - 1) / DOT_ROWS * ((g->n + DOT_COLS - 1) / DOT_COLS);
    run(g, false, tiles, threads);
    return true;
  }
  return false;
}

#else /* not x86-64: BLIS does every product */

bool cpu_sgemm(const cpu_sgemm_args *g, int threads) {
  (void)g, (void)threads;
  return false;
}

#endif
