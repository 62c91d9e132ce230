/*
** binary.cl: out = a op b for luann's binary ops (ln_binary_op), out =
** cond ? a : b. Arithmetic ops write the operands' dtype, comparisons and
** logical ops write bool. Ops are ln_binary_op's values by name (the host
** passes them as -D).
** Operands come expanded to out's shape (stride 0 on broadcast dims);
** out may alias a for in-place ops.
*/
#if !REAL_IS_FLOAT
/* a^b in wrapping long arithmetic by squaring; a negative exponent gives
** the truncated true value (1 for a == 1, +-1 for a == -1, else 0). */
inline long ipow(long a, long b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
  long r = 1;
  while (b) {
    if (b & 1) r *= a;
    a *= a;
    b >>= 1;
  }
  return r;
}
#endif

/* Integer dtypes have no div or atan2 here (the host refuses them); an
** integer fmod, remainder or floor_divide by zero raises OCL_FLAG_DIV_ZERO
** with the op as its dim. remainder and floor_divide are floored, as in
** Lua and PyTorch: the remainder takes the divisor's sign. */
inline real binary_apply(int op, real a, real b, __global int *flag) {
#if REAL_IS_FLOAT
  switch (op) {
    case LN_BINARY_ADD: return a + b;
    case LN_BINARY_SUB: return a - b;
    case LN_BINARY_MUL: return a * b;
    case LN_BINARY_DIV: return a / b;
    case LN_BINARY_POW: return pow(a, b);
    case LN_BINARY_MAXIMUM: return a > b || isnan(a) ? a : b; /* NaN kept */
    case LN_BINARY_MINIMUM: return a < b || isnan(a) ? a : b;
    case LN_BINARY_FMOD: return fmod(a, b);
    case LN_BINARY_ATAN2: return atan2(a, b);
    case LN_BINARY_REMAINDER: {
      real m = fmod(a, b);
      return m != 0 && (m < 0) != (b < 0) ? m + b : m;
    }
    case LN_BINARY_FLOOR_DIVIDE: { /* PyTorch's div_floor: a == b q + r */
      if (b == 0) return a / b;
      real m = fmod(a, b), q = (a - m) / b;
      if (m != 0 && (m < 0) != (b < 0)) q -= 1;
      if (q == 0) return copysign((real)0, a / b);
      real f = floor(q);
      return q - f > (real)0.5 ? f + 1 : f;
    }
  }
  return 0;
#else
  long x = a, y = b;
  switch (op) {
    case LN_BINARY_ADD: return real_from_long(x + y);
    case LN_BINARY_SUB: return real_from_long(x - y);
    case LN_BINARY_MUL: return real_from_long(x * y);
    case LN_BINARY_POW: return real_from_long(ipow(x, y));
    case LN_BINARY_MAXIMUM: return x > y ? a : b;
    case LN_BINARY_MINIMUM: return x < y ? a : b;
    case LN_BINARY_FMOD: /* truncating, like C's % (LONG_MIN % -1 traps: 0) */
      if (y == 0) flag_index(flag, OCL_FLAG_DIV_ZERO, op, 0, 0);
      return real_from_long(y == 0 || y == -1 ? 0 : x % y);
    case LN_BINARY_REMAINDER: {
      if (y == 0) flag_index(flag, OCL_FLAG_DIV_ZERO, op, 0, 0);
      long m = y == 0 || y == -1 ? 0 : x % y;
      return real_from_long(m != 0 && (m < 0) != (y < 0) ? m + y : m);
    }
    case LN_BINARY_FLOOR_DIVIDE: { /* -x wraps for LONG_MIN / -1 */
      if (y == 0) flag_index(flag, OCL_FLAG_DIV_ZERO, op, 0, 0);
      if (y == 0) return 0;
      if (y == -1) return real_from_long((long)(0UL - (ulong)x));
      long q = x / y;
      return real_from_long(x % y != 0 && (x < 0) != (y < 0) ? q - 1 : q);
    }
  }
  return 0;
#endif
}

inline uchar compare_apply(int op, real a, real b) {
  switch (op) {
    case LN_BINARY_EQ: return a == b;
    case LN_BINARY_NE: return a != b;
    case LN_BINARY_LT: return a < b;
    case LN_BINARY_LE: return a <= b;
    case LN_BINARY_GT: return a > b;
    case LN_BINARY_GE: return a >= b;
    case LN_BINARY_AND: return a != 0 && b != 0;
    case LN_BINARY_OR: return a != 0 || b != 0;
    case LN_BINARY_XOR: return (a != 0) != (b != 0);
  }
  return 0;
}

/* Any strides. */
__kernel void binary(int op, shape_t sh, strides_t so, strides_t sa,
                     strides_t sb, __global real *out, __global const real *a,
                     __global const real *b, __global int *flag) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa, ob, unused;
    offsets4(&sh, i, &so, &oo, &sa, &oa, &sb, &ob, &sb, &unused);
    out[oo] = binary_apply(op, a[oa], b[ob], flag);
  }
}

/* Plain arrays, b either an array (bstep 1) or one value (bstep 0: x * 2). */
__kernel void binary_contig(int op, long n, long oo, long oa, long ob,
                            int bstep, __global real *out,
                            __global const real *a, __global const real *b,
                            __global int *flag) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = binary_apply(op, a[oa + i], b[ob + i * bstep], flag);
}

#if REAL_IS_FLOAT
/* The four arithmetic ops of float dtypes on plain arrays, one kernel each
** (as binary_contig, without the op): a CPU device's compiler (PoCL)
** vectorizes these plain loops, not a loop around a switch. */
__kernel void add_contig(long n, long oo, long oa, long ob, int bstep,
                         __global real *out, __global const real *a,
                         __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = a[oa + i] + b[ob + i * bstep];
}

__kernel void sub_contig(long n, long oo, long oa, long ob, int bstep,
                         __global real *out, __global const real *a,
                         __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = a[oa + i] - b[ob + i * bstep];
}

__kernel void mul_contig(long n, long oo, long oa, long ob, int bstep,
                         __global real *out, __global const real *a,
                         __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = a[oa + i] * b[ob + i * bstep];
}

__kernel void div_contig(long n, long oo, long oa, long ob, int bstep,
                         __global real *out, __global const real *a,
                         __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = a[oa + i] / b[ob + i * bstep];
}
#endif

/* out (bool) = a op b; any strides. */
__kernel void compare(int op, shape_t sh, strides_t so, strides_t sa,
                      strides_t sb, __global uchar *out,
                      __global const real *a, __global const real *b) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa, ob, unused;
    offsets4(&sh, i, &so, &oo, &sa, &oa, &sb, &ob, &sb, &unused);
    out[oo] = compare_apply(op, a[oa], b[ob]);
  }
}

/* Plain arrays, b an array (bstep 1) or one value (bstep 0). */
__kernel void compare_contig(int op, long n, long oo, long oa, long ob,
                             int bstep, __global uchar *out,
                             __global const real *a, __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = compare_apply(op, a[oa + i], b[ob + i * bstep]);
}

/* out = cond ? a : b; any strides. */
__kernel void where(shape_t sh, strides_t so, strides_t sc, strides_t sa,
                    strides_t sb, __global real *out,
                    __global const uchar *cond, __global const real *a,
                    __global const real *b) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oc, oa, ob;
    offsets4(&sh, i, &so, &oo, &sc, &oc, &sa, &oa, &sb, &ob);
    out[oo] = cond[oc] ? a[oa] : b[ob];
  }
}

/* Plain arrays. */
__kernel void where_contig(long n, long oo, long oc, long oa, long ob,
                           __global real *out, __global const uchar *cond,
                           __global const real *a, __global const real *b) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = cond[oc + i] ? a[oa + i] : b[ob + i];
}
