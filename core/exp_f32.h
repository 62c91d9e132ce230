/*
** exp_f32.h: exp(x) for x <= 0 (internal), written so that loops over it
** vectorize. The CPU softmax (cpu_reduce.c) and the fused ops of the op
** files (op_cpu.h: cross entropy, attention) share it, so that they agree.
*/
#ifndef LUANN_EXP_F32_H
#define LUANN_EXP_F32_H

#include <stdint.h>
#include <string.h>

/* Inlined into each per-ISA copy of its caller, always. */
#define LN_EXP_INLINE static inline __attribute__((always_inline))

LN_EXP_INLINE int32_t ln_float_bits(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

LN_EXP_INLINE float ln_bits_float(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

/* exp(x) for x <= 0, -inf or NaN (GCC keeps float compares as branches
** under -ftrapping-math, so the selects below are integer masks): x = n ln2
** + r with |r| <= ln2/2, exp(r) by Cephes' expf polynomial, 2^n built in
** the exponent bits. Within 1 ulp of exp; 0 below -87.3 (where exp is near
** the denormals). */
LN_EXP_INLINE float ln_exp_neg_f32(float x) {
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
