/*
** cpu_pointwise.c: the CPU's elementwise kernels (unary, binary, clamp,
** leaky_relu, where). Each walks its operands with cpu_for_each; a row
** that is contiguous float32 takes a plain loop per op the compiler can
** vectorize, every other row a general strided loop for its dtype.
** Integer arithmetic stays in int64 (wrapping like two's complement) so it
** is exact; integer fmod, remainder and floor_divide by zero are errors,
** found before anything is written.
*/
#include <math.h>
#include <stdatomic.h>

#include "cpu.h"

/* ---- visiting order ----------------------------------------------------- */

/* Whether dim i should be walked outside dim j: when more operands have
** the larger stride in i than in j. Broadcast (stride 0) dims do not
** vote; the first input breaks a tie (reading in order beats writing in
** order), then the logical order. */
static bool outer_dim(int nops, const ln_tensor *const *ts, int i, int j) {
  int votes = 0, first = 0;
  for (int k = 0; k < nops; k++) {
    int64_t si = ts[k]->stride[i], sj = ts[k]->stride[j];
    int v = si != 0 && sj != 0 && si != sj ? (si > sj ? 1 : -1) : 0;
    votes += v;
    if (k == 1) first = v;
  }
  if (votes == 0) votes = first;
  return votes != 0 ? votes > 0 : i < j;
}

/* Elementwise results do not depend on the order elements are visited in,
** so walk ts with dims reordered as most operands lie in memory (as
** PyTorch's TensorIterator does): a + b on transposed operands then reads
** them in order instead of one cache line per element. The walker gets shallow
** copies of the headers (it reads only their geometry). */
static void walk_in_memory_order(int nops, const ln_tensor *const *ts,
                                 cpu_row_fn row, void *ctx) {
  int ndim = ts[0]->ndim, perm[LN_MAX_DIMS];
  for (int d = 0; d < ndim; d++) {
    int k = d; /* insertion sort: outer dims first */
    while (k > 0 && outer_dim(nops, ts, d, perm[k - 1])) {
      perm[k] = perm[k - 1];
      k--;
    }
    perm[k] = d;
  }
  ln_tensor copies[CPU_MAX_OPERANDS];
  const ln_tensor *views[CPU_MAX_OPERANDS];
  for (int i = 0; i < nops; i++) {
    copies[i] = *ts[i];
    for (int d = 0; d < ndim; d++) {
      copies[i].shape[d] = ts[i]->shape[perm[d]];
      copies[i].stride[d] = ts[i]->stride[perm[d]];
    }
    views[i] = &copies[i];
  }
  cpu_for_each(nops, views, row, ctx, true);
}

/* ---- formulas, one per op ----------------------------------------------- */

/* f(x) = 1 / (1 + exp(-x)) */
static inline float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

/* f(x) = x Phi(x) = x erfc(-x/sqrt 2) / 2 (erfc keeps Phi's precision for
** negative x, where 1 + erf(x) would cancel) */
static inline float gelu_f(float x) {
  return 0.5f * x * erfcf(-x * (float)M_SQRT1_2);
}
static inline double gelu_d(double x) { return 0.5 * x * erfc(-x * M_SQRT1_2); }

/* f(x) = x sigmoid(x) */
static inline float silu_f(float x) { return x * sigmoid_f(x); }
static inline double silu_d(double x) { return x * sigmoid_d(x); }

/* f(x) = max(0, x), NaN kept */
static inline float relu_f(float x) { return x < 0 ? 0.0f : x; }
static inline double relu_d(double x) { return x < 0 ? 0.0 : x; }

/* f(x) = -1, 0 or 1 by x's sign; zeros and NaN as they are */
static inline double sign_d(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }

static float unary_f32(ln_unary_op op, float x) {
  switch (op) {
    case LN_UNARY_NEG: return -x;
    case LN_UNARY_ABS: return fabsf(x);
    case LN_UNARY_EXP: return expf(x);
    case LN_UNARY_LOG: return logf(x);
    case LN_UNARY_SQRT: return sqrtf(x);
    case LN_UNARY_RSQRT: return 1.0f / sqrtf(x);
    case LN_UNARY_SIN: return sinf(x);
    case LN_UNARY_COS: return cosf(x);
    case LN_UNARY_TANH: return tanhf(x);
    case LN_UNARY_SIGMOID: return sigmoid_f(x);
    case LN_UNARY_RELU: return relu_f(x);
    case LN_UNARY_SIGN: return (float)sign_d(x);
    case LN_UNARY_FLOOR: return floorf(x);
    case LN_UNARY_CEIL: return ceilf(x);
    case LN_UNARY_ROUND: return nearbyintf(x); /* halves to even */
    case LN_UNARY_RECIPROCAL: return 1.0f / x;
    case LN_UNARY_SQUARE: return x * x;
    case LN_UNARY_LOG1P: return log1pf(x);
    case LN_UNARY_EXPM1: return expm1f(x);
    case LN_UNARY_GELU: return gelu_f(x);
    case LN_UNARY_SILU: return silu_f(x);
    case LN_UNARY_ERF: return erff(x);
    case LN_UNARY_TAN: return tanf(x);
    case LN_UNARY_ASIN: return asinf(x);
    case LN_UNARY_ACOS: return acosf(x);
    case LN_UNARY_ATAN: return atanf(x);
    default: return x;
  }
}

static double unary_f64(ln_unary_op op, double x) {
  switch (op) {
    case LN_UNARY_NEG: return -x;
    case LN_UNARY_ABS: return fabs(x);
    case LN_UNARY_EXP: return exp(x);
    case LN_UNARY_LOG: return log(x);
    case LN_UNARY_SQRT: return sqrt(x);
    case LN_UNARY_RSQRT: return 1.0 / sqrt(x);
    case LN_UNARY_SIN: return sin(x);
    case LN_UNARY_COS: return cos(x);
    case LN_UNARY_TANH: return tanh(x);
    case LN_UNARY_SIGMOID: return sigmoid_d(x);
    case LN_UNARY_RELU: return relu_d(x);
    case LN_UNARY_SIGN: return sign_d(x);
    case LN_UNARY_FLOOR: return floor(x);
    case LN_UNARY_CEIL: return ceil(x);
    case LN_UNARY_ROUND: return nearbyint(x);
    case LN_UNARY_RECIPROCAL: return 1.0 / x;
    case LN_UNARY_SQUARE: return x * x;
    case LN_UNARY_LOG1P: return log1p(x);
    case LN_UNARY_EXPM1: return expm1(x);
    case LN_UNARY_GELU: return gelu_d(x);
    case LN_UNARY_SILU: return silu_d(x);
    case LN_UNARY_ERF: return erf(x);
    case LN_UNARY_TAN: return tan(x);
    case LN_UNARY_ASIN: return asin(x);
    case LN_UNARY_ACOS: return acos(x);
    case LN_UNARY_ATAN: return atan(x);
    default: return x;
  }
}

/* The tests (ln_unary_is_test) on a value of any dtype, loaded as a
** double: integers and bools are never NaN or infinite. */
static bool unary_test(ln_unary_op op, double x) {
  switch (op) {
    case LN_UNARY_ISNAN: return isnan(x);
    case LN_UNARY_ISINF: return isinf(x);
    case LN_UNARY_ISFINITE: return isfinite(x);
    default: return x == 0; /* logical not */
  }
}

/* Integer unary ops; arithmetic through uint64_t wraps instead of
** overflowing (-INT64_MIN is INT64_MIN, as in PyTorch). */
static int64_t unary_int(ln_unary_op op, int64_t x) {
  switch (op) {
    case LN_UNARY_NEG: return (int64_t)(0 - (uint64_t)x);
    case LN_UNARY_ABS: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case LN_UNARY_RELU: return x < 0 ? 0 : x;
    case LN_UNARY_SIGN: return (x > 0) - (x < 0);
    case LN_UNARY_SQUARE: return (int64_t)((uint64_t)x * (uint64_t)x);
    default: return x; /* floor, ceil, round */
  }
}

static bool unary_int_supported(ln_unary_op op) {
  switch (op) {
    case LN_UNARY_NEG: case LN_UNARY_ABS: case LN_UNARY_RELU:
    case LN_UNARY_SIGN: case LN_UNARY_SQUARE: case LN_UNARY_FLOOR:
    case LN_UNARY_CEIL: case LN_UNARY_ROUND:
      return true;
    default:
      return false;
  }
}

/* ---- integer loads and stores ------------------------------------------- */

static inline int64_t load_int(ln_dtype dt, const char *p) {
  return dt == LN_INT64 ? *(const int64_t *)p : (int64_t)*(const uint8_t *)p;
}

/* uint8 keeps the low 8 bits (wraps), bool whether nonzero. */
static inline void store_int(ln_dtype dt, char *p, int64_t v) {
  if (dt == LN_INT64) *(int64_t *)p = v;
  else if (dt == LN_UINT8) *(uint8_t *)p = (uint8_t)v;
  else *(uint8_t *)p = v != 0;
}

/* ---- unary -------------------------------------------------------------- */

typedef struct unary_ctx {
  ln_unary_op op;
  ln_dtype in, out;
} unary_ctx;

/* Contiguous float32: one plain loop per op. `omp simd` lets -O2 vectorize
** them (its default cost model refuses loops of unknown length); it is safe
** because out is either x itself or does not overlap it. Loops calling libm
** (sqrtf sets errno; floorf needs SSE4.1) stay scalar. */
static void unary_f32_contig(ln_unary_op op, float *o, const float *x,
                             int64_t n) {
  int64_t i;
  switch (op) {
    case LN_UNARY_NEG:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = -x[i];
      break;
    case LN_UNARY_ABS:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = fabsf(x[i]);
      break;
    case LN_UNARY_RELU:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = relu_f(x[i]);
      break;
    case LN_UNARY_SQUARE:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = x[i] * x[i];
      break;
    case LN_UNARY_RECIPROCAL:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = 1.0f / x[i];
      break;
    case LN_UNARY_SQRT: for (i = 0; i < n; i++) o[i] = sqrtf(x[i]); break;
    case LN_UNARY_RSQRT: for (i = 0; i < n; i++) o[i] = 1.0f / sqrtf(x[i]); break;
    case LN_UNARY_FLOOR: for (i = 0; i < n; i++) o[i] = floorf(x[i]); break;
    case LN_UNARY_CEIL: for (i = 0; i < n; i++) o[i] = ceilf(x[i]); break;
    case LN_UNARY_EXP: for (i = 0; i < n; i++) o[i] = expf(x[i]); break;
    case LN_UNARY_LOG: for (i = 0; i < n; i++) o[i] = logf(x[i]); break;
    case LN_UNARY_SIN: for (i = 0; i < n; i++) o[i] = sinf(x[i]); break;
    case LN_UNARY_COS: for (i = 0; i < n; i++) o[i] = cosf(x[i]); break;
    case LN_UNARY_TANH: for (i = 0; i < n; i++) o[i] = tanhf(x[i]); break;
    case LN_UNARY_SIGMOID: for (i = 0; i < n; i++) o[i] = sigmoid_f(x[i]); break;
    case LN_UNARY_GELU: for (i = 0; i < n; i++) o[i] = gelu_f(x[i]); break;
    case LN_UNARY_SILU: for (i = 0; i < n; i++) o[i] = silu_f(x[i]); break;
    case LN_UNARY_ERF: for (i = 0; i < n; i++) o[i] = erff(x[i]); break;
    case LN_UNARY_TAN: for (i = 0; i < n; i++) o[i] = tanf(x[i]); break;
    case LN_UNARY_ASIN: for (i = 0; i < n; i++) o[i] = asinf(x[i]); break;
    case LN_UNARY_ACOS: for (i = 0; i < n; i++) o[i] = acosf(x[i]); break;
    case LN_UNARY_ATAN: for (i = 0; i < n; i++) o[i] = atanf(x[i]); break;
    default: for (i = 0; i < n; i++) o[i] = unary_f32(op, x[i]); break;
  }
}

static void unary_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const unary_ctx *c = ctx;
  char *o = p[0], *x = p[1];
  if (ln_unary_is_test(c->op)) { /* bool out, any dtype in */
    for (int64_t i = 0; i < n; i++, o += s[0], x += s[1])
      *(uint8_t *)o = unary_test(c->op, cpu_load(c->in, x));
    return;
  }
  switch (c->in) {
    case LN_FLOAT32:
      if (s[0] == 4 && s[1] == 4) {
        unary_f32_contig(c->op, (float *)o, (const float *)x, n);
        return;
      }
      for (int64_t i = 0; i < n; i++, o += s[0], x += s[1])
        *(float *)o = unary_f32(c->op, *(const float *)x);
      return;
    case LN_FLOAT64:
      for (int64_t i = 0; i < n; i++, o += s[0], x += s[1])
        *(double *)o = unary_f64(c->op, *(const double *)x);
      return;
    default:
      for (int64_t i = 0; i < n; i++, o += s[0], x += s[1])
        store_int(c->out, o, unary_int(c->op, load_int(c->in, x)));
      return;
  }
}

int cpu_unary(ln_unary_op op, ln_tensor *out, const ln_tensor *a) {
  if ((unsigned)op >= LN_UNARY_COUNT)
    return ln_error("unary: invalid op %d", (int)op);
  bool test = ln_unary_is_test(op);
  bool ok = test ? out->dtype == LN_BOOL : out->dtype == a->dtype;
  if (ok && !test && !ln_dtype_is_float(a->dtype) && !unary_int_supported(op))
    ok = false;
  if (!ok)
    return ln_error("%s: the CPU kernel does not take %s into %s",
                    ln_unary_name(op), ln_dtype_name(a->dtype),
                    ln_dtype_name(out->dtype));
  unary_ctx c = {op, a->dtype, out->dtype};
  const ln_tensor *ts[2] = {out, a};
  walk_in_memory_order(2, ts, unary_row, &c);
  return LN_OK;
}

/* ---- binary formulas ---------------------------------------------------- */

/* NaN propagates through maximum and minimum (as in PyTorch). */
static inline float max_f(float a, float b) { return a > b || a != a ? a : b; }
static inline float min_f(float a, float b) { return a < b || a != a ? a : b; }
static inline double max_d(double a, double b) { return a > b || a != a ? a : b; }
static inline double min_d(double a, double b) { return a < b || a != a ? a : b; }

/* Floored remainder and division, as Lua's % and // and PyTorch's
** remainder and floor_divide: the remainder takes the divisor's sign, and
** a == b q + r up to rounding (PyTorch's div_floor, which rounds q to the
** integer nearest (a - r) / b rather than flooring a / b). */
static inline double remainder_d(double a, double b) {
  double m = fmod(a, b);
  return m != 0 && (m < 0) != (b < 0) ? m + b : m;
}

static inline double floor_divide_d(double a, double b) {
  if (b == 0) return a / b;
  double m = fmod(a, b), q = (a - m) / b;
  if (m != 0 && (m < 0) != (b < 0)) q -= 1;
  if (q == 0) return copysign(0.0, a / b);
  double f = floor(q);
  return q - f > 0.5 ? f + 1 : f;
}

static inline float remainder_f(float a, float b) {
  float m = fmodf(a, b);
  return m != 0 && (m < 0) != (b < 0) ? m + b : m;
}

static inline float floor_divide_f(float a, float b) {
  if (b == 0) return a / b;
  float m = fmodf(a, b), q = (a - m) / b;
  if (m != 0 && (m < 0) != (b < 0)) q -= 1;
  if (q == 0) return copysignf(0.0f, a / b);
  float f = floorf(q);
  return q - f > 0.5f ? f + 1 : f;
}

static float binary_f32(ln_binary_op op, float a, float b) {
  switch (op) {
    case LN_BINARY_ADD: return a + b;
    case LN_BINARY_SUB: return a - b;
    case LN_BINARY_MUL: return a * b;
    case LN_BINARY_DIV: return a / b;
    case LN_BINARY_POW: return powf(a, b);
    case LN_BINARY_MAXIMUM: return max_f(a, b);
    case LN_BINARY_MINIMUM: return min_f(a, b);
    case LN_BINARY_FMOD: return fmodf(a, b);
    case LN_BINARY_ATAN2: return atan2f(a, b);
    case LN_BINARY_REMAINDER: return remainder_f(a, b);
    case LN_BINARY_FLOOR_DIVIDE: return floor_divide_f(a, b);
    default: return 0;
  }
}

static double binary_f64(ln_binary_op op, double a, double b) {
  switch (op) {
    case LN_BINARY_ADD: return a + b;
    case LN_BINARY_SUB: return a - b;
    case LN_BINARY_MUL: return a * b;
    case LN_BINARY_DIV: return a / b;
    case LN_BINARY_POW: return pow(a, b);
    case LN_BINARY_MAXIMUM: return max_d(a, b);
    case LN_BINARY_MINIMUM: return min_d(a, b);
    case LN_BINARY_FMOD: return fmod(a, b);
    case LN_BINARY_ATAN2: return atan2(a, b);
    case LN_BINARY_REMAINDER: return remainder_d(a, b);
    case LN_BINARY_FLOOR_DIVIDE: return floor_divide_d(a, b);
    default: return 0;
  }
}

/* a^b in wrapping int64 by squaring. A negative exponent gives the
** truncated true value: 1 for a == 1, +-1 for a == -1, else 0. */
static int64_t ipow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)a;
  for (uint64_t e = (uint64_t)b; e; e >>= 1) {
    if (e & 1) r *= x;
    x *= x;
  }
  return (int64_t)r;
}

/* Integer ops in wrapping int64 (uint8 and bool values fit exactly; the
** store narrows). fmod truncates like C's %, remainder and floor_divide
** floor like Lua's; divisors of 0 were refused before, INT64_MIN % -1
** (which traps in C) is 0 and INT64_MIN // -1 wraps, as in Lua. */
static int64_t remainder_int(int64_t a, int64_t b) {
  int64_t m = b == 0 || b == -1 ? 0 : a % b;
  return m != 0 && (m < 0) != (b < 0) ? m + b : m;
}

static int64_t floor_divide_int(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return (int64_t)(0u - (uint64_t)a);
  int64_t q = a / b;
  return a % b != 0 && (a < 0) != (b < 0) ? q - 1 : q;
}

static int64_t binary_int(ln_binary_op op, int64_t a, int64_t b) {
  switch (op) {
    case LN_BINARY_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case LN_BINARY_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case LN_BINARY_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case LN_BINARY_POW: return ipow(a, b);
    case LN_BINARY_MAXIMUM: return a > b ? a : b;
    case LN_BINARY_MINIMUM: return a < b ? a : b;
    case LN_BINARY_FMOD: return b == 0 || b == -1 ? 0 : a % b;
    case LN_BINARY_REMAINDER: return remainder_int(a, b);
    case LN_BINARY_FLOOR_DIVIDE: return floor_divide_int(a, b);
    default: return 0;
  }
}

/* Comparisons and logical ops; NaN compares unequal to everything. */
static bool test_f64(ln_binary_op op, double a, double b) {
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
    default: return false;
  }
}

static bool test_int(ln_binary_op op, int64_t a, int64_t b) {
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
    default: return false;
  }
}

/* ---- binary rows -------------------------------------------------------- */

typedef struct binary_ctx {
  ln_binary_op op;
  ln_dtype dt;     /* the operands' */
  ln_dtype out;    /* dt, or bool for tests */
  bool test;       /* comparison or logical op */
} binary_ctx;

/* out = a op b over n contiguous floats, b contiguous or (b_scalar) one
** broadcast value (x * 0.5): vector loops, as in unary_f32_contig. */
static void f32_arith(ln_binary_op op, float *o, const float *a,
                      const float *b, bool b_scalar, int64_t n) {
  int64_t i;
  if (b_scalar) {
    float v = *b;
    switch (op) {
      case LN_BINARY_ADD:
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = a[i] + v;
        break;
      case LN_BINARY_SUB:
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = a[i] - v;
        break;
      case LN_BINARY_MUL:
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = a[i] * v;
        break;
      case LN_BINARY_DIV:
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = a[i] / v;
        break;
      case LN_BINARY_MAXIMUM:
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = max_f(a[i], v);
        break;
      default: /* minimum */
#pragma omp simd
        for (i = 0; i < n; i++) o[i] = min_f(a[i], v);
        break;
    }
    return;
  }
  switch (op) {
    case LN_BINARY_ADD:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] + b[i];
      break;
    case LN_BINARY_SUB:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] - b[i];
      break;
    case LN_BINARY_MUL:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] * b[i];
      break;
    case LN_BINARY_DIV:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] / b[i];
      break;
    case LN_BINARY_MAXIMUM:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = max_f(a[i], b[i]);
      break;
    default: /* minimum */
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = min_f(a[i], b[i]);
      break;
  }
}

/* out = a cmp b (bool bytes) over n contiguous floats, b contiguous or
** (b_scalar) one broadcast value: relu's backward asks y > 0 every step. */
static void f32_compare(ln_binary_op op, uint8_t *o, const float *a,
                        const float *b, bool b_scalar, int64_t n) {
  int64_t i, sb = b_scalar ? 0 : 1;
  switch (op) {
    case LN_BINARY_EQ:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] == b[i * sb];
      break;
    case LN_BINARY_NE:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] != b[i * sb];
      break;
    case LN_BINARY_LT:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] < b[i * sb];
      break;
    case LN_BINARY_LE:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] <= b[i * sb];
      break;
    case LN_BINARY_GT:
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] > b[i * sb];
      break;
    default: /* GE */
#pragma omp simd
      for (i = 0; i < n; i++) o[i] = a[i] >= b[i * sb];
      break;
  }
}

static bool is_comparison(ln_binary_op op) {
  return op >= LN_BINARY_EQ && op <= LN_BINARY_GE;
}

static bool has_vector_loop(ln_binary_op op) {
  return op == LN_BINARY_ADD || op == LN_BINARY_SUB || op == LN_BINARY_MUL ||
         op == LN_BINARY_DIV || op == LN_BINARY_MAXIMUM ||
         op == LN_BINARY_MINIMUM;
}

static void f32_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const binary_ctx *c = ctx;
  char *o = p[0], *a = p[1], *b = p[2];
  if (has_vector_loop(c->op) && s[0] == 4 && s[1] == 4 &&
      (s[2] == 4 || s[2] == 0)) {
    f32_arith(c->op, (float *)o, (const float *)a, (const float *)b, s[2] == 0, n);
    return;
  }
  if (is_comparison(c->op) && s[0] == 1 && s[1] == 4 && (s[2] == 4 || s[2] == 0)) {
    f32_compare(c->op, (uint8_t *)o, (const float *)a, (const float *)b, s[2] == 0, n);
    return;
  }
  for (int64_t i = 0; i < n; i++, o += s[0], a += s[1], b += s[2]) {
    float x = *(const float *)a, y = *(const float *)b;
    if (c->test) *(uint8_t *)o = test_f64(c->op, x, y);
    else *(float *)o = binary_f32(c->op, x, y);
  }
}

static void f64_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const binary_ctx *c = ctx;
  char *o = p[0], *a = p[1], *b = p[2];
  for (int64_t i = 0; i < n; i++, o += s[0], a += s[1], b += s[2]) {
    double x = *(const double *)a, y = *(const double *)b;
    if (c->test) *(uint8_t *)o = test_f64(c->op, x, y);
    else *(double *)o = binary_f64(c->op, x, y);
  }
}

static void int_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const binary_ctx *c = ctx;
  char *o = p[0], *a = p[1], *b = p[2];
  for (int64_t i = 0; i < n; i++, o += s[0], a += s[1], b += s[2]) {
    int64_t x = load_int(c->dt, a), y = load_int(c->dt, b);
    if (c->test) *(uint8_t *)o = test_int(c->op, x, y);
    else store_int(c->out, o, binary_int(c->op, x, y));
  }
}

typedef struct zero_scan {
  atomic_int found;
  ln_dtype dt;
} zero_scan;

/* Sets `found` when a row holds a zero (divisors of integer fmod,
** remainder and floor_divide). */
static void zero_scan_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  zero_scan *z = ctx;
  char *x = p[0];
  for (int64_t i = 0; i < n; i++, x += s[0]) {
    if (load_int(z->dt, x) == 0) {
      atomic_store_explicit(&z->found, 1, memory_order_relaxed);
      return;
    }
  }
}

static bool has_zero(const ln_tensor *t) {
  zero_scan z = {0, t->dtype};
  const ln_tensor *ts[1] = {t};
  cpu_for_each(1, ts, zero_scan_row, &z, true);
  return atomic_load(&z.found) != 0;
}

static bool is_test(ln_binary_op op) {
  return op >= LN_BINARY_EQ && op <= LN_BINARY_XOR;
}

int cpu_binary(ln_binary_op op, ln_tensor *out, const ln_tensor *a,
               const ln_tensor *b) {
  if ((unsigned)op >= LN_BINARY_COUNT)
    return ln_error("binary: invalid op %d", (int)op);
  bool test = is_test(op), is_float = ln_dtype_is_float(a->dtype);
  bool ok = a->dtype == b->dtype &&
            out->dtype == (test ? LN_BOOL : a->dtype) &&
            (is_float || test || (op != LN_BINARY_DIV && op != LN_BINARY_ATAN2));
  if (!ok)
    return ln_error("%s: the CPU kernel does not take %s and %s into %s",
                    ln_binary_name(op), ln_dtype_name(a->dtype),
                    ln_dtype_name(b->dtype), ln_dtype_name(out->dtype));
  bool divides = op == LN_BINARY_FMOD || op == LN_BINARY_REMAINDER ||
                 op == LN_BINARY_FLOOR_DIVIDE;
  if (divides && !is_float && has_zero(b))
    return ln_error("%s: integer division by zero", ln_binary_name(op));
  binary_ctx c = {op, a->dtype, out->dtype, test};
  const ln_tensor *ts[3] = {out, a, b};
  cpu_row_fn row = a->dtype == LN_FLOAT32 ? f32_row
                   : a->dtype == LN_FLOAT64 ? f64_row : int_row;
  walk_in_memory_order(3, ts, row, &c);
  return LN_OK;
}

/* ---- clamp and leaky_relu ----------------------------------------------- */

typedef struct clamp_ctx {
  ln_dtype dt;
  double lo, hi;
  int64_t ilo, ihi; /* the bounds for integer dtypes, saturated */
} clamp_ctx;

/* f(x) = min(max(x, lo), hi); NaN stays NaN */
static void clamp_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const clamp_ctx *c = ctx;
  char *o = p[0], *x = p[1];
  if (c->dt == LN_FLOAT32) {
    float lo = (float)c->lo, hi = (float)c->hi;
    if (s[0] == 4 && s[1] == 4) {
      float *fo = (float *)o;
      const float *fx = (const float *)x;
#pragma omp simd
      for (int64_t i = 0; i < n; i++) {
        float v = fx[i] < lo ? lo : fx[i];
        fo[i] = v > hi ? hi : v;
      }
      return;
    }
    for (int64_t i = 0; i < n; i++, o += s[0], x += s[1]) {
      float v = *(const float *)x;
      v = v < lo ? lo : v;
      *(float *)o = v > hi ? hi : v;
    }
  } else if (c->dt == LN_FLOAT64) {
    for (int64_t i = 0; i < n; i++, o += s[0], x += s[1]) {
      double v = *(const double *)x;
      v = v < c->lo ? c->lo : v;
      *(double *)o = v > c->hi ? c->hi : v;
    }
  } else {
    for (int64_t i = 0; i < n; i++, o += s[0], x += s[1]) {
      int64_t v = load_int(c->dt, x);
      v = v < c->ilo ? c->ilo : v;
      store_int(c->dt, o, v > c->ihi ? c->ihi : v);
    }
  }
}

/* An integer bound: v rounded inward (ceil for lo, floor for hi), then
** saturated to [min, max] of the dtype. */
static int64_t int_bound(double v, bool lower, int64_t min, int64_t max) {
  v = lower ? ceil(v) : floor(v);
  if (v <= (double)min) return min;
  if (v >= (double)max) return max;
  return (int64_t)v;
}

int cpu_clamp(ln_tensor *out, const ln_tensor *a, double lo, double hi) {
  if (out->dtype != a->dtype || a->dtype == LN_BOOL)
    return ln_error("clamp: the CPU kernel does not take %s into %s",
                    ln_dtype_name(a->dtype), ln_dtype_name(out->dtype));
  int64_t min = a->dtype == LN_UINT8 ? 0 : INT64_MIN;
  int64_t max = a->dtype == LN_UINT8 ? 255 : INT64_MAX;
  clamp_ctx c = {a->dtype, lo, hi, int_bound(lo, true, min, max),
                 int_bound(hi, false, min, max)};
  const ln_tensor *ts[2] = {out, a};
  walk_in_memory_order(2, ts, clamp_row, &c);
  return LN_OK;
}

typedef struct leaky_ctx {
  ln_dtype dt;
  double slope;
} leaky_ctx;

/* f(x) = x > 0 ? x : slope x */
static void leaky_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  const leaky_ctx *c = ctx;
  char *o = p[0], *x = p[1];
  if (c->dt == LN_FLOAT32) {
    float k = (float)c->slope;
    if (s[0] == 4 && s[1] == 4) {
      float *fo = (float *)o;
      const float *fx = (const float *)x;
#pragma omp simd
      for (int64_t i = 0; i < n; i++) { /* max(x,0) + k min(x,0): selects */
        float v = fx[i], pos = v < 0 ? 0.0f : v, neg = v > 0 ? 0.0f : v;
        fo[i] = pos + k * neg; /* exact: one of the two terms is 0 */
      }
      return;
    }
    for (int64_t i = 0; i < n; i++, o += s[0], x += s[1]) {
      float v = *(const float *)x;
      *(float *)o = v > 0 ? v : v * k;
    }
    return;
  }
  for (int64_t i = 0; i < n; i++, o += s[0], x += s[1]) {
    double v = *(const double *)x;
    *(double *)o = v > 0 ? v : v * c->slope;
  }
}

int cpu_leaky_relu(ln_tensor *out, const ln_tensor *a, double slope) {
  if (out->dtype != a->dtype || !ln_dtype_is_float(a->dtype))
    return ln_error("leaky_relu: the CPU kernel does not take %s into %s",
                    ln_dtype_name(a->dtype), ln_dtype_name(out->dtype));
  leaky_ctx c = {a->dtype, slope};
  const ln_tensor *ts[2] = {out, a};
  walk_in_memory_order(2, ts, leaky_row, &c);
  return LN_OK;
}

/* ---- where -------------------------------------------------------------- */

/* out = cond ? a : b, moving elements of 1, 4 or 8 bytes */
static void where_row(char **p, const int64_t *s, int64_t n, void *ctx) {
  size_t es = *(const size_t *)ctx;
  char *o = p[0], *c = p[1], *a = p[2], *b = p[3];
  /* contiguous 4-byte values, a or b possibly one broadcast value (the
  ** zero of a masked gradient: relu's backward) */
  if (es == 4 && s[0] == 4 && s[1] == 1 && (s[2] == 4 || s[2] == 0) &&
      (s[3] == 4 || s[3] == 0)) {
    uint32_t *fo = (uint32_t *)o;
    const uint32_t *fa = (const uint32_t *)a, *fb = (const uint32_t *)b;
    const uint8_t *fc = (const uint8_t *)c;
    int64_t sa = s[2] / 4, sb = s[3] / 4;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) { /* both loaded: a select */
      uint32_t va = fa[i * sa], vb = fb[i * sb];
      fo[i] = fc[i] ? va : vb;
    }
    return;
  }
  for (int64_t i = 0; i < n; i++, o += s[0], c += s[1], a += s[2], b += s[3]) {
    const char *src = *(const uint8_t *)c ? a : b;
    switch (es) {
      case 1: *(uint8_t *)o = *(const uint8_t *)src; break;
      case 4: *(uint32_t *)o = *(const uint32_t *)src; break;
      default: *(uint64_t *)o = *(const uint64_t *)src; break;
    }
  }
}

int cpu_where(ln_tensor *out, const ln_tensor *cond, const ln_tensor *a,
              const ln_tensor *b) {
  if (cond->dtype != LN_BOOL || a->dtype != out->dtype ||
      b->dtype != out->dtype)
    return ln_error("where: the CPU kernel expects a bool condition and "
                    "operands of the output's dtype");
  size_t es = ln_dtype_size(out->dtype);
  const ln_tensor *ts[4] = {out, cond, a, b};
  walk_in_memory_order(4, ts, where_row, &es);
  return LN_OK;
}
