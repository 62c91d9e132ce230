/*
** lpointwise.c: elementwise ops for Lua: luann.exp(t) and t:exp(), the
** binary ops with tensors or numbers on either side (add, mul, pow,
** comparisons, logical ops), clamp, leaky_relu, where, and the in-place
** variants (t:add_(b), t:exp_(), ...) that return t. lnb_add, lnb_sub,
** lnb_mul, lnb_div, lnb_pow and lnb_neg also serve as the tensor's
** arithmetic metamethods.
*/
#include <math.h>

#include "lbase.h"

/* ---- operands ----------------------------------------------------------- */

/* Lua integers beyond 2^53 next to an int64 tensor: a double would round
** them, so they travel as an exact 0-dim int64 tensor instead. */
static bool exact_integer(lua_State *L, int idx, const ln_tensor *t) {
  if (!lua_isinteger(L, idx) || t->dtype != LN_INT64) return false;
  lua_Integer v = lua_tointeger(L, idx);
  return v > (INT64_C(1) << 53) || v < -(INT64_C(1) << 53);
}

/* Raises unless idx holds a live tensor, a number or a boolean: checked
** before any tensor is made, so no error is raised while one is held. */
static void check_operand(lua_State *L, int idx) {
  int type = lua_type(L, idx);
  if (luaL_testudata(L, idx, LNB_TENSOR))
    lnb_check(L, idx); /* raises for a closed tensor */
  else if (type != LUA_TNUMBER && type != LUA_TBOOLEAN)
    luaL_typeerror(L, idx, "tensor or number");
}

static bool is_integral(lua_State *L, int idx) {
  lua_Number v = lua_tonumber(L, idx);
  return lua_isinteger(L, idx) || (isfinite(v) && floor(v) == v);
}

/* The number or boolean at idx (checked) as a 0-dim tensor on `like`'s
** device: floats take like's dtype when it is float (else float32),
** integers like's dtype unless it is bool (else int64), booleans bool.
** NULL with the core's error when allocation fails. */
static ln_tensor *number_operand(lua_State *L, int idx, const ln_tensor *like) {
  ln_device dev = like ? ln_tensor_device(like) : ln_device_cpu();
  ln_dtype ldt = like ? like->dtype : LN_INT64;
  if (lua_type(L, idx) == LUA_TBOOLEAN)
    return ln_scalar(lua_toboolean(L, idx), LN_BOOL, dev);
  if (like && exact_integer(L, idx, like)) {
    int64_t v = (int64_t)lua_tointeger(L, idx);
    return ln_from_buffer(&v, 0, NULL, LN_INT64, dev);
  }
  ln_dtype dt = is_integral(L, idx) ? (ldt == LN_BOOL ? LN_INT64 : ldt)
                                    : (ln_dtype_is_float(ldt) ? ldt : LN_FLOAT32);
  return ln_scalar(lua_tonumber(L, idx), dt, dev);
}

/* The tensor at idx retained, or a number/boolean made one next to like. */
static ln_tensor *operand(lua_State *L, int idx, const ln_tensor *like) {
  ln_tensor *t = lnb_test(L, idx);
  return t ? ln_tensor_retain(t) : number_operand(L, idx, like);
}

/* The tensor at 1, else at 2 (both checked operands); raises when neither
** is one. */
static ln_tensor *some_tensor(lua_State *L) {
  ln_tensor *t = lnb_test(L, 1);
  return t ? t : lnb_test(L, 2) ? lnb_test(L, 2) : lnb_check(L, 1);
}

/* ---- binary ------------------------------------------------------------- */

/* a op b at 1 and 2: tensors, or a number on either side. Plain numbers go
** through ln_binary_scalar so they promote as PyTorch's Python numbers do. */
static int binary(lua_State *L, ln_binary_op op) {
  check_operand(L, 1);
  check_operand(L, 2);
  ln_tensor *a = lnb_test(L, 1), *b = lnb_test(L, 2);
  if (a && b) return lnb_push(L, ln_binary(op, a, b));
  ln_tensor *t = some_tensor(L);
  int num = a ? 2 : 1;
  if (lua_type(L, num) == LUA_TNUMBER && !exact_integer(L, num, t)) {
    double s = lua_tonumber(L, num);
    return lnb_push(L, a ? ln_binary_scalar(op, a, s) : ln_scalar_binary(op, s, b));
  }
  ln_tensor *o = number_operand(L, num, t);
  ln_tensor *r = !o ? NULL : a ? ln_binary(op, a, o) : ln_binary(op, o, b);
  ln_tensor_release(o);
  return lnb_push(L, r);
}

/* a + alpha b (alpha at 3 may be nil), as torch.add; sub negates alpha. */
static int add_scaled(lua_State *L, ln_binary_op op) {
  if (lua_isnoneornil(L, 3)) return binary(L, op);
  check_operand(L, 1);
  check_operand(L, 2);
  double alpha = luaL_checknumber(L, 3);
  ln_tensor *t = some_tensor(L);
  ln_tensor *a = operand(L, 1, t), *b = a ? operand(L, 2, t) : NULL;
  ln_tensor *r = a && b ? ln_add_scaled(a, b, op == LN_BINARY_SUB ? -alpha : alpha)
                        : NULL;
  ln_tensor_release(a);
  ln_tensor_release(b);
  return lnb_push(L, r);
}

int lnb_add(lua_State *L) { return add_scaled(L, LN_BINARY_ADD); }
int lnb_sub(lua_State *L) { return add_scaled(L, LN_BINARY_SUB); }
int lnb_mul(lua_State *L) { return binary(L, LN_BINARY_MUL); }
int lnb_div(lua_State *L) { return binary(L, LN_BINARY_DIV); }
int lnb_pow(lua_State *L) { return binary(L, LN_BINARY_POW); }

static int pw_maximum(lua_State *L) { return binary(L, LN_BINARY_MAXIMUM); }
static int pw_minimum(lua_State *L) { return binary(L, LN_BINARY_MINIMUM); }
static int pw_fmod(lua_State *L) { return binary(L, LN_BINARY_FMOD); }
static int pw_atan2(lua_State *L) { return binary(L, LN_BINARY_ATAN2); }
static int pw_eq(lua_State *L) { return binary(L, LN_BINARY_EQ); }
static int pw_ne(lua_State *L) { return binary(L, LN_BINARY_NE); }
static int pw_lt(lua_State *L) { return binary(L, LN_BINARY_LT); }
static int pw_le(lua_State *L) { return binary(L, LN_BINARY_LE); }
static int pw_gt(lua_State *L) { return binary(L, LN_BINARY_GT); }
static int pw_ge(lua_State *L) { return binary(L, LN_BINARY_GE); }
static int pw_and(lua_State *L) { return binary(L, LN_BINARY_AND); }
static int pw_or(lua_State *L) { return binary(L, LN_BINARY_OR); }
static int pw_xor(lua_State *L) { return binary(L, LN_BINARY_XOR); }

/* ---- binary in place ---------------------------------------------------- */

/* t:op_(b [, alpha]) writes t op (alpha) b into t and returns t. */
static int binary_inplace(lua_State *L, ln_binary_op op, bool has_alpha) {
  ln_tensor *t = lnb_check(L, 1), *b;
  check_operand(L, 2);
  b = lnb_test(L, 2);
  double alpha = has_alpha ? luaL_optnumber(L, 3, 1) : 1;
  if (op == LN_BINARY_SUB) { /* a - alpha b is a + (-alpha) b */
    alpha = -alpha;
    op = LN_BINARY_ADD;
  }
  int rc;
  if (!b && lua_type(L, 2) == LUA_TNUMBER && !exact_integer(L, 2, t)) {
    rc = ln_binary_scalar_(op, t, alpha * lua_tonumber(L, 2));
  } else {
    ln_tensor *o = operand(L, 2, t);
    ln_tensor *scaled = !o ? NULL : alpha == 1 ? ln_tensor_retain(o)
                                  : ln_binary_scalar(LN_BINARY_MUL, o, alpha);
    ln_tensor_release(o);
    rc = scaled ? ln_binary_(op, t, scaled) : LN_ERR;
    ln_tensor_release(scaled);
  }
  if (rc != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

static int pw_add_(lua_State *L) { return binary_inplace(L, LN_BINARY_ADD, true); }
static int pw_sub_(lua_State *L) { return binary_inplace(L, LN_BINARY_SUB, true); }
static int pw_mul_(lua_State *L) { return binary_inplace(L, LN_BINARY_MUL, false); }
static int pw_div_(lua_State *L) { return binary_inplace(L, LN_BINARY_DIV, false); }
static int pw_pow_(lua_State *L) { return binary_inplace(L, LN_BINARY_POW, false); }
static int pw_fmod_(lua_State *L) { return binary_inplace(L, LN_BINARY_FMOD, false); }
static int pw_atan2_(lua_State *L) { return binary_inplace(L, LN_BINARY_ATAN2, false); }
static int pw_eq_(lua_State *L) { return binary_inplace(L, LN_BINARY_EQ, false); }
static int pw_ne_(lua_State *L) { return binary_inplace(L, LN_BINARY_NE, false); }
static int pw_lt_(lua_State *L) { return binary_inplace(L, LN_BINARY_LT, false); }
static int pw_le_(lua_State *L) { return binary_inplace(L, LN_BINARY_LE, false); }
static int pw_gt_(lua_State *L) { return binary_inplace(L, LN_BINARY_GT, false); }
static int pw_ge_(lua_State *L) { return binary_inplace(L, LN_BINARY_GE, false); }
static int pw_and_(lua_State *L) { return binary_inplace(L, LN_BINARY_AND, false); }
static int pw_or_(lua_State *L) { return binary_inplace(L, LN_BINARY_OR, false); }
static int pw_xor_(lua_State *L) { return binary_inplace(L, LN_BINARY_XOR, false); }

/* ---- unary -------------------------------------------------------------- */

static int unary(lua_State *L, ln_unary_op op) {
  return lnb_push(L, ln_unary(op, lnb_check(L, 1)));
}

static int unary_inplace(lua_State *L, ln_unary_op op) {
  if (ln_unary_(op, lnb_check(L, 1)) != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

int lnb_neg(lua_State *L) { return unary(L, LN_UNARY_NEG); }
static int pw_abs(lua_State *L) { return unary(L, LN_UNARY_ABS); }
static int pw_exp(lua_State *L) { return unary(L, LN_UNARY_EXP); }
static int pw_log(lua_State *L) { return unary(L, LN_UNARY_LOG); }
static int pw_sqrt(lua_State *L) { return unary(L, LN_UNARY_SQRT); }
static int pw_rsqrt(lua_State *L) { return unary(L, LN_UNARY_RSQRT); }
static int pw_sin(lua_State *L) { return unary(L, LN_UNARY_SIN); }
static int pw_cos(lua_State *L) { return unary(L, LN_UNARY_COS); }
static int pw_tanh(lua_State *L) { return unary(L, LN_UNARY_TANH); }
static int pw_sigmoid(lua_State *L) { return unary(L, LN_UNARY_SIGMOID); }
static int pw_relu(lua_State *L) { return unary(L, LN_UNARY_RELU); }
static int pw_sign(lua_State *L) { return unary(L, LN_UNARY_SIGN); }
static int pw_floor(lua_State *L) { return unary(L, LN_UNARY_FLOOR); }
static int pw_ceil(lua_State *L) { return unary(L, LN_UNARY_CEIL); }
static int pw_round(lua_State *L) { return unary(L, LN_UNARY_ROUND); }
static int pw_reciprocal(lua_State *L) { return unary(L, LN_UNARY_RECIPROCAL); }
static int pw_square(lua_State *L) { return unary(L, LN_UNARY_SQUARE); }
static int pw_log1p(lua_State *L) { return unary(L, LN_UNARY_LOG1P); }
static int pw_expm1(lua_State *L) { return unary(L, LN_UNARY_EXPM1); }
static int pw_gelu(lua_State *L) { return unary(L, LN_UNARY_GELU); }
static int pw_silu(lua_State *L) { return unary(L, LN_UNARY_SILU); }
static int pw_not(lua_State *L) { return unary(L, LN_UNARY_NOT); }

static int pw_neg_(lua_State *L) { return unary_inplace(L, LN_UNARY_NEG); }
static int pw_abs_(lua_State *L) { return unary_inplace(L, LN_UNARY_ABS); }
static int pw_exp_(lua_State *L) { return unary_inplace(L, LN_UNARY_EXP); }
static int pw_log_(lua_State *L) { return unary_inplace(L, LN_UNARY_LOG); }
static int pw_sqrt_(lua_State *L) { return unary_inplace(L, LN_UNARY_SQRT); }
static int pw_rsqrt_(lua_State *L) { return unary_inplace(L, LN_UNARY_RSQRT); }
static int pw_sin_(lua_State *L) { return unary_inplace(L, LN_UNARY_SIN); }
static int pw_cos_(lua_State *L) { return unary_inplace(L, LN_UNARY_COS); }
static int pw_tanh_(lua_State *L) { return unary_inplace(L, LN_UNARY_TANH); }
static int pw_sigmoid_(lua_State *L) { return unary_inplace(L, LN_UNARY_SIGMOID); }
static int pw_relu_(lua_State *L) { return unary_inplace(L, LN_UNARY_RELU); }
static int pw_sign_(lua_State *L) { return unary_inplace(L, LN_UNARY_SIGN); }
static int pw_floor_(lua_State *L) { return unary_inplace(L, LN_UNARY_FLOOR); }
static int pw_ceil_(lua_State *L) { return unary_inplace(L, LN_UNARY_CEIL); }
static int pw_round_(lua_State *L) { return unary_inplace(L, LN_UNARY_ROUND); }
static int pw_reciprocal_(lua_State *L) {
  return unary_inplace(L, LN_UNARY_RECIPROCAL);
}
static int pw_square_(lua_State *L) { return unary_inplace(L, LN_UNARY_SQUARE); }
static int pw_log1p_(lua_State *L) { return unary_inplace(L, LN_UNARY_LOG1P); }
static int pw_expm1_(lua_State *L) { return unary_inplace(L, LN_UNARY_EXPM1); }
static int pw_gelu_(lua_State *L) { return unary_inplace(L, LN_UNARY_GELU); }
static int pw_silu_(lua_State *L) { return unary_inplace(L, LN_UNARY_SILU); }
static int pw_not_(lua_State *L) { return unary_inplace(L, LN_UNARY_NOT); }

/* ---- clamp, leaky_relu, where ------------------------------------------- */

/* min at 2 and max at 3, either nil (none) but not both. */
static void check_bounds(lua_State *L, const char *name, double *lo,
                         double *hi) {
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
    luaL_error(L, "%s: at least one of min and max must be given", name);
  *lo = lua_isnoneornil(L, 2) ? -HUGE_VAL : luaL_checknumber(L, 2);
  *hi = lua_isnoneornil(L, 3) ? HUGE_VAL : luaL_checknumber(L, 3);
}

static int pw_clamp(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double lo, hi;
  check_bounds(L, "clamp", &lo, &hi);
  return lnb_push(L, ln_clamp(t, lo, hi));
}

static int pw_clamp_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double lo, hi;
  check_bounds(L, "clamp_", &lo, &hi);
  if (ln_clamp_(t, lo, hi) != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

static int pw_leaky_relu(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_leaky_relu(t, luaL_optnumber(L, 2, 0.01)));
}

static int pw_leaky_relu_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (ln_leaky_relu_(t, luaL_optnumber(L, 2, 0.01)) != LN_OK)
    return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/* cond ? (tensor or number at ia) : (tensor or number at ib) */
static int where_at(lua_State *L, int icond, int ia, int ib) {
  ln_tensor *cond = lnb_check(L, icond);
  check_operand(L, ia);
  check_operand(L, ib);
  ln_tensor *ta = lnb_test(L, ia), *tb = lnb_test(L, ib);
  ln_tensor *a = operand(L, ia, ta ? ta : tb);
  ln_tensor *b = a ? operand(L, ib, tb ? tb : ta) : NULL;
  ln_tensor *r = a && b ? ln_where(cond, a, b) : NULL;
  ln_tensor_release(a);
  ln_tensor_release(b);
  return lnb_push(L, r);
}

/* luann.where(cond, a, b) */
static int pw_where(lua_State *L) { return where_at(L, 1, 2, 3); }

/* t:where(cond, other), as PyTorch's Tensor.where */
static int pw_where_method(lua_State *L) {
  lnb_check(L, 1);
  return where_at(L, 2, 1, 3);
}

const lnb_reg lnb_pointwise[] = {
  {"add", lnb_add, LNB_BOTH}, {"sub", lnb_sub, LNB_BOTH},
  {"mul", lnb_mul, LNB_BOTH}, {"div", lnb_div, LNB_BOTH},
  {"pow", lnb_pow, LNB_BOTH}, {"maximum", pw_maximum, LNB_BOTH},
  {"minimum", pw_minimum, LNB_BOTH}, {"fmod", pw_fmod, LNB_BOTH},
  {"atan2", pw_atan2, LNB_BOTH},
  {"eq", pw_eq, LNB_BOTH}, {"ne", pw_ne, LNB_BOTH}, {"lt", pw_lt, LNB_BOTH},
  {"le", pw_le, LNB_BOTH}, {"gt", pw_gt, LNB_BOTH}, {"ge", pw_ge, LNB_BOTH},
  {"logical_and", pw_and, LNB_BOTH}, {"logical_or", pw_or, LNB_BOTH},
  {"logical_xor", pw_xor, LNB_BOTH}, {"logical_not", pw_not, LNB_BOTH},
  {"neg", lnb_neg, LNB_BOTH}, {"abs", pw_abs, LNB_BOTH},
  {"exp", pw_exp, LNB_BOTH}, {"log", pw_log, LNB_BOTH},
  {"sqrt", pw_sqrt, LNB_BOTH}, {"rsqrt", pw_rsqrt, LNB_BOTH},
  {"sin", pw_sin, LNB_BOTH}, {"cos", pw_cos, LNB_BOTH},
  {"tanh", pw_tanh, LNB_BOTH}, {"sigmoid", pw_sigmoid, LNB_BOTH},
  {"relu", pw_relu, LNB_BOTH}, {"sign", pw_sign, LNB_BOTH},
  {"floor", pw_floor, LNB_BOTH}, {"ceil", pw_ceil, LNB_BOTH},
  {"round", pw_round, LNB_BOTH}, {"reciprocal", pw_reciprocal, LNB_BOTH},
  {"square", pw_square, LNB_BOTH}, {"log1p", pw_log1p, LNB_BOTH},
  {"expm1", pw_expm1, LNB_BOTH}, {"gelu", pw_gelu, LNB_BOTH},
  {"silu", pw_silu, LNB_BOTH}, {"clamp", pw_clamp, LNB_BOTH},
  {"leaky_relu", pw_leaky_relu, LNB_BOTH},
  {"where", pw_where, LNB_FUNCTION}, {"where", pw_where_method, LNB_METHOD},
  /* in place: methods returning the tensor */
  {"add_", pw_add_, LNB_METHOD}, {"sub_", pw_sub_, LNB_METHOD},
  {"mul_", pw_mul_, LNB_METHOD}, {"div_", pw_div_, LNB_METHOD},
  {"pow_", pw_pow_, LNB_METHOD}, {"fmod_", pw_fmod_, LNB_METHOD},
  {"atan2_", pw_atan2_, LNB_METHOD},
  {"eq_", pw_eq_, LNB_METHOD}, {"ne_", pw_ne_, LNB_METHOD},
  {"lt_", pw_lt_, LNB_METHOD}, {"le_", pw_le_, LNB_METHOD},
  {"gt_", pw_gt_, LNB_METHOD}, {"ge_", pw_ge_, LNB_METHOD},
  {"logical_and_", pw_and_, LNB_METHOD}, {"logical_or_", pw_or_, LNB_METHOD},
  {"logical_xor_", pw_xor_, LNB_METHOD}, {"logical_not_", pw_not_, LNB_METHOD},
  {"neg_", pw_neg_, LNB_METHOD}, {"abs_", pw_abs_, LNB_METHOD},
  {"exp_", pw_exp_, LNB_METHOD}, {"log_", pw_log_, LNB_METHOD},
  {"sqrt_", pw_sqrt_, LNB_METHOD}, {"rsqrt_", pw_rsqrt_, LNB_METHOD},
  {"sin_", pw_sin_, LNB_METHOD}, {"cos_", pw_cos_, LNB_METHOD},
  {"tanh_", pw_tanh_, LNB_METHOD}, {"sigmoid_", pw_sigmoid_, LNB_METHOD},
  {"relu_", pw_relu_, LNB_METHOD}, {"sign_", pw_sign_, LNB_METHOD},
  {"floor_", pw_floor_, LNB_METHOD}, {"ceil_", pw_ceil_, LNB_METHOD},
  {"round_", pw_round_, LNB_METHOD}, {"reciprocal_", pw_reciprocal_, LNB_METHOD},
  {"square_", pw_square_, LNB_METHOD}, {"log1p_", pw_log1p_, LNB_METHOD},
  {"expm1_", pw_expm1_, LNB_METHOD}, {"gelu_", pw_gelu_, LNB_METHOD},
  {"silu_", pw_silu_, LNB_METHOD}, {"clamp_", pw_clamp_, LNB_METHOD},
  {"leaky_relu_", pw_leaky_relu_, LNB_METHOD},
  {NULL, NULL, 0},
};
