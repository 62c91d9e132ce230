/*
** unary.cl: out = f(a) for luann's unary ops, clamp and leaky_relu, and
** the tests (logical not, isnan, isinf, isfinite). Ops are ln_unary_op's
** values (core/luann_core.h) and OCL_UNARY_CLAMP/LEAKY (core/ocl.h), by
** name: the host passes them as -D options. NaN propagates the way
** PyTorch's does.
*/

/* The op in floating point (float dtypes, and integers' transcendental
** ops). */
inline facc unary_float(int op, facc x, facc p0, facc p1) {
  switch (op) {
    case LN_UNARY_NEG: return -x;
    case LN_UNARY_ABS: return fabs(x);
    case LN_UNARY_EXP: return exp(x);
    case LN_UNARY_LOG: return log(x);
    case LN_UNARY_SQRT: return sqrt(x);
    case LN_UNARY_RSQRT: return (facc)1 / sqrt(x);
    case LN_UNARY_SIN: return sin(x);
    case LN_UNARY_COS: return cos(x);
    case LN_UNARY_TANH: return tanh(x);
    case LN_UNARY_SIGMOID: return (facc)1 / ((facc)1 + exp(-x)); /* 1/(1+e^-x) */
    case LN_UNARY_RELU: return x < 0 ? (facc)0 : x;              /* NaN stays */
    case LN_UNARY_SIGN:                                 /* 0, -0, NaN kept */
      return x > 0 ? (facc)1 : x < 0 ? (facc)-1 : x;
    case LN_UNARY_FLOOR: return floor(x);
    case LN_UNARY_CEIL: return ceil(x);
    case LN_UNARY_ROUND: return rint(x);                      /* half to even */
    case LN_UNARY_RECIPROCAL: return (facc)1 / x;
    case LN_UNARY_SQUARE: return x * x;
    case LN_UNARY_LOG1P: return log1p(x);
    case LN_UNARY_EXPM1: return expm1(x);
    /* x Phi(x) = x erfc(-x/sqrt 2) / 2: erfc keeps Phi's precision for x < 0 */
    case LN_UNARY_GELU:
      return (facc)0.5 * x * erfc(-x * (facc)0.70710678118654752440);
    case LN_UNARY_SILU: return x / ((facc)1 + exp(-x));       /* x*sigmoid(x) */
    case LN_UNARY_ERF: return erf(x);
    case LN_UNARY_TAN: return tan(x);
    case LN_UNARY_ASIN: return asin(x);
    case LN_UNARY_ACOS: return acos(x);
    case LN_UNARY_ATAN: return atan(x);
    case OCL_UNARY_CLAMP: x = x < p0 ? p0 : x; return x > p1 ? p1 : x;
    case OCL_UNARY_LEAKY: return x > 0 ? x : x * p0;
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
    case LN_UNARY_NEG: return real_from_long(-(long)x);
    case LN_UNARY_ABS: return x < 0 ? real_from_long(-(long)x) : x;
    case LN_UNARY_RELU: return x < 0 ? (real)0 : x;
    case LN_UNARY_SIGN: return real_from_long((x > 0) - (x < 0));
    case LN_UNARY_SQUARE: return real_from_long((long)x * (long)x);
    case OCL_UNARY_CLAMP: x = x < p0 ? p0 : x; return x > p1 ? p1 : x;
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

/* The tests, bool results: !x, isnan(x), ...; integers and bools are
** never NaN or infinite. */
inline uchar unary_test_apply(int op, real x) {
  switch (op) {
#if REAL_IS_FLOAT
    case LN_UNARY_ISNAN: return isnan(x) != 0;
    case LN_UNARY_ISINF: return isinf(x) != 0;
    case LN_UNARY_ISFINITE: return isfinite(x) != 0;
#else
    case LN_UNARY_ISNAN: case LN_UNARY_ISINF: return 0;
    case LN_UNARY_ISFINITE: return 1;
#endif
  }
  return x == 0; /* logical not */
}

/* out (bool) = test(a), any strides. */
__kernel void unary_test(int op, shape_t sh, strides_t so, strides_t sa,
                         __global uchar *out, __global const real *a) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa;
    offsets2(&sh, i, &so, &oo, &sa, &oa);
    out[oo] = unary_test_apply(op, a[oa]);
  }
}
