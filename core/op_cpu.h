/*
** op_cpu.h: what the CPU kernels of primitive ops (the ones that live in
** their op files, core/op_*.c) share (internal).
**
** LN_CLONES asks GCC for per-ISA copies of a hot loop function, picked
** once at load time from the CPU's features (an ifunc): AVX-512, AVX2 with
** FMA, and the baseline x86-64 build, which is what runs anywhere else
** (and under valgrind, which hides AVX-512). The build itself never uses
** -march. Helpers such a function calls should be static inline, so that
** each copy inlines its own.
**
** ln_cpu_split runs fn over [0, n) on OpenMP's threads in contiguous
** chunks when there is work enough (n * cost_each at least 64K), else in
** one call on this thread; as many threads as the other programs leave
** cores free (cpu_free_threads). The split happens outside the cloned function:
** an OpenMP region outlines its body, which would lose the clone's ISA.
*/
#ifndef LUANN_OP_CPU_H
#define LUANN_OP_CPU_H

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "exp_f32.h"
#include "internal.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    defined(__x86_64__) && defined(__ELF__)
#define LN_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LN_CLONES
#endif

/* For helpers of an LN_CLONES function: inlined into each copy, always. */
#define LN_INLINE static inline __attribute__((always_inline))

/* Sixteen floats as one value (GCC's vector extension): a zmm register in
** the AVX-512 copy, two ymm or four xmm in the others. The u types load
** and store at any float alignment. */
#pragma GCC diagnostic ignored "-Wpsabi" /* inlined: no ABI crossing */
typedef float ln_vf16 __attribute__((vector_size(64)));
typedef float ln_vf16u __attribute__((vector_size(64), aligned(4)));

typedef int32_t ln_vi16 __attribute__((vector_size(64)));
/* Eight floats, for the tails of rows whose length is a multiple of 8. */
typedef float ln_vf8 __attribute__((vector_size(32)));
typedef float ln_vf8u __attribute__((vector_size(32), aligned(4)));

LN_INLINE ln_vf8 ln_vf8_load(const float *p) { return *(const ln_vf8u *)p; }
LN_INLINE void ln_vf8_store(float *p, ln_vf8 v) { *(ln_vf8u *)p = v; }

LN_INLINE ln_vf16 ln_vf16_load(const float *p) { return *(const ln_vf16u *)p; }
LN_INLINE void ln_vf16_store(float *p, ln_vf16 v) { *(ln_vf16u *)p = v; }
/* The first n (<= 16) floats at p, zeros after; and the first n back. */
LN_INLINE ln_vf16 ln_vf16_load_n(const float *p, int64_t n) {
  if (n == 16) return ln_vf16_load(p);
  ln_vf16 v = {0};
  for (int64_t i = 0; i < n; i++) v[i] = p[i];
  return v;
}
LN_INLINE void ln_vf16_store_n(float *p, ln_vf16 v, int64_t n) {
  if (n == 16) {
    ln_vf16_store(p, v);
    return;
  }
  for (int64_t i = 0; i < n; i++) p[i] = v[i];
}
/* The lane numbers 0..15. */
LN_INLINE ln_vi16 ln_vf16_iota(void) {
  return (ln_vi16){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
}
/* m ? a : b lane by lane, m a comparison's result (all ones or zeros). */
LN_INLINE ln_vf16 ln_vf16_select(ln_vi16 m, ln_vf16 a, ln_vf16 b) {
  return (ln_vf16)(((ln_vi16)a & m) | ((ln_vi16)b & ~m));
}
/* max(a, b) lane by lane; a NaN in a is passed over, one in b kept. */
LN_INLINE ln_vf16 ln_vf16_max(ln_vf16 a, ln_vf16 b) {
  ln_vi16 m = a > b;
  return (ln_vf16)(((ln_vi16)a & m) | ((ln_vi16)b & ~m));
}
LN_INLINE float ln_vf16_hmax(ln_vf16 v) {
  float m = v[0];
  for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
  return m;
}
LN_INLINE float ln_vf16_hsum(ln_vf16 v) {
  float s = 0;
  for (int i = 0; i < 16; i++) s += v[i];
  return s;
}

typedef void (*ln_cpu_range_fn)(void *ctx, int64_t first, int64_t last);

static inline void ln_cpu_split(ln_cpu_range_fn fn, void *ctx, int64_t n,
                                int64_t cost_each) {
  int threads = n < 2 || n * cost_each < 65536
                    ? 1 : cpu_free_threads(ln_get_num_threads());
  if (threads <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  int64_t chunks = n < threads ? n : threads;
#pragma omp parallel for num_threads((int)chunks)
  for (int64_t c = 0; c < chunks; c++)
    fn(ctx, n * c / chunks, n * (c + 1) / chunks);
}

/* ---- small products in registers ----------------------------------------
** ln_tile_f32: C[0..m)[0..ncols) (+)= A[.., k0..k1) B[k0..k1, ..] for m <= 4
** rows and ncols a multiple of 8, A[r][k] = a[r * ar + k * ak] (any
** strides), B's and C's rows ldb and ldc floats apart; with add, the sums
** are added to C. A 4 x 32 block of C stays in eight 16-float registers
** over the whole reduction: for products of a few rows (a batch of 32, a
** head's 64 positions), where a BLIS call spends more on packing its
** operands than on the product. */

/* Stores (or adds) sum v to the floats at p. */
#define LN_TILE_PUT16(p, v, add) \
  ln_vf16_store(p, (add) ? ln_vf16_load(p) + (v) : (v))
#define LN_TILE_PUT8(p, v, add) \
  ln_vf8_store(p, (add) ? ln_vf8_load(p) + (v) : (v))

/* One 4 x W block of C at column c0, W = 16 * N16 + 8 * N8 (N16 <= 2,
** N8 <= 1: constants, so that the unused sums vanish). */
#define LN_TILE_BLOCK(N16, N8)                                                \
  do {                                                                        \
    ln_vf16 s00 = {0}, s01 = {0}, s10 = {0}, s11 = {0};                       \
    ln_vf16 s20 = {0}, s21 = {0}, s30 = {0}, s31 = {0};                       \
    ln_vf8 t0 = {0}, t1 = {0}, t2 = {0}, t3 = {0};                            \
    for (int64_t k = k0; k < k1; k++) {                                       \
      const float *bk = b + k * ldb + c0, *ak0 = a + k * ak;                  \
      float a0 = ak0[0], a1 = ak0[ar], a2 = ak0[2 * ar], a3 = ak0[3 * ar];    \
      if (N16 > 0) {                                                          \
        ln_vf16 b0 = ln_vf16_load(bk);                                        \
        s00 += a0 * b0, s10 += a1 * b0, s20 += a2 * b0, s30 += a3 * b0;       \
      }                                                                       \
      if (N16 > 1) {                                                          \
        ln_vf16 b1 = ln_vf16_load(bk + 16);                                   \
        s01 += a0 * b1, s11 += a1 * b1, s21 += a2 * b1, s31 += a3 * b1;       \
      }                                                                       \
      if (N8) {                                                               \
        ln_vf8 b8 = ln_vf8_load(bk + 16 * N16);                               \
        t0 += a0 * b8, t1 += a1 * b8, t2 += a2 * b8, t3 += a3 * b8;           \
      }                                                                       \
    }                                                                         \
    float *c0p = c + c0, *c1p = c0p + ldc, *c2p = c1p + ldc, *c3p = c2p + ldc; \
    if (N16 > 0) {                                                            \
      LN_TILE_PUT16(c0p, s00, add), LN_TILE_PUT16(c1p, s10, add);             \
      LN_TILE_PUT16(c2p, s20, add), LN_TILE_PUT16(c3p, s30, add);             \
    }                                                                         \
    if (N16 > 1) {                                                            \
      LN_TILE_PUT16(c0p + 16, s01, add), LN_TILE_PUT16(c1p + 16, s11, add);   \
      LN_TILE_PUT16(c2p + 16, s21, add), LN_TILE_PUT16(c3p + 16, s31, add);   \
    }                                                                         \
    if (N8) {                                                                 \
      LN_TILE_PUT8(c0p + 16 * N16, t0, add);                                  \
      LN_TILE_PUT8(c1p + 16 * N16, t1, add);                                  \
      LN_TILE_PUT8(c2p + 16 * N16, t2, add);                                  \
      LN_TILE_PUT8(c3p + 16 * N16, t3, add);                                  \
    }                                                                         \
  } while (0)

LN_INLINE void ln_tile_f32(float *c, int64_t ldc, const float *a, int64_t ar,
                           int64_t ak, const float *b, int64_t ldb, int m,
                           int64_t ncols, int64_t k0, int64_t k1, bool add) {
  int64_t c0 = 0;
  if (m == 4) {
    for (; ncols - c0 >= 32; c0 += 32) LN_TILE_BLOCK(2, 0);
    int64_t left = ncols - c0;
    if (left == 24) LN_TILE_BLOCK(1, 1);
    else if (left == 16) LN_TILE_BLOCK(1, 0);
    else if (left == 8) LN_TILE_BLOCK(0, 1);
    return;
  }
  for (int r = 0; r < m; r++) /* fewer than 4 rows */
    for (int64_t j = 0; j < ncols; j += 8) {
      ln_vf8 s8 = {0};
      for (int64_t k = k0; k < k1; k++)
        s8 += a[r * ar + k * ak] * ln_vf8_load(b + k * ldb + j);
      LN_TILE_PUT8(c + r * ldc + j, s8, add);
    }
}

#endif
