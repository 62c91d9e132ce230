/*
** op_pointwise.c: elementwise ops (unary, binary, clamp, leaky_relu,
** where): argument checks, NumPy broadcasting, PyTorch's dtype promotion,
** the in-place variants, and the backward of every differentiable op.
** The kernels sit behind the backend table (core/cpu_pointwise.c); relu's
** backward is one primitive kernel (core/op_relu_grad.c).
**
** Each op is a row of a table (name, dtype rule, backward, what backward
** needs saved), so the forward paths are written once for all ops.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "op.h"
#include "relu_grad.h"
#include "shape.h"

/* What a backward needs saved: the (first) input, the second input, the
** output. */
enum { SLOT_A, SLOT_B, SLOT_OUT, NSLOTS };
enum { SAVE_A = 1 << SLOT_A, SAVE_B = 1 << SLOT_B, SAVE_OUT = 1 << SLOT_OUT };

/* Every pointwise node's parameters. */
typedef struct pointwise_params {
  int64_t slot[NSLOTS];      /* the saved index of each SLOT_x, or -1 */
  double lo, hi;             /* clamp's bounds */
  double slope;              /* leaky_relu's */
} pointwise_params;

/* ---- dtype rules -------------------------------------------------------- */

/* PyTorch's categories: bool < integer < float. */
static int category(ln_dtype dt) {
  return dt == LN_BOOL ? 0 : ln_dtype_is_float(dt) ? 2 : 1;
}

/* The common dtype of two tensor operands. As in PyTorch, a 0-dim tensor
** only decides it when its category is above the other's: float32 (3,) +
** float64 0-dim stays float32, int64 (3,) + float64 0-dim is float64. */
static ln_dtype result_type(const ln_tensor *a, const ln_tensor *b) {
  if ((a->ndim == 0) == (b->ndim == 0))
    return ln_dtype_promote(a->dtype, b->dtype);
  const ln_tensor *dim = a->ndim ? a : b, *zero = a->ndim ? b : a;
  return category(zero->dtype) > category(dim->dtype) ? zero->dtype
                                                      : dim->dtype;
}

static bool is_integral(double s) {
  return s == floor(s) && fabs(s) < 0x1p63;
}

/* The common dtype of a tensor and a Lua number: the tensor's, unless the
** number's category is higher (an integral number is an integer): then
** int64 or float32, PyTorch's defaults. */
static ln_dtype scalar_type(ln_dtype dt, double s) {
  int cat = is_integral(s) ? 1 : 2;
  if (cat <= category(dt)) return dt;
  return cat == 1 ? LN_INT64 : LN_FLOAT32;
}

/* PyTorch's canCast: no float into integers, nothing but bool into bool. */
static bool can_cast(ln_dtype from, ln_dtype to) {
  if (ln_dtype_is_float(from) && !ln_dtype_is_float(to)) return false;
  return from == LN_BOOL || to != LN_BOOL;
}

/* PyTorch's names, for messages PyTorch users will recognize. */
static const char *torch_name(ln_dtype dt) {
  static const char *names[LN_DTYPE_COUNT] = {
    [LN_FLOAT32] = "Float", [LN_FLOAT64] = "Double", [LN_INT64] = "Long",
    [LN_UINT8] = "Byte", [LN_BOOL] = "Bool",
  };
  return (unsigned)dt < LN_DTYPE_COUNT ? names[dt] : "?";
}

/* ---- small helpers ------------------------------------------------------ */

/* A contiguous copy of t's values, without history: what an in-place op
** saves before it overwrites an input its backward needs. */
static ln_tensor *raw_copy(ln_tensor *t) {
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
  if (r && LN_BACKEND(t)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

/* Saves vals[k] for each slot k in saves, and the node's params: num's
** numbers (NULL: none) with the slots filled in. */
static int save_values(ln_node *n, int saves, ln_tensor *const *vals,
                       const pointwise_params *num) {
  if (!n) return LN_OK;
  pointwise_params p = num ? *num : (pointwise_params){{0}};
  for (int k = 0; k < NSLOTS; k++) {
    p.slot[k] = -1;
    if (saves & (1 << k)) {
      p.slot[k] = n->nsaved;
      if (ln_node_save(n, vals[k]) != LN_OK) return LN_ERR;
    }
  }
  return ln_node_params(n, &p, sizeof p);
}

static ln_tensor *saved(ln_node *n, int slot) {
  const pointwise_params *p = n->params;
  if (!p || p->slot[slot] < 0)
    return ln_error("%s: missing saved tensor", n->name), NULL;
  return ln_node_saved(n, (int)p->slot[slot]);
}

/* where(mask, g, 0), or where(mask, 0, g) when !keep. */
static ln_tensor *masked(ln_tensor *mask, ln_tensor *g, bool keep) {
  ln_tensor *zero = ln_scalar(0, g->dtype, ln_tensor_device(g));
  ln_tensor *r = zero ? ln_where(mask, keep ? g : zero, keep ? zero : g) : NULL;
  ln_tensor_release(zero);
  return r;
}

static int set_grad(ln_tensor **gin, int i, ln_tensor *g) {
  gin[i] = g;
  return g ? LN_OK : LN_ERR;
}

/* ---- unary backward ----------------------------------------------------- */

/* Ops whose derivative is zero where defined (sign, floor, comparisons, an
** in-place comparison on a float tensor): zeros for every input. */
static int zeros_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  for (int i = 0; i < n->ninputs; i++) {
    if (!ln_node_needs_grad(n, i)) continue;
    gin[i] = ln_zeros(g->ndim, g->shape, g->dtype, ln_tensor_device(g));
    if (!gin[i]) return LN_ERR;
  }
  return LN_OK;
}

/* d(-x) = -1 */
static int neg_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  return set_grad(gin, 0, ln_unary(LN_UNARY_NEG, g));
}

/* d|x| = sign(x) */
static int abs_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_SIGN, x));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d exp(x) = exp(x) = y */
static int exp_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  return set_grad(gin, 0, ln_mul(g, y));
}

/* d log(x) = 1/x */
static int log_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  return set_grad(gin, 0, ln_div(g, x));
}

/* d sqrt(x) = 1/(2y) */
static int sqrt_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *y2 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, y, 2));
  LN_GRAD(&s, gin[0], ln_div(g, y2));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d x^-1/2 = -y^3/2 */
static int rsqrt_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *y2 = LN_TMP(&s, ln_mul(y, y));
  ln_tensor *y3 = LN_TMP(&s, ln_mul(y, y2));
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, y3, -0.5));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d sin(x) = cos(x) */
static int sin_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_COS, x));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d cos(x) = -sin(x) */
static int cos_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *sn = LN_TMP(&s, ln_unary(LN_UNARY_SIN, x));
  ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_NEG, sn));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d tanh(x) = 1 - y^2 */
static int tanh_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *y2 = LN_TMP(&s, ln_mul(y, y));
  ln_tensor *d = LN_TMP(&s, ln_scalar_binary(LN_BINARY_SUB, 1, y2));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d sigmoid(x) = y (1 - y) */
static int sigmoid_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *c = LN_TMP(&s, ln_scalar_binary(LN_BINARY_SUB, 1, y));
  ln_tensor *d = LN_TMP(&s, ln_mul(y, c));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d relu(x) = 1 where y > 0, else 0: one kernel (op_relu_grad.c), or
** recorded ops under create_graph */
static int relu_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  if (!ln_creating_graph() && ln_relu_grad_takes(g, y))
    return set_grad(gin, 0, ln_relu_grad(g, y));
  ln_scope s = {0};
  ln_tensor *pos = LN_TMP(&s, ln_binary_scalar(LN_BINARY_GT, y, 0));
  LN_GRAD(&s, gin[0], masked(pos, g, true));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d (1/x) = -y^2 */
static int reciprocal_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *y2 = LN_TMP(&s, ln_mul(y, y));
  ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_NEG, y2));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d x^2 = 2x */
static int square_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, x, 2));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d log(1+x) = 1/(1+x) */
static int log1p_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *x1 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, x, 1));
  LN_GRAD(&s, gin[0], ln_div(g, x1));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d (exp(x)-1) = y + 1 */
static int expm1_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, y, 1));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d gelu(x) = Phi(x) + x phi(x). Phi = (1 + erf(x/sqrt 2))/2 would cancel
** for x < 0, but gelu's own kernel computes y = x Phi(x) to a few ulps, so
** Phi = y/x (Phi = 1/2 near 0, where the division would lose it);
** phi(x) = exp(-x^2/2)/sqrt(2 pi). */
static int gelu_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A), *y = saved(n, SLOT_OUT);
  if (!x || !y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *ax = LN_TMP(&s, ln_unary(LN_UNARY_ABS, x));
  ln_tensor *tiny = LN_TMP(&s, ln_binary_scalar(LN_BINARY_LT, ax, 1e-20));
  ln_tensor *half = LN_TMP(&s, ln_scalar(0.5, x->dtype, ln_tensor_device(x)));
  ln_tensor *ratio = LN_TMP(&s, ln_div(y, x));
  ln_tensor *cdf = LN_TMP(&s, ln_where(tiny, half, ratio));
  ln_tensor *x2 = LN_TMP(&s, ln_mul(x, x));
  ln_tensor *e = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, x2, -0.5));
  ln_tensor *ex = LN_TMP(&s, ln_unary(LN_UNARY_EXP, e));
  ln_tensor *pdf = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, ex,
                                               0.3989422804014327)); /* 1/sqrt(2 pi) */
  ln_tensor *xp = LN_TMP(&s, ln_mul(x, pdf));
  ln_tensor *d = LN_TMP(&s, ln_add(cdf, xp));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d x sigmoid(x) = s (1 + x (1 - s)), s = sigmoid(x) */
static int silu_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *sg = LN_TMP(&s, ln_unary(LN_UNARY_SIGMOID, x));
  ln_tensor *one_minus = LN_TMP(&s, ln_scalar_binary(LN_BINARY_SUB, 1, sg));
  ln_tensor *xo = LN_TMP(&s, ln_mul(x, one_minus));
  ln_tensor *inner = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, xo, 1));
  ln_tensor *d = LN_TMP(&s, ln_mul(sg, inner));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d erf(x) = 2/sqrt(pi) exp(-x^2) */
static int erf_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *x2 = LN_TMP(&s, ln_mul(x, x));
  ln_tensor *e = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, x2, -1));
  ln_tensor *ex = LN_TMP(&s, ln_unary(LN_UNARY_EXP, e));
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, ex,
                                             1.1283791670955126)); /* 2/sqrt(pi) */
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d tan(x) = 1 + y^2 */
static int tan_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *y = saved(n, SLOT_OUT);
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *y2 = LN_TMP(&s, ln_mul(y, y));
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, y2, 1));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* 1/sqrt(1 - x^2), asin's derivative and minus acos's */
static ln_tensor *arcsin_slope(ln_tensor *x) {
  ln_scope s = {0};
  ln_tensor *x2 = LN_TMP(&s, ln_mul(x, x));
  ln_tensor *d = LN_TMP(&s, ln_scalar_binary(LN_BINARY_SUB, 1, x2));
  return ln_scope_keep(&s, LN_TMP(&s, ln_unary(LN_UNARY_RSQRT, d)));
fail:
  return ln_scope_end(&s);
}

/* d asin(x) = 1/sqrt(1 - x^2) */
static int asin_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *d = LN_TMP(&s, arcsin_slope(x));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d acos(x) = -1/sqrt(1 - x^2) */
static int acos_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *slope = LN_TMP(&s, arcsin_slope(x));
  ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_NEG, slope));
  LN_GRAD(&s, gin[0], ln_mul(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d atan(x) = 1/(1 + x^2) */
static int atan_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *x2 = LN_TMP(&s, ln_mul(x, x));
  ln_tensor *d = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, x2, 1));
  LN_GRAD(&s, gin[0], ln_div(g, d));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- the unary table ---------------------------------------------------- */

typedef enum unary_kind {
  U_FLOAT,     /* integer and bool inputs give float32 */
  U_KEEP,      /* same dtype; bool is an error */
  U_KEEP_BOOL, /* same dtype, bool included */
  U_BOOL_INT,  /* same dtype; bool gives int64 (square) */
  U_LOGICAL    /* bool result (the tests: ln_unary_is_test) */
} unary_kind;

typedef struct unary_def {
  const char *name, *grad_name;
  unary_kind kind;
  ln_backward_fn backward;
  int saves;
} unary_def;

static const unary_def unary_defs[LN_UNARY_COUNT] = {
  [LN_UNARY_NEG] = {"neg", "NegBackward", U_KEEP, neg_backward, 0},
  [LN_UNARY_ABS] = {"abs", "AbsBackward", U_KEEP, abs_backward, SAVE_A},
  [LN_UNARY_EXP] = {"exp", "ExpBackward", U_FLOAT, exp_backward, SAVE_OUT},
  [LN_UNARY_LOG] = {"log", "LogBackward", U_FLOAT, log_backward, SAVE_A},
  [LN_UNARY_SQRT] = {"sqrt", "SqrtBackward", U_FLOAT, sqrt_backward, SAVE_OUT},
  [LN_UNARY_RSQRT] = {"rsqrt", "RsqrtBackward", U_FLOAT,
                      rsqrt_backward, SAVE_OUT},
  [LN_UNARY_SIN] = {"sin", "SinBackward", U_FLOAT, sin_backward, SAVE_A},
  [LN_UNARY_COS] = {"cos", "CosBackward", U_FLOAT, cos_backward, SAVE_A},
  [LN_UNARY_TANH] = {"tanh", "TanhBackward", U_FLOAT, tanh_backward, SAVE_OUT},
  [LN_UNARY_SIGMOID] = {"sigmoid", "SigmoidBackward", U_FLOAT,
                        sigmoid_backward, SAVE_OUT},
  [LN_UNARY_RELU] = {"relu", "ReluBackward", U_KEEP, relu_backward, SAVE_OUT},
  [LN_UNARY_SIGN] = {"sign", "SignBackward", U_KEEP_BOOL, zeros_backward, 0},
  [LN_UNARY_FLOOR] = {"floor", "FloorBackward", U_KEEP, zeros_backward, 0},
  [LN_UNARY_CEIL] = {"ceil", "CeilBackward", U_KEEP, zeros_backward, 0},
  [LN_UNARY_ROUND] = {"round", "RoundBackward", U_KEEP, zeros_backward, 0},
  [LN_UNARY_RECIPROCAL] = {"reciprocal", "ReciprocalBackward", U_FLOAT,
                           reciprocal_backward, SAVE_OUT},
  [LN_UNARY_SQUARE] = {"square", "SquareBackward", U_BOOL_INT,
                       square_backward, SAVE_A},
  [LN_UNARY_LOG1P] = {"log1p", "Log1PBackward", U_FLOAT,
                      log1p_backward, SAVE_A},
  [LN_UNARY_EXPM1] = {"expm1", "Expm1Backward", U_FLOAT,
                      expm1_backward, SAVE_OUT},
  [LN_UNARY_GELU] = {"gelu", "GeluBackward", U_FLOAT,
                     gelu_backward, SAVE_A | SAVE_OUT},
  [LN_UNARY_SILU] = {"silu", "SiluBackward", U_FLOAT, silu_backward, SAVE_A},
  [LN_UNARY_ERF] = {"erf", "ErfBackward", U_FLOAT, erf_backward, SAVE_A},
  [LN_UNARY_TAN] = {"tan", "TanBackward", U_FLOAT, tan_backward, SAVE_OUT},
  [LN_UNARY_ASIN] = {"asin", "AsinBackward", U_FLOAT, asin_backward, SAVE_A},
  [LN_UNARY_ACOS] = {"acos", "AcosBackward", U_FLOAT, acos_backward, SAVE_A},
  [LN_UNARY_ATAN] = {"atan", "AtanBackward", U_FLOAT, atan_backward, SAVE_A},
  [LN_UNARY_NOT] = {"logical_not", "LogicalNotBackward", U_LOGICAL,
                    zeros_backward, 0},
  [LN_UNARY_ISNAN] = {"isnan", "IsnanBackward", U_LOGICAL, zeros_backward, 0},
  [LN_UNARY_ISINF] = {"isinf", "IsinfBackward", U_LOGICAL, zeros_backward, 0},
  [LN_UNARY_ISFINITE] = {"isfinite", "IsfiniteBackward", U_LOGICAL,
                         zeros_backward, 0},
};

const char *ln_unary_name(ln_unary_op op) {
  return (unsigned)op < LN_UNARY_COUNT ? unary_defs[op].name : "?";
}

static int unary_result(ln_unary_op op, ln_dtype in, ln_dtype *out) {
  const unary_def *d = &unary_defs[op];
  *out = in;
  switch (d->kind) {
    case U_FLOAT: if (!ln_dtype_is_float(in)) *out = LN_FLOAT32; break;
    case U_BOOL_INT: if (in == LN_BOOL) *out = LN_INT64; break;
    case U_LOGICAL: *out = LN_BOOL; break;
    case U_KEEP_BOOL: break;
    case U_KEEP:
      if (in != LN_BOOL) break;
      if (op == LN_UNARY_NEG)
        return ln_error("neg: negation, the `-` operator, on a bool tensor is "
                        "not supported; to invert a mask use logical_not()");
      return ln_error("%s: not supported for bool tensors", d->name);
  }
  return LN_OK;
}

/* ---- binary backward ---------------------------------------------------- */

/* d(a+b) = (1, 1) */
static int add_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(g);
  if (ln_node_needs_grad(n, 1)) gin[1] = ln_tensor_retain(g);
  return LN_OK;
}

/* d(a-b) = (1, -1) */
static int sub_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(g);
  if (ln_node_needs_grad(n, 1) && set_grad(gin, 1, ln_unary(LN_UNARY_NEG, g)) != LN_OK)
    return LN_ERR;
  return LN_OK;
}

/* d(ab) = (b, a) */
static int mul_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *b = saved(n, SLOT_B);
    if (set_grad(gin, 0, b ? ln_mul(g, b) : NULL) != LN_OK) return LN_ERR;
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *a = saved(n, SLOT_A);
    if (set_grad(gin, 1, a ? ln_mul(g, a) : NULL) != LN_OK) return LN_ERR;
  }
  return LN_OK;
}

/* d(a/b) = (1/b, -y/b) */
static int div_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *b = saved(n, SLOT_B);
  if (!b) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0)) LN_GRAD(&s, gin[0], ln_div(g, b));
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *y = saved(n, SLOT_OUT);
    if (!y) goto fail;
    ln_tensor *gy = LN_TMP(&s, ln_mul(g, y));
    ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_NEG, gy));
    LN_GRAD(&s, gin[1], ln_div(d, b));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d a^b = (b a^(b-1), y log a), as PyTorch: 0 for a where b == 0, and 0
** for b where a == 0 and b >= 0. */
static int pow_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *a = saved(n, SLOT_A), *b = saved(n, SLOT_B);
  if (!a || !b) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *b1 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_SUB, b, 1));
    ln_tensor *p = LN_TMP(&s, ln_binary(LN_BINARY_POW, a, b1));
    ln_tensor *bp = LN_TMP(&s, ln_mul(b, p));
    ln_tensor *d = LN_TMP(&s, ln_mul(g, bp));
    ln_tensor *b0 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, b, 0));
    LN_GRAD(&s, gin[0], masked(b0, d, false));
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *y = saved(n, SLOT_OUT);
    if (!y) goto fail;
    ln_tensor *la = LN_TMP(&s, ln_unary(LN_UNARY_LOG, a));
    ln_tensor *ylog = LN_TMP(&s, ln_mul(y, la));
    ln_tensor *d = LN_TMP(&s, ln_mul(g, ylog));
    ln_tensor *a0 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, a, 0));
    ln_tensor *bpos = LN_TMP(&s, ln_binary_scalar(LN_BINARY_GE, b, 0));
    ln_tensor *zero_base = LN_TMP(&s, ln_binary(LN_BINARY_AND, a0, bpos));
    LN_GRAD(&s, gin[1], masked(zero_base, d, false));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* maximum/minimum: the gradient goes to the chosen side, split evenly on
** ties (as PyTorch). w = [a wins] + [a == b]/2; da = w, db = 1 - w. */
static int extremum_backward(ln_node *n, ln_tensor *g, ln_tensor **gin,
                             ln_binary_op wins) {
  ln_tensor *a = saved(n, SLOT_A), *b = saved(n, SLOT_B);
  if (!a || !b) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *wb = LN_TMP(&s, ln_binary(wins, a, b));
  ln_tensor *won = LN_TMP(&s, ln_cast_raw(wb, g->dtype));
  ln_tensor *eq = LN_TMP(&s, ln_binary(LN_BINARY_EQ, a, b));
  ln_tensor *tie = LN_TMP(&s, ln_cast_raw(eq, g->dtype));
  ln_tensor *half = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, tie, 0.5));
  ln_tensor *w = LN_TMP(&s, ln_add(won, half));
  if (ln_node_needs_grad(n, 0)) LN_GRAD(&s, gin[0], ln_mul(g, w));
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *w1 = LN_TMP(&s, ln_scalar_binary(LN_BINARY_SUB, 1, w));
    LN_GRAD(&s, gin[1], ln_mul(g, w1));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int maximum_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  return extremum_backward(n, g, gin, LN_BINARY_GT);
}

static int minimum_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  return extremum_backward(n, g, gin, LN_BINARY_LT);
}

/* fmod(a, b) = a - trunc(a/b) b: d = (1, -trunc(a/b)), and trunc(a/b) is
** the integer (a - y)/b (rounded to undo the division's rounding). */
static int fmod_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(g);
  if (!ln_node_needs_grad(n, 1)) return LN_OK;
  ln_tensor *a = saved(n, SLOT_A), *b = saved(n, SLOT_B);
  ln_tensor *y = a && b ? saved(n, SLOT_OUT) : NULL;
  if (!y) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *ay = LN_TMP(&s, ln_sub(a, y));
  ln_tensor *qb = LN_TMP(&s, ln_div(ay, b));
  ln_tensor *q = LN_TMP(&s, ln_unary(LN_UNARY_ROUND, qb));
  ln_tensor *gq = LN_TMP(&s, ln_mul(g, q));
  LN_GRAD(&s, gin[1], ln_unary(LN_UNARY_NEG, gq));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* remainder(a, b) = a - floor_divide(a, b) b: d = (1, -floor_divide(a, b)),
** as PyTorch's (the floored quotient's own derivative is 0 almost
** everywhere). */
static int remainder_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(g);
  if (!ln_node_needs_grad(n, 1)) return LN_OK;
  ln_tensor *a = saved(n, SLOT_A), *b = saved(n, SLOT_B);
  if (!a || !b) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *q = LN_TMP(&s, ln_binary(LN_BINARY_FLOOR_DIVIDE, a, b));
  ln_tensor *gq = LN_TMP(&s, ln_mul(g, q));
  LN_GRAD(&s, gin[1], ln_unary(LN_UNARY_NEG, gq));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d atan2(a, b) = (b, -a) / (a^2 + b^2) */
static int atan2_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *a = saved(n, SLOT_A), *b = saved(n, SLOT_B);
  if (!a || !b) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *a2 = LN_TMP(&s, ln_mul(a, a));
  ln_tensor *b2 = LN_TMP(&s, ln_mul(b, b));
  ln_tensor *den = LN_TMP(&s, ln_add(a2, b2));
  ln_tensor *gd = LN_TMP(&s, ln_div(g, den));
  if (ln_node_needs_grad(n, 0)) LN_GRAD(&s, gin[0], ln_mul(gd, b));
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *ga = LN_TMP(&s, ln_mul(gd, a));
    LN_GRAD(&s, gin[1], ln_unary(LN_UNARY_NEG, ga));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- the binary table --------------------------------------------------- */

typedef enum binary_kind {
  B_ARITH,   /* the common dtype */
  B_FLOAT,   /* integer operands give float32 (true division, atan2) */
  B_COMPARE, /* computed in the common dtype, bool result */
  B_LOGICAL  /* bool result */
} binary_kind;

typedef struct binary_def {
  const char *name, *grad_name;
  binary_kind kind;
  ln_backward_fn backward;
  int saves;
} binary_def;

static const binary_def binary_defs[LN_BINARY_COUNT] = {
  [LN_BINARY_ADD] = {"add", "AddBackward", B_ARITH, add_backward, 0},
  [LN_BINARY_SUB] = {"sub", "SubBackward", B_ARITH, sub_backward, 0},
  [LN_BINARY_MUL] = {"mul", "MulBackward", B_ARITH,
                     mul_backward, SAVE_A | SAVE_B},
  [LN_BINARY_DIV] = {"div", "DivBackward", B_FLOAT,
                     div_backward, SAVE_B | SAVE_OUT},
  [LN_BINARY_POW] = {"pow", "PowBackward", B_ARITH,
                     pow_backward, SAVE_A | SAVE_B | SAVE_OUT},
  [LN_BINARY_MAXIMUM] = {"maximum", "MaximumBackward", B_ARITH,
                         maximum_backward, SAVE_A | SAVE_B},
  [LN_BINARY_MINIMUM] = {"minimum", "MinimumBackward", B_ARITH,
                         minimum_backward, SAVE_A | SAVE_B},
  [LN_BINARY_FMOD] = {"fmod", "FmodBackward", B_ARITH,
                      fmod_backward, SAVE_A | SAVE_B | SAVE_OUT},
  [LN_BINARY_ATAN2] = {"atan2", "Atan2Backward", B_FLOAT,
                       atan2_backward, SAVE_A | SAVE_B},
  [LN_BINARY_REMAINDER] = {"remainder", "RemainderBackward", B_ARITH,
                           remainder_backward, SAVE_A | SAVE_B},
  [LN_BINARY_FLOOR_DIVIDE] = {"floor_divide", "FloorDivideBackward", B_ARITH,
                              zeros_backward, 0},
  [LN_BINARY_EQ] = {"eq", "EqBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_NE] = {"ne", "NeBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_LT] = {"lt", "LtBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_LE] = {"le", "LeBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_GT] = {"gt", "GtBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_GE] = {"ge", "GeBackward", B_COMPARE, zeros_backward, 0},
  [LN_BINARY_AND] = {"logical_and", "LogicalAndBackward", B_LOGICAL,
                     zeros_backward, 0},
  [LN_BINARY_OR] = {"logical_or", "LogicalOrBackward", B_LOGICAL,
                    zeros_backward, 0},
  [LN_BINARY_XOR] = {"logical_xor", "LogicalXorBackward", B_LOGICAL,
                     zeros_backward, 0},
};

const char *ln_binary_name(ln_binary_op op) {
  return (unsigned)op < LN_BINARY_COUNT ? binary_defs[op].name : "?";
}

/* The dtype the kernel computes in and the result's, from the operands'
** common dtype. */
static int binary_dtypes(ln_binary_op op, ln_dtype common, ln_dtype *compute,
                         ln_dtype *result) {
  const binary_def *d = &binary_defs[op];
  *compute = *result = common;
  if (d->kind == B_FLOAT && !ln_dtype_is_float(common))
    *compute = *result = LN_FLOAT32;
  if (d->kind == B_COMPARE || d->kind == B_LOGICAL) *result = LN_BOOL;
  if (common != LN_BOOL || d->kind != B_ARITH) return LN_OK;
  if (op == LN_BINARY_SUB)
    return ln_error("sub: subtraction, the `-` operator, with two bool "
                    "tensors is not supported; use logical_xor()");
  if (op == LN_BINARY_POW || op == LN_BINARY_FMOD ||
      op == LN_BINARY_REMAINDER || op == LN_BINARY_FLOOR_DIVIDE)
    return ln_error("%s: not supported for bool tensors", d->name);
  return LN_OK;
}

/* ---- forward machinery -------------------------------------------------- */

/* One op's kernel call, for an `out` of the op's shape and result dtype:
** the out-of-place and in-place paths share it. */
typedef struct op_call {
  int family;                /* CALL_UNARY, ... */
  int op;                    /* ln_unary_op or ln_binary_op */
  ln_tensor *a, *b;          /* operands (b: binary only) */
  ln_dtype compute;          /* the dtype operands are cast to */
  double p0, p1;             /* clamp bounds, leaky_relu slope */
} op_call;

enum { CALL_UNARY, CALL_BINARY, CALL_CLAMP, CALL_LEAKY };

static int run_call(const op_call *c, ln_tensor *out) {
  const ln_backend *be = LN_BACKEND(out);
  /* the tests read any dtype; the others get operands in `compute` */
  bool test = c->family == CALL_UNARY && ln_unary_is_test((ln_unary_op)c->op);
  ln_dtype dt = test ? c->a->dtype : c->compute;
  ln_scope s = {0};
  ln_tensor *ca = LN_TMP(&s, ln_cast_raw(c->a, dt));
  ln_tensor *ea = LN_TMP(&s, ln_expand_raw(ca, out->ndim, out->shape));
  ln_tensor *eb = NULL;
  if (c->family == CALL_BINARY) {
    ln_tensor *cb = LN_TMP(&s, ln_cast_raw(c->b, dt));
    eb = LN_TMP(&s, ln_expand_raw(cb, out->ndim, out->shape));
  }
  int rc;
  switch (c->family) {
    case CALL_UNARY: rc = be->unary((ln_unary_op)c->op, out, ea); break;
    case CALL_BINARY: rc = be->binary((ln_binary_op)c->op, out, ea, eb); break;
    case CALL_CLAMP: rc = be->clamp(out, ea, c->p0, c->p1); break;
    default: rc = be->leaky_relu(out, ea, c->p0); break;
  }
  return ln_scope_done(&s, rc);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* A new tensor of (ndim, shape, dt) on a's device holding the call. */
static ln_tensor *run_new(const op_call *c, int ndim, const int64_t *shape,
                          ln_dtype dt) {
  ln_tensor *out = ln_empty(ndim, shape, dt, ln_tensor_device(c->a));
  if (out && run_call(c, out) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* Whether an in-place result of dtype rt and shape (ndim, shape) can be
** written into a, as PyTorch decides. */
static int check_target(const char *op, const ln_tensor *a, ln_dtype rt,
                        int ndim, const int64_t *shape) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  if (!can_cast(rt, a->dtype))
    return ln_error("%s: result type %s can't be cast to the desired output "
                    "type %s", op, torch_name(rt), torch_name(a->dtype));
  if (ndim != a->ndim || memcmp(shape, a->shape, sizeof *shape * (size_t)ndim))
    return ln_error("%s: output with shape %s doesn't match the broadcast "
                    "shape %s", op, ln_shape_str(a->ndim, a->shape, s1, sizeof s1),
                    ln_shape_str(ndim, shape, s2, sizeof s2));
  for (int d = 0; d < a->ndim; d++)
    if (a->stride[d] == 0 && a->shape[d] > 1)
      return ln_error("%s: more than one element of the written-to tensor "
                      "refers to a single memory location; clone() it first",
                      op);
  return LN_OK;
}

/* Entry points' check of their tensor arguments. */
static int check_tensors(const char *op, const ln_tensor *a,
                         const ln_tensor *b) {
  return a && b ? LN_OK : ln_error("%s: expected a tensor, got NULL", op);
}

static bool same_geometry(const ln_tensor *a, const ln_tensor *b) {
  return a->storage == b->storage && a->offset == b->offset &&
         ln_same_shape(a, b) &&
         memcmp(a->stride, b->stride, sizeof *a->stride * (size_t)a->ndim) == 0;
}

/* What an in-place op records: its node's name, backward and saved values. */
typedef struct inplace_rec {
  const char *grad_name;
  ln_backward_fn backward;
  int saves;
  pointwise_params num;      /* clamp's bounds, leaky_relu's slope */
} inplace_rec;

/* Writes the call's result (dtype rt) into c->a: straight into it when the
** kernel can (same dtype, no other view of a's memory as operand), else
** through a temporary. */
static int write_into(const op_call *c, ln_dtype rt) {
  ln_tensor *a = c->a, *b = c->family == CALL_BINARY ? c->b : NULL;
  bool test = c->family == CALL_UNARY && ln_unary_is_test((ln_unary_op)c->op);
  bool direct = rt == a->dtype && (c->compute == a->dtype || test) &&
                (!b || b->storage != a->storage || same_geometry(a, b));
  if (direct) return run_call(c, a);
  ln_tensor *tmp = run_new(c, a->ndim, a->shape, rt);
  int rc = tmp ? LN_BACKEND(a)->copy(a, tmp) : LN_ERR;
  ln_tensor_release(tmp);
  return rc;
}

/* The shared in-place path: checks, keeps the inputs backward needs (a
** copy of a's old values; of b too when it views a's memory), writes,
** bumps the version and records history on a. */
static int apply_inplace(const char *name, const op_call *c, ln_dtype rt,
                         int ndim, const int64_t *shape, const inplace_rec *r) {
  ln_tensor *a = c->a, *b = c->family == CALL_BINARY ? c->b : NULL;
  if (check_target(name, a, rt, ndim, shape) != LN_OK ||
      ln_check_inplace(a) != LN_OK)
    return LN_ERR;
  bool rec = ln_dtype_is_float(a->dtype) &&
             ln_any_requires_grad(2, (ln_tensor *[]){a, b});
  ln_scope s = {0};
  ln_tensor *keep_a = NULL, *keep_b = NULL;
  if (rec && (r->saves & SAVE_A)) keep_a = LN_TMP(&s, raw_copy(a));
  if (rec && (r->saves & SAVE_B))
    keep_b = LN_TMP(&s, b->storage == a->storage ? raw_copy(b)
                                                 : ln_tensor_retain(b));
  if (write_into(c, rt) != LN_OK) goto fail;
  ln_bump_version(a);
  if (!rec) return ln_scope_done(&s, LN_OK);
  if (ln_record_inplace(a, r->grad_name, r->backward, b ? 1 : 0, &b) != LN_OK)
    goto fail;
  if (b == a) { /* a.mul_(a): b is a's old self */
    ln_node *n = a->grad_fn;
    ln_tensor_release(n->inputs[1]);
    n->inputs[1] = ln_tensor_retain(n->inputs[0]);
  }
  if (save_values(a->grad_fn, r->saves, (ln_tensor *[]){keep_a, keep_b, a},
                  &r->num) != LN_OK)
    goto fail;
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- unary -------------------------------------------------------------- */

ln_tensor *ln_unary(ln_unary_op op, ln_tensor *a) {
  if ((unsigned)op >= LN_UNARY_COUNT)
    return ln_error("unary: invalid op %d", (int)op), NULL;
  const unary_def *d = &unary_defs[op];
  ln_dtype rt;
  if (check_tensors(d->name, a, a) != LN_OK ||
      unary_result(op, a->dtype, &rt) != LN_OK)
    return NULL;
  op_call c = {CALL_UNARY, op, a, NULL, rt, 0, 0};
  ln_tensor *out = run_new(&c, a->ndim, a->shape, rt);
  if (!out || !ln_dtype_is_float(rt)) return out;
  ln_node *n;
  int rc = ln_record(&n, out, d->grad_name, d->backward, 1, &a);
  if (rc == LN_OK)
    rc = save_values(n, d->saves, (ln_tensor *[]){a, NULL, out}, NULL);
  return ln_recorded(out, rc);
}

int ln_unary_(ln_unary_op op, ln_tensor *a) {
  if ((unsigned)op >= LN_UNARY_COUNT)
    return ln_error("unary: invalid op %d", (int)op);
  const unary_def *d = &unary_defs[op];
  char name[32];
  snprintf(name, sizeof name, "%s_", d->name);
  ln_dtype rt;
  if (check_tensors(name, a, a) != LN_OK ||
      unary_result(op, a->dtype, &rt) != LN_OK)
    return LN_ERR;
  op_call c = {CALL_UNARY, op, a, NULL, rt, 0, 0};
  inplace_rec r = {d->grad_name, d->backward, d->saves, {{0}}};
  return apply_inplace(name, &c, rt, a->ndim, a->shape, &r);
}

/* ---- binary ------------------------------------------------------------- */

/* a op b, with their common dtype already decided. */
static ln_tensor *binary_forward(ln_binary_op op, ln_tensor *a, ln_tensor *b,
                                 ln_dtype common) {
  const binary_def *d = &binary_defs[op];
  ln_dtype compute, rt;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  if (ln_check_same_device(d->name, a, b) != LN_OK ||
      binary_dtypes(op, common, &compute, &rt) != LN_OK ||
      ln_broadcast_shapes(d->name, a->ndim, a->shape, b->ndim, b->shape,
                          &ndim, shape) != LN_OK)
    return NULL;
  op_call c = {CALL_BINARY, op, a, b, compute, 0, 0};
  ln_tensor *out = run_new(&c, ndim, shape, rt);
  if (!out || !ln_dtype_is_float(rt)) return out;
  ln_node *n;
  int rc = ln_record(&n, out, d->grad_name, d->backward, 2, (ln_tensor *[]){a, b});
  if (rc == LN_OK)
    rc = save_values(n, d->saves, (ln_tensor *[]){a, b, out}, NULL);
  return ln_recorded(out, rc);
}

static int binary_inplace(ln_binary_op op, ln_tensor *a, ln_tensor *b,
                          ln_dtype common) {
  const binary_def *d = &binary_defs[op];
  char name[32];
  snprintf(name, sizeof name, "%s_", d->name);
  ln_dtype compute, rt;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  if (ln_check_same_device(name, a, b) != LN_OK ||
      binary_dtypes(op, common, &compute, &rt) != LN_OK ||
      ln_broadcast_shapes(name, a->ndim, a->shape, b->ndim, b->shape, &ndim,
                          shape) != LN_OK)
    return LN_ERR;
  op_call c = {CALL_BINARY, op, a, b, compute, 0, 0};
  inplace_rec r = {d->grad_name, d->backward, d->saves, {{0}}};
  return apply_inplace(name, &c, rt, ndim, shape, &r);
}

/* A Lua/C number as a 0-dim operand of dtype dt; integer pow refuses
** negative exponents as PyTorch does. */
static ln_tensor *scalar_operand(ln_binary_op op, ln_tensor *a, double s,
                                 ln_dtype dt, bool exponent) {
  if ((unsigned)op >= LN_BINARY_COUNT)
    return ln_error("binary: invalid op %d", (int)op), NULL;
  if (op == LN_BINARY_POW && exponent && !ln_dtype_is_float(dt) && s < 0)
    return ln_error("pow: integers to negative integer powers are not "
                    "allowed"), NULL;
  return ln_scalar(s, dt, ln_tensor_device(a));
}

ln_tensor *ln_binary(ln_binary_op op, ln_tensor *a, ln_tensor *b) {
  if ((unsigned)op >= LN_BINARY_COUNT)
    return ln_error("binary: invalid op %d", (int)op), NULL;
  if (check_tensors(binary_defs[op].name, a, b) != LN_OK) return NULL;
  return binary_forward(op, a, b, result_type(a, b));
}

ln_tensor *ln_binary_scalar(ln_binary_op op, ln_tensor *a, double s) {
  if (check_tensors(ln_binary_name(op), a, a) != LN_OK) return NULL;
  ln_dtype dt = scalar_type(a->dtype, s);
  ln_tensor *st = scalar_operand(op, a, s, dt, true);
  ln_tensor *r = st ? binary_forward(op, a, st, dt) : NULL;
  ln_tensor_release(st);
  return r;
}

ln_tensor *ln_scalar_binary(ln_binary_op op, double s, ln_tensor *a) {
  if (check_tensors(ln_binary_name(op), a, a) != LN_OK) return NULL;
  ln_dtype dt = scalar_type(a->dtype, s);
  ln_tensor *st = scalar_operand(op, a, s, dt, false);
  ln_tensor *r = st ? binary_forward(op, st, a, dt) : NULL;
  ln_tensor_release(st);
  return r;
}

int ln_binary_(ln_binary_op op, ln_tensor *a, ln_tensor *b) {
  if ((unsigned)op >= LN_BINARY_COUNT)
    return ln_error("binary: invalid op %d", (int)op);
  if (check_tensors(binary_defs[op].name, a, b) != LN_OK) return LN_ERR;
  return binary_inplace(op, a, b, result_type(a, b));
}

int ln_binary_scalar_(ln_binary_op op, ln_tensor *a, double s) {
  if (check_tensors(ln_binary_name(op), a, a) != LN_OK) return LN_ERR;
  ln_dtype dt = scalar_type(a->dtype, s);
  ln_tensor *st = scalar_operand(op, a, s, dt, true);
  int rc = st ? binary_inplace(op, a, st, dt) : LN_ERR;
  ln_tensor_release(st);
  return rc;
}

ln_tensor *ln_add(ln_tensor *a, ln_tensor *b) {
  return ln_binary(LN_BINARY_ADD, a, b);
}

ln_tensor *ln_sub(ln_tensor *a, ln_tensor *b) {
  return ln_binary(LN_BINARY_SUB, a, b);
}

ln_tensor *ln_mul(ln_tensor *a, ln_tensor *b) {
  return ln_binary(LN_BINARY_MUL, a, b);
}

ln_tensor *ln_div(ln_tensor *a, ln_tensor *b) {
  return ln_binary(LN_BINARY_DIV, a, b);
}

/* f(a, b) = a + alpha b, recorded as the mul and add it is made of. */
ln_tensor *ln_add_scaled(ln_tensor *a, ln_tensor *b, double alpha) {
  if (check_tensors("add", a, b) != LN_OK) return NULL;
  if (alpha == 1) return ln_add(a, b);
  if (!ln_dtype_is_float(result_type(a, b)) && !is_integral(alpha))
    return ln_error("add: for integral input tensors, argument alpha must "
                    "not be a floating point number"), NULL;
  ln_tensor *scaled = ln_binary_scalar(LN_BINARY_MUL, b, alpha);
  ln_tensor *r = scaled ? ln_add(a, scaled) : NULL;
  ln_tensor_release(scaled);
  return r;
}

/* ---- clamp and leaky_relu ----------------------------------------------- */

/* d clamp(x) = 1 where lo <= x <= hi, else 0 */
static int clamp_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  const pointwise_params *p = n->params;
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *above = LN_TMP(&s, ln_binary_scalar(LN_BINARY_GE, x, p->lo));
  ln_tensor *below = LN_TMP(&s, ln_binary_scalar(LN_BINARY_LE, x, p->hi));
  ln_tensor *inside = LN_TMP(&s, ln_binary(LN_BINARY_AND, above, below));
  LN_GRAD(&s, gin[0], masked(inside, g, true));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d leaky_relu(x) = 1 where x > 0, else slope */
static int leaky_relu_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  const pointwise_params *p = n->params;
  ln_tensor *x = saved(n, SLOT_A);
  if (!x) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *pos = LN_TMP(&s, ln_binary_scalar(LN_BINARY_GT, x, 0));
  ln_tensor *scaled = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, g, p->slope));
  LN_GRAD(&s, gin[0], ln_where(pos, g, scaled));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* The result dtype of clamp: an integer tensor with a fractional bound
** becomes float32 (infinite bounds mean none). */
static int clamp_result(const char *op, ln_tensor *a, double lo, double hi,
                        ln_dtype *rt) {
  if (check_tensors(op, a, a) != LN_OK) return LN_ERR;
  if (isnan(lo) || isnan(hi))
    return ln_error("%s: min and max must not be NaN", op);
  if (a->dtype == LN_BOOL)
    return ln_error("%s: not supported for bool tensors", op);
  *rt = a->dtype;
  if (!ln_dtype_is_float(a->dtype) && ((!isinf(lo) && !is_integral(lo)) ||
                                       (!isinf(hi) && !is_integral(hi))))
    *rt = LN_FLOAT32;
  return LN_OK;
}

/* f(x) = min(max(x, lo), hi) */
ln_tensor *ln_clamp(ln_tensor *a, double lo, double hi) {
  ln_dtype rt;
  if (clamp_result("clamp", a, lo, hi, &rt) != LN_OK) return NULL;
  op_call c = {CALL_CLAMP, 0, a, NULL, rt, lo, hi};
  ln_tensor *out = run_new(&c, a->ndim, a->shape, rt);
  if (!out || !ln_dtype_is_float(rt)) return out;
  ln_node *n;
  int rc = ln_record(&n, out, "ClampBackward", clamp_backward, 1, &a);
  if (rc == LN_OK)
    rc = save_values(n, SAVE_A, (ln_tensor *[]){a, NULL, out},
                     &(pointwise_params){.lo = lo, .hi = hi});
  return ln_recorded(out, rc);
}

int ln_clamp_(ln_tensor *a, double lo, double hi) {
  ln_dtype rt;
  if (clamp_result("clamp_", a, lo, hi, &rt) != LN_OK) return LN_ERR;
  op_call c = {CALL_CLAMP, 0, a, NULL, rt, lo, hi};
  inplace_rec r = {"ClampBackward", clamp_backward, SAVE_A,
                   {.lo = lo, .hi = hi}};
  return apply_inplace("clamp_", &c, rt, a->ndim, a->shape, &r);
}

/* f(x) = x > 0 ? x : slope x */
ln_tensor *ln_leaky_relu(ln_tensor *a, double slope) {
  if (check_tensors("leaky_relu", a, a) != LN_OK) return NULL;
  if (!ln_dtype_is_float(a->dtype))
    return ln_error("leaky_relu: expected a floating point tensor, got %s",
                    ln_dtype_name(a->dtype)), NULL;
  op_call c = {CALL_LEAKY, 0, a, NULL, a->dtype, slope, 0};
  ln_tensor *out = run_new(&c, a->ndim, a->shape, a->dtype);
  if (!out) return NULL;
  ln_node *n;
  int rc = ln_record(&n, out, "LeakyReluBackward", leaky_relu_backward, 1, &a);
  if (rc == LN_OK)
    rc = save_values(n, SAVE_A, (ln_tensor *[]){a, NULL, out},
                     &(pointwise_params){.slope = slope});
  return ln_recorded(out, rc);
}

int ln_leaky_relu_(ln_tensor *a, double slope) {
  if (check_tensors("leaky_relu_", a, a) != LN_OK) return LN_ERR;
  if (!ln_dtype_is_float(a->dtype))
    return ln_error("leaky_relu_: expected a floating point tensor, got %s",
                    ln_dtype_name(a->dtype));
  op_call c = {CALL_LEAKY, 0, a, NULL, a->dtype, slope, 0};
  inplace_rec r = {"LeakyReluBackward", leaky_relu_backward, SAVE_A,
                   {.slope = slope}};
  return apply_inplace("leaky_relu_", &c, a->dtype, a->ndim, a->shape, &r);
}

/* ---- where -------------------------------------------------------------- */

/* d where(c, a, b) = (c, !c) */
static int where_backward(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  ln_tensor *cond = ln_node_saved(n, 0);
  if (!cond) return LN_ERR;
  for (int i = 1; i <= 2; i++) {
    if (!ln_node_needs_grad(n, i)) continue;
    if (set_grad(gin, i, masked(cond, g, i == 1)) != LN_OK) return LN_ERR;
  }
  return LN_OK;
}

/* cond's, a's and b's shapes broadcast together. */
static int where_shape(ln_tensor *cond, ln_tensor *a, ln_tensor *b, int *ndim,
                       int64_t *shape) {
  int n1;
  int64_t s1[LN_MAX_DIMS];
  if (ln_broadcast_shapes("where", cond->ndim, cond->shape, a->ndim, a->shape,
                          &n1, s1) != LN_OK)
    return LN_ERR;
  return ln_broadcast_shapes("where", n1, s1, b->ndim, b->shape, ndim, shape);
}

/* f(c, a, b) = c ? a : b */
ln_tensor *ln_where(ln_tensor *cond, ln_tensor *a, ln_tensor *b) {
  if (check_tensors("where", cond, a) != LN_OK ||
      check_tensors("where", a, b) != LN_OK)
    return NULL;
  if (cond->dtype != LN_BOOL)
    return ln_error("where: expected the condition to be a bool tensor, got "
                    "%s", ln_dtype_name(cond->dtype)), NULL;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  if (ln_check_same_device("where", cond, a) != LN_OK ||
      ln_check_same_device("where", a, b) != LN_OK ||
      where_shape(cond, a, b, &ndim, shape) != LN_OK)
    return NULL;
  ln_dtype dt = result_type(a, b);
  ln_scope s = {0};
  ln_tensor *out = LN_TMP(&s, ln_empty(ndim, shape, dt, ln_tensor_device(a)));
  ln_tensor *ca = LN_TMP(&s, ln_cast_raw(a, dt));
  ln_tensor *cb = LN_TMP(&s, ln_cast_raw(b, dt));
  ln_tensor *ec = LN_TMP(&s, ln_expand_raw(cond, ndim, shape));
  ln_tensor *ea = LN_TMP(&s, ln_expand_raw(ca, ndim, shape));
  ln_tensor *eb = LN_TMP(&s, ln_expand_raw(cb, ndim, shape));
  if (LN_BACKEND(out)->where(out, ec, ea, eb) != LN_OK) goto fail;
  if (ln_dtype_is_float(dt)) {
    ln_node *n;
    int rc = ln_record(&n, out, "WhereBackward", where_backward, 3,
                       (ln_tensor *[]){cond, a, b});
    if (rc == LN_OK) rc = ln_node_save(n, cond);
    if (rc != LN_OK) goto fail;
  }
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}
