/*
** unary.cl: out = f(a) for luann's unary ops, clamp and leaky_relu, and
** logical not. Op codes follow ln_unary_op (core/luann_core.h); the host
** checks that they still agree. NaN propagates the way PyTorch's does.
*/
#define U_NEG 0
#define U_ABS 1
#define U_EXP 2
#define U_LOG 3
#define U_SQRT 4
#define U_RSQRT 5
#define U_SIN 6
#define U_COS 7
#define U_TANH 8
#define U_SIGMOID 9
#define U_RELU 10
#define U_SIGN 11
#define U_FLOOR 12
#define U_CEIL 13
#define U_ROUND 14
#define U_RECIPROCAL 15
#define U_SQUARE 16
#define U_LOG1P 17
#define U_EXPM1 18
#define U_GELU 19
#define U_SILU 20
#define U_CLAMP 100  /* p0 = lo, p1 = hi */
#define U_LEAKY 101  /* p0 = slope */

/* The op in floating point (float dtypes, and integers' transcendental
** ops). */
inline facc unary_float(int op, facc x, facc p0, facc p1) {
  switch (op) {
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_RSQRT: return (facc)1 / sqrt(x);
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TANH: return tanh(x);
    case U_SIGMOID: return (facc)1 / ((facc)1 + exp(-x));      /* 1/(1+e^-x) */
    case U_RELU: return x < 0 ? (facc)0 : x;                   /* NaN stays */
    case U_SIGN: return x > 0 ? (facc)1 : x < 0 ? (facc)-1 : x; /* 0, -0, NaN kept */
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return rint(x);                              /* half to even */
    case U_RECIPROCAL: return (facc)1 / x;
    case U_SQUARE: return x * x;
    case U_LOG1P: return log1p(x);
    case U_EXPM1: return expm1(x);
    /* x Phi(x) = x erfc(-x/sqrt 2) / 2: erfc keeps Phi's precision for x < 0 */
    case U_GELU: return (facc)0.5 * x * erfc(-x * (facc)0.70710678118654752440);
    case U_SILU: return x / ((facc)1 + exp(-x));               /* x*sigmoid(x) */
    case U_CLAMP: x = x < p0 ? p0 : x; return x > p1 ? p1 : x;
    case U_LEAKY: return x > 0 ? x : x * p0;
  }
  return x;
}

inline real unary_apply(int op, real x, real p0, real p1) {
#if REAL_IS_FLOAT
  return unary_float(op, x, p0, p1);
#else
  /* integers, in wrapping long arithmetic (the host refuses the rest;
  ** clamp's bounds come rounded inward and saturated) */
  switch (op) {
    case U_NEG: return real_from_long(-(long)x);
    case U_ABS: return x < 0 ? real_from_long(-(long)x) : x;
    case U_RELU: return x < 0 ? (real)0 : x;
    case U_SIGN: return real_from_long((x > 0) - (x < 0));
    case U_SQUARE: return real_from_long((long)x * (long)x);
    case U_CLAMP: x = x < p0 ? p0 : x; return x > p1 ? p1 : x;
  }
  return x; /* floor, ceil, round */
#endif
}

/* Any strides; out may alias a (in place). */
__kernel void unary(int op, real p0, real p1, shape_t sh, strides_t so,
                    strides_t sa, __global real *out, __global const real *a) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa;
    offsets2(&sh, i, &so, &oo, &sa, &oa);
    out[oo] = unary_apply(op, a[oa], p0, p1);
  }
}

/* Plain arrays. */
__kernel void unary_contig(int op, real p0, real p1, long n, long oo, long oa,
                           __global real *out, __global const real *a) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = unary_apply(op, a[oa + i], p0, p1);
}

#if REAL_IS_FLOAT
/* relu on plain float arrays without the op switch (see add_contig). */
__kernel void relu_contig(long n, long oo, long oa, __global real *out,
                          __global const real *a) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = a[oa + i] < 0 ? (real)0 : a[oa + i];
}
#endif

/* out (bool) = !a, any strides. */
__kernel void logical_not(shape_t sh, strides_t so, strides_t sa,
                          __global uchar *out, __global const real *a) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa;
    offsets2(&sh, i, &so, &oo, &sa, &oa);
    out[oo] = a[oa] == 0;
  }
}
