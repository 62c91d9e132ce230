/*
** llinalg.c: matrix products from Lua: matmul (Lua has no `@`, so
** luann.matmul(a, b) or a:matmul(b)), mm, bmm, addmm, dot, outer,
** linear, and the CPU thread count (set_num_threads, get_num_threads).
*/

/*** Products and threads (bindings/llinalg.c), part of the luann module.
@module luann
*/
#include "lbase.h"

/*** Matrix product with PyTorch's rules: vectors, matrices, and batches broadcast over leading dims.
@param a a tensor
@param b a tensor
@return a tensor
@function matmul
*/
static int l_matmul(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  return lnb_push(L, ln_matmul(a, b));
}

/*** Product of two matrices (n, k) x (k, m).
@param a (n, k)
@param b (k, m)
@return (n, m)
@function mm
*/
static int l_mm(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  return lnb_push(L, ln_mm(a, b));
}

/*** Batched product (b, n, k) x (b, k, m).
@param a (b, n, k)
@param b (b, k, m)
@return (b, n, m)
@function bmm
*/
static int l_bmm(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  return lnb_push(L, ln_bmm(a, b));
}

/*** Dot product of two 1-D tensors.
@param a a 1-D tensor
@param b a 1-D tensor
@return a 0-dim tensor
@function dot
*/
static int l_dot(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  return lnb_push(L, ln_dot(a, b));
}

/*** Outer product of two 1-D tensors: (n) x (m) -> (n, m).
@param a a 1-D tensor
@param b a 1-D tensor
@return (n, m)
@function outer
*/
static int l_outer(lua_State *L) {
  ln_tensor *a = lnb_check(L, 1), *b = lnb_check(L, 2);
  return lnb_push(L, ln_outer(a, b));
}

/* A number field of the options table at idx, def when absent. */
static double opt_field(lua_State *L, int idx, const char *key, double def) {
  if (lua_isnoneornil(L, idx)) return def;
  lua_getfield(L, idx, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  if (!lua_isnumber(L, -1))
    return lnb_errorf(L, "addmm: option '%s' must be a number, got %s", key,
                      luaL_typename(L, -1));
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/*** beta * input + alpha * (a x b), one fused product.
@param input broadcastable to (n, m)
@param a (n, k)
@param b (k, m)
@param[opt] opts {beta = 1, alpha = 1}
@return (n, m)
@function addmm
*/
/* addmm(c, a, b, {beta = 1, alpha = 1}) = beta * c + alpha * (a @ b) */
static int l_addmm(lua_State *L) {
  ln_tensor *c = lnb_check(L, 1), *a = lnb_check(L, 2), *b = lnb_check(L, 3);
  if (!lua_isnoneornil(L, 4)) {
    lnb_check_type(L, 4, LUA_TTABLE);
    lnb_check_option_keys(L, 4, (const char *const[]){"beta", "alpha", NULL});
  }
  double beta = opt_field(L, 4, "beta", 1), alpha = opt_field(L, 4, "alpha", 1);
  return lnb_push(L, ln_addmm(c, a, b, beta, alpha));
}

/*** x W^T + b for x (..., in), W (out, in), b (out) or nil: nn.Linear's op.
@param x a tensor
@param weight (out, in)
@param[opt] bias (out)
@return (..., out)
@function linear
*/
/* linear(x, w [, bias]) = x @ w^T + bias, as nn.Linear computes it. */
static int l_linear(lua_State *L) {
  ln_tensor *x = lnb_check(L, 1), *w = lnb_check(L, 2), *bias = NULL;
  if (!lua_isnoneornil(L, 3)) bias = lnb_check(L, 3);
  return lnb_push(L, ln_linear(x, w, bias));
}

/*** Sets how many threads BLIS and every OpenMP loop use (default: all cores).
@param n an integer
@function set_num_threads
*/
static int l_set_num_threads(lua_State *L) {
  lua_Integer n = lnb_check_integer(L, 1);
  lnb_argcheck(L, n >= 1 && n <= 4096, 1, "expected a thread count from 1 to 4096");
  ln_set_num_threads((int)n);
  return 0;
}

/*** The number of threads set by set_num_threads (luann.cpu.threads() says how many run now).
@return an integer
@function get_num_threads
*/
static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, ln_get_num_threads());
  return 1;
}

const lnb_reg lnb_linalg[] = {
  {"matmul", l_matmul, LNB_BOTH},
  {"mm", l_mm, LNB_BOTH},
  {"bmm", l_bmm, LNB_BOTH},
  {"addmm", l_addmm, LNB_BOTH},
  {"dot", l_dot, LNB_BOTH},
  {"outer", l_outer, LNB_BOTH},
  {"linear", l_linear, LNB_FUNCTION},
  {"set_num_threads", l_set_num_threads, LNB_FUNCTION},
  {"get_num_threads", l_get_num_threads, LNB_FUNCTION},
  {NULL, NULL, 0},
};
