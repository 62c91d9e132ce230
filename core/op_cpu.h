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
** one call on this thread. The split happens outside the cloned function:
** an OpenMP region outlines its body, which would lose the clone's ISA.
*/
#ifndef LUANN_OP_CPU_H
#define LUANN_OP_CPU_H

#include <omp.h>
#include <stdint.h>
#include <string.h>

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
  int threads = omp_get_max_threads();
  if (threads <= 1 || n < 2 || n * cost_each < 65536) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  int64_t chunks = n < threads ? n : threads;
#pragma omp parallel for num_threads((int)chunks)
  for (int64_t c = 0; c < chunks; c++)
    fn(ctx, n * c / chunks, n * (c + 1) / chunks);
}

/* exp(x) for x <= 0, -inf or NaN, as a loop that vectorises: x = n ln2 + r,
** exp(r) by Cephes' expf polynomial, 2^n in the exponent bits; within 1
** ulp; 0 below -87.3. The same function as the CPU softmax's
** (core/cpu_reduce.c), so that fused ops agree with it. */
LN_INLINE int32_t ln_float_bits(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

LN_INLINE float ln_bits_float(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

LN_INLINE float ln_exp_neg_f32(float x) {
  const int32_t lim = 0x42AE999A, neg_lim = (int32_t)0xC2AE999A; /* 87.3f */
  int32_t xi = ln_float_bits(x), mag = xi & 0x7FFFFFFF;
  int32_t nan = -(mag > 0x7F800000);
  int32_t tiny = -((mag > lim) & (mag <= 0x7F800000)); /* x < -87.3, -inf */
  int32_t keep = ~(nan | tiny);
  float xc = ln_bits_float((xi & keep) | (neg_lim & tiny)); /* NaN: 0 */
  float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* rounded */
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float y = p * ln_bits_float((int32_t)((uint32_t)((int32_t)n + 127) << 23));
  return ln_bits_float((ln_float_bits(y) & keep) | (xi & nan)); /* 0, or x's NaN */
}

#endif
