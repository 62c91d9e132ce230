/*
** lcompare.c: comparing whole tensors for Lua: luann.equal, luann.isclose
** and luann.allclose (also as methods), PyTorch's. Lua's own == on tensors
** is identity and < <= raise (see ltensor.c): these, and the elementwise
** eq, lt, le, gt, ge methods, are how values are compared.
*/

/*** Comparing whole tensors (bindings/lcompare.c), part of the luann module.
@module luann
*/
#include "lbase.h"

/* The tolerances: positional (a, b, rtol, atol, equal_nan), as PyTorch's
** allclose, or one table {rtol =, atol =, equal_nan =} at 3. */
typedef struct tolerance {
  double rtol, atol;
  bool equal_nan;
} tolerance;

static const char *const tolerance_keys[] = {"rtol", "atol", "equal_nan", NULL};

static double opt_tolerance(lua_State *L, int idx, double def) {
  if (lua_isnil(L, idx)) return def;
  if (lua_type(L, idx) != LUA_TNUMBER) lnb_typeerror(L, idx, "number");
  return lua_tonumber(L, idx);
}

static tolerance read_tolerance(lua_State *L) {
  tolerance t = {1e-5, 1e-8, false}; /* PyTorch's defaults */
  if (lua_istable(L, 3)) {
    lnb_check_option_keys(L, 3, tolerance_keys);
    lua_getfield(L, 3, "rtol");
    lua_getfield(L, 3, "atol");
    lua_getfield(L, 3, "equal_nan");
    t.rtol = opt_tolerance(L, -3, t.rtol);
    t.atol = opt_tolerance(L, -2, t.atol);
    t.equal_nan = lua_toboolean(L, -1);
    lua_pop(L, 3);
    return t;
  }
  lua_settop(L, 5);
  t.rtol = opt_tolerance(L, 3, t.rtol);
  t.atol = opt_tolerance(L, 4, t.atol);
  t.equal_nan = lua_toboolean(L, 5);
  return t;
}

/* b, the tensor or number at 2, as a tensor next to a (new reference): a
** number takes a's device, and a's dtype when a is float (else float64,
** exact for integers to 2^53). */
static ln_tensor *other(lua_State *L, ln_tensor *a) {
  if (lnb_test(L, 2)) return ln_tensor_retain(lnb_check(L, 2));
  lnb_argexpected(L, lua_type(L, 2) == LUA_TNUMBER, 2, "tensor or number");
  ln_dtype dt = ln_dtype_is_float(a->dtype) ? a->dtype : LN_FLOAT64;
  ln_tensor *b = ln_scalar(lua_tonumber(L, 2), dt, ln_tensor_device(a));
  if (!b) lnb_error(L);
  return b;
}

/***
Whether each element of `a` is close to the one of `b`:
`|a - b| <= atol + rtol * |b|`, or equal (infinities included), as
`torch.isclose`. `a` and `b` broadcast; NaNs are close only with
`equal_nan`.
@function isclose
@param a tensor
@param b tensor or number
@param[opt] rtol relative tolerance (default 1e-5), or a table
  `{rtol =, atol =, equal_nan =}`
@param[opt] atol absolute tolerance (default 1e-8)
@param[opt] equal_nan whether NaN is close to NaN (default false)
@return a bool tensor of the broadcast shape
@usage luann.isclose(a, b, {rtol = 1e-3}):all()
*/
static int l_isclose(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1);
  tolerance tol = read_tolerance(L);
  ln_tensor *b = other(L, a);
  ln_tensor *r = ln_isclose(a, b, tol.rtol, tol.atol, tol.equal_nan);
  ln_tensor_release(b);
  return lnb_push(L, r);
}

/***
Whether every element of `a` is close to the one of `b` (see `isclose`),
as `torch.allclose`: shapes broadcast, and ones that do not are an error.
@function allclose
@param a tensor
@param b tensor or number
@param[opt] rtol relative tolerance (default 1e-5), or a table
  `{rtol =, atol =, equal_nan =}`
@param[opt] atol absolute tolerance (default 1e-8)
@param[opt] equal_nan whether NaN is close to NaN (default false)
@return boolean
*/
static int l_allclose(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1);
  tolerance tol = read_tolerance(L);
  ln_tensor *b = other(L, a);
  bool close;
  int rc = ln_allclose(a, b, tol.rtol, tol.atol, tol.equal_nan, &close);
  ln_tensor_release(b);
  if (rc != LN_OK) return lnb_error(L);
  lua_pushboolean(L, close);
  return 1;
}

/***
Whether `a` and `b` have the same shape and the same values, as
`torch.equal` (no broadcasting; NaN equals nothing). Lua's `a == b` on
tensors is identity, and `a:eq(b)` compares elementwise.
@function equal
@param a tensor
@param b tensor
@return boolean
*/
static int l_equal(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  bool same;
  if (ln_equal(a, b, &same) != LN_OK) return lnb_error(L);
  lua_pushboolean(L, same);
  return 1;
}

const lnb_reg lnb_compare[] = {
  {"isclose", l_isclose, LNB_BOTH},
  {"allclose", l_allclose, LNB_BOTH},
  {"equal", l_equal, LNB_BOTH},
  {NULL, NULL, 0},
};
