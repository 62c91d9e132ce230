/*
** lreduce.c: reductions for Lua, as luann.f(t, ...) and t:f(...):
**   sum, mean, prod, logsumexp, any, all, amax, amin (t, [dims], [keepdim])
**     dims: nil (every element), a dim, or a table of dims;
**   max, min (t) -> 0-dim tensor; (t, dim, [keepdim]) -> values, indices;
**     (t, other_tensor) -> elementwise maximum/minimum;
**   argmax, argmin (t, [dim], [keepdim]) -> int64 indices (1-based);
**   var, std (t, [dim], [keepdim], [{correction = 1} | {unbiased = true}])
**     or (t, unbiased_boolean);
**   norm (t, [p = 2 | math.huge | -math.huge | "fro"], [dim], [keepdim]);
**   softmax, log_softmax (t, dim).
** Dims are 1-based, negatives count from the end; a 0-dim tensor takes
** dim 1 or -1. Indices handed to Lua are 1-based.
*/

/*** Reductions (bindings/lreduce.c), part of the luann module.
@module luann
*/
#include <math.h>
#include <string.h>

#include "lbase.h"

/* ---- arguments ----------------------------------------------------------- */

/* A Lua dim d for t, 0-based; raises naming fname when out of range. */
static int wrap_dim(lua_State *L, int d, const ln_tensor *t, const char *fname) {
  int n = t->ndim ? t->ndim : 1;
  if (d < -n || d >= n) /* d is already 0-based or negative */
    lnb_errorf(L, "%s: dim %d out of range for a tensor of %d dims", fname,
               d >= 0 ? d + 1 : d, t->ndim);
  return d < 0 ? d + n : d;
}

static int check_dim(lua_State *L, int idx, const ln_tensor *t,
                     const char *fname) {
  return wrap_dim(L, lnb_check_dim(L, idx), t, fname);
}

/* Dims at idx: nil or none (every element: returns 0), a number, or a table
** of numbers. Fills dims (0-based) and returns their count. */
static int read_dims(lua_State *L, int idx, const ln_tensor *t,
                     const char *fname, int *dims) {
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx) || lnb_test(L, idx)) {
    dims[0] = check_dim(L, idx, t, fname);
    return 1;
  }
  int n = lnb_check_len(L, idx, LN_MAX_DIMS, "dims");
  if (n == 0) lnb_errorf(L, "%s: the table of dims is empty", fname);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    int isint;
    lua_Integer d = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint) lnb_errorf(L, "%s: dims must be integers", fname);
    if (d == 0) lnb_errorf(L, "%s: dim 0 is invalid: dims are 1-based", fname);
    if (d > 64 || d < -64) d = 64; /* out of range either way */
    dims[i] = wrap_dim(L, d > 0 ? (int)d - 1 : (int)d, t, fname);
  }
  return n;
}

/* keepdim at idx: a boolean, or absent (false). */
static bool opt_keepdim(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return false;
  lnb_check_type(L, idx, LUA_TBOOLEAN);
  return lua_toboolean(L, idx);
}

/* ---- sum, mean, prod, logsumexp, any, all, amax, amin -------------------- */

static int reduce(lua_State *L, ln_reduce_op op, const char *fname) {
  ln_tensor *t = lnb_check(L, 1);
  int dims[LN_MAX_DIMS];
  int n = read_dims(L, 2, t, fname, dims);
  bool keepdim = opt_keepdim(L, 3);
  if (n == 1 && op != LN_REDUCE_MAX && op != LN_REDUCE_MIN)
    return lnb_push(L, ln_reduce(op, t, dims[0], keepdim));
  return lnb_push(L, ln_reduce_dims(op, t, n, dims, keepdim));
}

/*** Sum of the elements over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function sum
*/
static int r_sum(lua_State *L) { return reduce(L, LN_REDUCE_SUM, "sum"); }
/*** Mean of the elements over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function mean
*/
static int r_mean(lua_State *L) { return reduce(L, LN_REDUCE_MEAN, "mean"); }
/*** Product of the elements over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function prod
*/
static int r_prod(lua_State *L) { return reduce(L, LN_REDUCE_PROD, "prod"); }
/*** Whether any element is true (nonzero) over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function any
*/
static int r_any(lua_State *L) { return reduce(L, LN_REDUCE_ANY, "any"); }
/*** Whether every element is true (nonzero) over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function all
*/
static int r_all(lua_State *L) { return reduce(L, LN_REDUCE_ALL, "all"); }
/*** Largest element over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function amax
*/
/* amax/amin: gradients split evenly among ties, over any dims. */
static int r_amax(lua_State *L) { return reduce(L, LN_REDUCE_MAX, "amax"); }
/*** Smallest element over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function amin
*/
static int r_amin(lua_State *L) { return reduce(L, LN_REDUCE_MIN, "amin"); }

/*** log(sum(exp(t))), computed stably, over dim when given, else over all.
@param t a tensor
@param[opt] dim a dim or a list of dims (1-based); all when nil
@param[opt] keepdim keep reduced dims as size 1 (default false)
@return a tensor
@function logsumexp
*/
static int r_logsumexp(lua_State *L) {
  return reduce(L, LN_REDUCE_LOGSUMEXP, "logsumexp");
}

/* ---- max, min, argmax, argmin -------------------------------------------- */

static int extreme(lua_State *L, bool max) {
  const char *fname = max ? "max" : "min";
  ln_tensor *t = lnb_check(L, 1), *other = lnb_test(L, 2);
  if (other)
    return lnb_push(L, ln_binary(max ? LN_BINARY_MAXIMUM : LN_BINARY_MINIMUM,
                                 t, lnb_check(L, 2)));
  if (lua_isnoneornil(L, 2))
    return lnb_push(L, ln_reduce(max ? LN_REDUCE_MAX : LN_REDUCE_MIN, t, -1,
                                 false));
  int d = check_dim(L, 2, t, fname);
  bool keepdim = opt_keepdim(L, 3);
  ln_tensor *values, *indices;
  int rc = max ? ln_max_dim(t, d, keepdim, &values, &indices)
               : ln_min_dim(t, d, keepdim, &values, &indices);
  if (rc != LN_OK) return lnb_error(L);
  lnb_push(L, values);
  lnb_push(L, lnb_index_to_lua(indices));
  return 2;
}

/*** Largest element: without dim a 0-dim tensor; with dim, the values and their
indices (1-based) along it: `local values, indices = t:max(2)`. t:max(other) with a tensor
is the elementwise maximum.
@param t a tensor
@param[opt] dim a dim, or a tensor
@param[opt] keepdim default false
@return values, and indices with dim
@function max
*/
static int r_max(lua_State *L) { return extreme(L, true); }
/*** Smallest element: without dim a 0-dim tensor; with dim, the values and their
indices (1-based) along it: `local values, indices = t:min(2)`. t:min(other) with a tensor
is the elementwise minimum.
@param t a tensor
@param[opt] dim a dim, or a tensor
@param[opt] keepdim default false
@return values, and indices with dim
@function min
*/
static int r_min(lua_State *L) { return extreme(L, false); }

static int arg_extreme(lua_State *L, ln_reduce_op op, const char *fname) {
  ln_tensor *t = lnb_check(L, 1);
  int d = lua_isnoneornil(L, 2) ? -1 : check_dim(L, 2, t, fname);
  bool keepdim = opt_keepdim(L, 3);
  return lnb_push(L, lnb_index_to_lua(ln_reduce(op, t, d, keepdim)));
}

/*** 1-based index of the largest element along dim (of the flattened tensor without dim).
@param t a tensor
@param[opt] dim a dim
@param[opt] keepdim default false
@return an int64 tensor
@function argmax
*/
static int r_argmax(lua_State *L) {
  return arg_extreme(L, LN_REDUCE_ARGMAX, "argmax");
}

/*** 1-based index of the smallest element along dim (of the flattened tensor without dim).
@param t a tensor
@param[opt] dim a dim
@param[opt] keepdim default false
@return an int64 tensor
@function argmin
*/
static int r_argmin(lua_State *L) {
  return arg_extreme(L, LN_REDUCE_ARGMIN, "argmin");
}

/* ---- var, std ------------------------------------------------------------ */

/* Reads {correction = n} or {unbiased = b} from the table at idx. */
static int read_correction(lua_State *L, int idx, const char *fname) {
  int correction = 1;
  lnb_check_option_keys(L, idx,
                        (const char *const[]){"correction", "unbiased", NULL});
  if (lua_getfield(L, idx, "unbiased") != LUA_TNIL) {
    if (!lua_isboolean(L, -1))
      lnb_errorf(L, "%s: unbiased must be a boolean", fname);
    correction = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "correction") != LUA_TNIL) {
    int isint;
    lua_Integer c = lua_tointegerx(L, -1, &isint);
    if (!isint || c < 0 || c > INT32_MAX)
      lnb_errorf(L, "%s: correction must be a non-negative integer", fname);
    correction = (int)c;
  }
  lua_pop(L, 1);
  return correction;
}

/* (t, [dim], [keepdim], [options]) or (t, unbiased). */
static int variance(lua_State *L, bool take_sqrt) {
  const char *fname = take_sqrt ? "std" : "var";
  ln_tensor *t = lnb_check(L, 1);
  int dim = -1, correction = 1, idx = 2;
  bool keepdim = false;
  if (lua_isboolean(L, 2)) { /* var(unbiased), as PyTorch */
    correction = lua_toboolean(L, 2);
    idx = 3;
  } else if (!lua_istable(L, 2)) {
    if (!lua_isnoneornil(L, 2)) dim = check_dim(L, 2, t, fname);
    if (!lua_istable(L, 3)) keepdim = opt_keepdim(L, 3);
    idx = lua_istable(L, 3) ? 3 : 4;
  }
  if (lua_istable(L, idx)) correction = read_correction(L, idx, fname);
  else if (!lua_isnoneornil(L, idx)) lnb_typeerror(L, idx, "options table");
  return lnb_push(L, take_sqrt ? ln_std(t, dim, keepdim, correction)
                               : ln_var(t, dim, keepdim, correction));
}

/*** Variance over dim (all when nil), with Bessel's correction unless unbiased is false.
@param t a tensor
@param[opt] dim a dim or list
@param[opt] unbiased default true (or an options table {correction =, keepdim =})
@param[opt] keepdim default false
@return a tensor
@function var
*/
static int r_var(lua_State *L) { return variance(L, false); }
/*** Standard deviation over dim (all when nil), with Bessel's correction unless unbiased is false.
@param t a tensor
@param[opt] dim a dim or list
@param[opt] unbiased default true (or an options table {correction =, keepdim =})
@param[opt] keepdim default false
@return a tensor
@function std
*/
static int r_std(lua_State *L) { return variance(L, true); }

/* ---- norm, softmax, log_softmax -------------------------------------------- */

/*** p-norm over dim (all when nil): `t:norm()`, `t:norm(1)`, `t:norm(2, 2)`.
@param t a tensor
@param[opt] p default 2 ("fro" too)
@param[opt] dim a dim
@param[opt] keepdim default false
@return a tensor
@function norm
*/
static int r_norm(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double p = 2;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    if (strcmp(s, "fro") == 0) p = 2;
    else if (strcmp(s, "inf") == 0) p = HUGE_VAL;
    else if (strcmp(s, "-inf") == 0) p = -HUGE_VAL;
    else return lnb_errorf(L, "norm: unknown norm '%s' (expected a number, "
                           "'fro', 'inf' or '-inf')", s);
  } else if (!lua_isnoneornil(L, 2)) {
    p = lnb_check_number(L, 2);
  }
  int dim = lua_isnoneornil(L, 3) ? -1 : check_dim(L, 3, t, "norm");
  return lnb_push(L, ln_norm(t, p, dim, opt_keepdim(L, 4)));
}

/*** exp(t) / sum(exp(t)) along dim, computed stably.
@param t a tensor
@param dim a dim (1-based)
@return a tensor
@function softmax
*/
static int r_softmax(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_softmax(t, check_dim(L, 2, t, "softmax")));
}

/*** log(softmax(t, dim)), computed stably.
@param t a tensor
@param dim a dim (1-based)
@return a tensor
@function log_softmax
*/
static int r_log_softmax(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_log_softmax(t, check_dim(L, 2, t, "log_softmax")));
}

const lnb_reg lnb_reductions[] = {
  {"sum", r_sum, LNB_BOTH},
  {"mean", r_mean, LNB_BOTH},
  {"prod", r_prod, LNB_BOTH},
  {"max", r_max, LNB_BOTH},
  {"min", r_min, LNB_BOTH},
  {"amax", r_amax, LNB_BOTH},
  {"amin", r_amin, LNB_BOTH},
  {"argmax", r_argmax, LNB_BOTH},
  {"argmin", r_argmin, LNB_BOTH},
  {"logsumexp", r_logsumexp, LNB_BOTH},
  {"any", r_any, LNB_BOTH},
  {"all", r_all, LNB_BOTH},
  {"var", r_var, LNB_BOTH},
  {"std", r_std, LNB_BOTH},
  {"norm", r_norm, LNB_BOTH},
  {"softmax", r_softmax, LNB_BOTH},
  {"log_softmax", r_log_softmax, LNB_BOTH},
  {NULL, NULL, 0},
};
