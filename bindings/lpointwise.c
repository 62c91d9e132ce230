/*
** lpointwise.c: elementwise ops for Lua: luann.exp(t) and t:exp(), the
** binary ops with tensors or numbers on either side (add, mul, pow,
** comparisons, logical ops), clamp, leaky_relu, where, and the in-place
** variants (t:add_(b), t:exp_(), ...) that return t. The unary and binary
** ops are registered from the core's op enums and names (ln_unary_name,
** ln_binary_name): one closure per op, its enum as upvalue, shared by
** luann.f, t:f and (add, sub, mul, div, pow, neg) the operator
** metamethods that ltensor.c copies from the methods.
*/

/*** Elementwise ops (bindings/lpointwise.c), part of the luann module.
@module luann
*/
#include <math.h>
#include <stdio.h>

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
    lnb_typeerror(L, idx, "tensor or number");
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
  double alpha = lnb_check_number(L, 3);
  ln_tensor *t = some_tensor(L);
  ln_tensor *a = operand(L, 1, t), *b = a ? operand(L, 2, t) : NULL;
  ln_tensor *r = a && b ? ln_add_scaled(a, b, op == LN_BINARY_SUB ? -alpha : alpha)
                        : NULL;
  ln_tensor_release(a);
  ln_tensor_release(b);
  return lnb_push(L, r);
}

/* ---- binary in place ---------------------------------------------------- */

/* t:op_(b [, alpha]) writes t op (alpha) b into t and returns t. */
static int binary_inplace(lua_State *L, ln_binary_op op, bool has_alpha) {
  ln_tensor *t = lnb_check(L, 1), *b;
  check_operand(L, 2);
  b = lnb_test(L, 2);
  double alpha = has_alpha ? lnb_opt_number(L, 3, 1) : 1;
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

/* ---- unary -------------------------------------------------------------- */

static int unary(lua_State *L, ln_unary_op op) {
  return lnb_push(L, ln_unary(op, lnb_check(L, 1)));
}

static int unary_inplace(lua_State *L, ln_unary_op op) {
  if (ln_unary_(op, lnb_check(L, 1)) != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/* ---- clamp, leaky_relu, where ------------------------------------------- */

/* min at 2 and max at 3, either nil (none) but not both. */
static void check_bounds(lua_State *L, const char *name, double *lo,
                         double *hi) {
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
    lnb_errorf(L, "%s: at least one of min and max must be given", name);
  *lo = lua_isnoneornil(L, 2) ? -HUGE_VAL : lnb_check_number(L, 2);
  *hi = lua_isnoneornil(L, 3) ? HUGE_VAL : lnb_check_number(L, 3);
}

/*** Each element limited to [min, max] (either may be nil).
@param t a tensor
@param[opt] min a number
@param[opt] max a number
@return a tensor
@function clamp
*/
static int pw_clamp(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double lo, hi;
  check_bounds(L, "clamp", &lo, &hi);
  return lnb_push(L, ln_clamp(t, lo, hi));
}

/*** t:clamp(min, max), in place.
@return t
@function Tensor:clamp_
*/
static int pw_clamp_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double lo, hi;
  check_bounds(L, "clamp_", &lo, &hi);
  if (ln_clamp_(t, lo, hi) != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/*** x for x > 0, negative_slope * x otherwise.
@param t a tensor
@param[opt] negative_slope default 0.01
@return a tensor
@function leaky_relu
*/
static int pw_leaky_relu(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_leaky_relu(t, lnb_opt_number(L, 2, 0.01)));
}

/*** t:leaky_relu(negative_slope), in place.
@return t
@function Tensor:leaky_relu_
*/
static int pw_leaky_relu_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (ln_leaky_relu_(t, lnb_opt_number(L, 2, 0.01)) != LN_OK)
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

/*** Elementwise choice: a where cond is true, else b (tensors or numbers, broadcast); `t:where(cond, other)` is where(cond, t, other).
@param cond a bool tensor
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function where
*/
/* luann.where(cond, a, b) */
static int pw_where(lua_State *L) { return where_at(L, 1, 2, 3); }

/* t:where(cond, other), as PyTorch's Tensor.where */
static int pw_where_method(lua_State *L) {
  lnb_check(L, 1);
  return where_at(L, 2, 1, 3);
}

const lnb_reg lnb_pointwise[] = {
  {"clamp", pw_clamp, LNB_BOTH}, {"clamp_", pw_clamp_, LNB_METHOD},
  {"leaky_relu", pw_leaky_relu, LNB_BOTH},
  {"leaky_relu_", pw_leaky_relu_, LNB_METHOD},
  {"where", pw_where, LNB_FUNCTION}, {"where", pw_where_method, LNB_METHOD},
  {NULL, NULL, 0},
};

/* ---- the unary and binary ops, from the core's op table ------------------ */

/***
The floored remainder `a - b * floor(a / b)`, with the divisor's sign, as
Lua's `%` and `torch.remainder`: `-7 % 3 == 2`, `7 % -3 == -2`. The `%`
operator on tensors (`t % 3`, `5 % t`). Integer division by zero is an
error; for floats it gives NaN. Its gradient is 1 for `a` and
`-floor_divide(a, b)` for `b`. Also `t:remainder(b)` and `t:remainder_(b)`.
@function remainder
@param a tensor or number
@param b tensor or number
@return a tensor of the common dtype
*/

/***
The floored quotient, as Lua's `//` and `torch.floor_divide`:
`-7 // 2 == -4`. The `//` operator on tensors. Integers stay integers
(division by zero is an error); floats follow PyTorch, so that
`a == b * (a // b) + a % b` (`1 // 0.1` is 9, where Lua's `floor(1 / 0.1)`
gives 10). It has no gradient (zero). Also `t:floor_divide(b)` and
`t:floor_divide_(b)`.
@function floor_divide
@param a tensor or number
@param b tensor or number
@return a tensor of the common dtype
*/
/*** t:remainder(b), in place; returns t.
@param b a tensor or number
@function Tensor:remainder_
*/
/*** t:floor_divide(b), in place; returns t.
@param b a tensor or number
@function Tensor:floor_divide_
*/

/* The op enum of the running closure. */
static int upvalue_op(lua_State *L) {
  return (int)lua_tointeger(L, lua_upvalueindex(1));
}

/* luann.f(a, b) and a:f(b); add and sub take alpha, as torch.add. */
static int pw_binary(lua_State *L) {
  ln_binary_op op = (ln_binary_op)upvalue_op(L);
  if (op == LN_BINARY_ADD || op == LN_BINARY_SUB) return add_scaled(L, op);
  return binary(L, op);
}

static int pw_binary_(lua_State *L) {
  ln_binary_op op = (ln_binary_op)upvalue_op(L);
  return binary_inplace(L, op, op == LN_BINARY_ADD || op == LN_BINARY_SUB);
}

static int pw_unary(lua_State *L) {
  return unary(L, (ln_unary_op)upvalue_op(L));
}

static int pw_unary_(lua_State *L) {
  return unary_inplace(L, (ln_unary_op)upvalue_op(L));
}

/* One closure of fn over op, set as module[name] and/or methods[name]
** (the same function in both, so it is found by identity: error messages
** and anomaly mode name it by its key in luann.core). */
static void register_op(lua_State *L, const int where[2], lua_CFunction fn,
                        int op, const char *name, int place) {
  lua_pushinteger(L, op);
  lua_pushcclosure(L, fn, 1);
  if (place & LNB_FUNCTION) {
    lua_pushvalue(L, -1);
    lua_setfield(L, where[0], name);
  }
  if (place & LNB_METHOD) {
    lua_pushvalue(L, -1);
    lua_setfield(L, where[1], name);
  }
  lua_pop(L, 1);
}

/* Every unary and binary op as luann.f and t:f, and in place as t:f_ (but
** maximum and minimum, which PyTorch has no in-place methods for). */
/*** Elementwise: |x|.
@param t a tensor
@return a tensor
@function abs
*/
/*** t:abs(), in place; returns t.
@function Tensor:abs_
*/
/*** Elementwise: -x.
@param t a tensor
@return a tensor
@function neg
*/
/*** t:neg(), in place; returns t.
@function Tensor:neg_
*/
/*** Elementwise: the sign of x: -1, 0 or 1.
@param t a tensor
@return a tensor
@function sign
*/
/*** t:sign(), in place; returns t.
@function Tensor:sign_
*/
/*** Elementwise: the square root of x.
@param t a tensor
@return a tensor
@function sqrt
*/
/*** t:sqrt(), in place; returns t.
@function Tensor:sqrt_
*/
/*** Elementwise: 1 / sqrt(x).
@param t a tensor
@return a tensor
@function rsqrt
*/
/*** t:rsqrt(), in place; returns t.
@function Tensor:rsqrt_
*/
/*** Elementwise: x * x.
@param t a tensor
@return a tensor
@function square
*/
/*** t:square(), in place; returns t.
@function Tensor:square_
*/
/*** Elementwise: 1 / x.
@param t a tensor
@return a tensor
@function reciprocal
*/
/*** t:reciprocal(), in place; returns t.
@function Tensor:reciprocal_
*/
/*** Elementwise: e^x.
@param t a tensor
@return a tensor
@function exp
*/
/*** t:exp(), in place; returns t.
@function Tensor:exp_
*/
/*** Elementwise: e^x - 1, accurate near 0.
@param t a tensor
@return a tensor
@function expm1
*/
/*** t:expm1(), in place; returns t.
@function Tensor:expm1_
*/
/*** Elementwise: the natural logarithm of x.
@param t a tensor
@return a tensor
@function log
*/
/*** t:log(), in place; returns t.
@function Tensor:log_
*/
/*** Elementwise: log(1 + x), accurate near 0.
@param t a tensor
@return a tensor
@function log1p
*/
/*** t:log1p(), in place; returns t.
@function Tensor:log1p_
*/
/*** Elementwise: sin x.
@param t a tensor
@return a tensor
@function sin
*/
/*** t:sin(), in place; returns t.
@function Tensor:sin_
*/
/*** Elementwise: cos x.
@param t a tensor
@return a tensor
@function cos
*/
/*** t:cos(), in place; returns t.
@function Tensor:cos_
*/
/*** Elementwise: tan x.
@param t a tensor
@return a tensor
@function tan
*/
/*** t:tan(), in place; returns t.
@function Tensor:tan_
*/
/*** Elementwise: arcsin x.
@param t a tensor
@return a tensor
@function asin
*/
/*** t:asin(), in place; returns t.
@function Tensor:asin_
*/
/*** Elementwise: arccos x.
@param t a tensor
@return a tensor
@function acos
*/
/*** t:acos(), in place; returns t.
@function Tensor:acos_
*/
/*** Elementwise: arctan x.
@param t a tensor
@return a tensor
@function atan
*/
/*** t:atan(), in place; returns t.
@function Tensor:atan_
*/
/*** Elementwise: tanh x.
@param t a tensor
@return a tensor
@function tanh
*/
/*** t:tanh(), in place; returns t.
@function Tensor:tanh_
*/
/*** Elementwise: 1 / (1 + e^-x).
@param t a tensor
@return a tensor
@function sigmoid
*/
/*** t:sigmoid(), in place; returns t.
@function Tensor:sigmoid_
*/
/*** Elementwise: max(0, x).
@param t a tensor
@return a tensor
@function relu
*/
/*** t:relu(), in place; returns t.
@function Tensor:relu_
*/
/*** Elementwise: x * sigmoid(x).
@param t a tensor
@return a tensor
@function silu
*/
/*** t:silu(), in place; returns t.
@function Tensor:silu_
*/
/*** Elementwise: x * Phi(x), with the exact Gaussian CDF.
@param t a tensor
@return a tensor
@function gelu
*/
/*** t:gelu(), in place; returns t.
@function Tensor:gelu_
*/
/*** Elementwise: the error function of x.
@param t a tensor
@return a tensor
@function erf
*/
/*** t:erf(), in place; returns t.
@function Tensor:erf_
*/
/*** Elementwise: the largest integer <= x.
@param t a tensor
@return a tensor
@function floor
*/
/*** t:floor(), in place; returns t.
@function Tensor:floor_
*/
/*** Elementwise: the smallest integer >= x.
@param t a tensor
@return a tensor
@function ceil
*/
/*** t:ceil(), in place; returns t.
@function Tensor:ceil_
*/
/*** Elementwise: x rounded to the nearest integer, halves to even.
@param t a tensor
@return a tensor
@function round
*/
/*** t:round(), in place; returns t.
@function Tensor:round_
*/
/*** Elementwise: whether x is NaN (bool).
@param t a tensor
@return a tensor
@function isnan
*/
/*** t:isnan(), in place; returns t.
@function Tensor:isnan_
*/
/*** Elementwise: whether x is +-inf (bool).
@param t a tensor
@return a tensor
@function isinf
*/
/*** t:isinf(), in place; returns t.
@function Tensor:isinf_
*/
/*** Elementwise: whether x is neither NaN nor infinite (bool).
@param t a tensor
@return a tensor
@function isfinite
*/
/*** t:isfinite(), in place; returns t.
@function Tensor:isfinite_
*/
/*** Elementwise: not x (bool).
@param t a tensor
@return a tensor
@function logical_not
*/
/*** t:logical_not(), in place; returns t.
@function Tensor:logical_not_
*/
/*** Elementwise: a + b (t:add(b, alpha): a + alpha * b); also the + operator. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function add
*/
/*** t:add(b), in place; returns t.
@param b a tensor or number
@function Tensor:add_
*/
/*** Elementwise: a - b; also the - operator. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function sub
*/
/*** t:sub(b), in place; returns t.
@param b a tensor or number
@function Tensor:sub_
*/
/*** Elementwise: a * b, elementwise; also the * operator. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function mul
*/
/*** t:mul(b), in place; returns t.
@param b a tensor or number
@function Tensor:mul_
*/
/*** Elementwise: a / b (true division: integers give floats); also the / operator. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function div
*/
/*** t:div(b), in place; returns t.
@param b a tensor or number
@function Tensor:div_
*/
/*** Elementwise: a ^ b; also the ^ operator. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function pow
*/
/*** t:pow(b), in place; returns t.
@param b a tensor or number
@function Tensor:pow_
*/
/*** Elementwise: atan2(a, b), the angle of (b, a). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function atan2
*/
/*** t:atan2(b), in place; returns t.
@param b a tensor or number
@function Tensor:atan2_
*/
/*** Elementwise: the remainder of a / b with the sign of a (C's fmod; torch.fmod). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function fmod
*/
/*** t:fmod(b), in place; returns t.
@param b a tensor or number
@function Tensor:fmod_
*/
/*** Elementwise: the larger of a and b. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function maximum
*/
/*** Elementwise: the smaller of a and b. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function minimum
*/
/*** Elementwise: a == b, elementwise (bool). Lua's == on tensors compares identity, so this is the elementwise form. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function eq
*/
/*** t:eq(b), in place; returns t.
@param b a tensor or number
@function Tensor:eq_
*/
/*** Elementwise: a ~= b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function ne
*/
/*** t:ne(b), in place; returns t.
@param b a tensor or number
@function Tensor:ne_
*/
/*** Elementwise: a < b, elementwise (bool); Lua's < cannot return a tensor, so use this. a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function lt
*/
/*** t:lt(b), in place; returns t.
@param b a tensor or number
@function Tensor:lt_
*/
/*** Elementwise: a <= b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function le
*/
/*** t:le(b), in place; returns t.
@param b a tensor or number
@function Tensor:le_
*/
/*** Elementwise: a > b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function gt
*/
/*** t:gt(b), in place; returns t.
@param b a tensor or number
@function Tensor:gt_
*/
/*** Elementwise: a >= b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function ge
*/
/*** t:ge(b), in place; returns t.
@param b a tensor or number
@function Tensor:ge_
*/
/*** Elementwise: a and b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function logical_and
*/
/*** t:logical_and(b), in place; returns t.
@param b a tensor or number
@function Tensor:logical_and_
*/
/*** Elementwise: a or b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function logical_or
*/
/*** t:logical_or(b), in place; returns t.
@param b a tensor or number
@function Tensor:logical_or_
*/
/*** Elementwise: a xor b, elementwise (bool). a and b broadcast; either may be a number.
@param a a tensor or number
@param b a tensor or number
@return a tensor
@function logical_xor
*/
/*** t:logical_xor(b), in place; returns t.
@param b a tensor or number
@function Tensor:logical_xor_
*/
void lnb_register_pointwise(lua_State *L, int module, int methods) {
  const int where[2] = {lua_absindex(L, module), lua_absindex(L, methods)};
  char name[64];
  for (int op = 0; op < LN_UNARY_COUNT; op++) {
    register_op(L, where, pw_unary, op, ln_unary_name(op), LNB_BOTH);
    snprintf(name, sizeof name, "%s_", ln_unary_name(op));
    register_op(L, where, pw_unary_, op, name, LNB_METHOD);
  }
  for (int op = 0; op < LN_BINARY_COUNT; op++) {
    register_op(L, where, pw_binary, op, ln_binary_name(op), LNB_BOTH);
    if (op == LN_BINARY_MAXIMUM || op == LN_BINARY_MINIMUM) continue;
    snprintf(name, sizeof name, "%s_", ln_binary_name(op));
    register_op(L, where, pw_binary_, op, name, LNB_METHOD);
  }
}
