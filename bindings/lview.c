/*
** lview.c: views and conversions from Lua: view, reshape, transpose,
** permute, expand, narrow, select, squeeze, unsqueeze, flatten,
** contiguous, clone, detach, to(dtype | device), float(), ...
** Dims and start indices are 1-based, negatives from the end.
*/

/*** Views, copies and conversions (bindings/lview.c), part of the luann module.
@module luann
*/
#include <string.h>

#include "lbase.h"

/* Sizes as varargs from idx or one table at idx; -1 allowed (inferred or
** kept by the op). Returns their count. */
static int read_sizes(lua_State *L, int idx, int64_t *shape) {
  int n = 0;
  if (lua_istable(L, idx) && !lnb_test(L, idx)) {
    n = lnb_check_len(L, idx, LN_MAX_DIMS, "sizes");
    for (int i = 0; i < n; i++) {
      lua_geti(L, idx, i + 1);
      shape[i] = lnb_check_entry(L, idx, i + 1, "sizes");
      lua_pop(L, 1);
    }
    return n;
  }
  for (int i = idx; i <= lua_gettop(L); i++) {
    lnb_argcheck(L, n < LN_MAX_DIMS, i, "too many dims");
    shape[n++] = lnb_check_integer(L, i);
  }
  return n;
}

/*** The same memory seen with another shape (t must be contiguous enough; use reshape otherwise). One size may be -1.
`t:view(2, 3)`, `t:view({2, 3})`
@param ... sizes or a table of sizes
@return a view
@function Tensor:view
*/
static int t_view(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int64_t shape[LN_MAX_DIMS];
  int n = read_sizes(L, 2, shape);
  return lnb_push(L, ln_view(t, n, shape));
}

/*** t with another shape: a view when possible, else a copy. One size may be -1.
@param t a tensor
@param ... sizes or a table of sizes
@return a tensor
@function reshape
*/
static int t_reshape(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int64_t shape[LN_MAX_DIMS];
  int n = read_sizes(L, 2, shape);
  return lnb_push(L, ln_reshape(t, n, shape));
}

/*** t:view(other's shape).
@param other a tensor
@return a view
@function Tensor:view_as
*/
static int t_view_as(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *o = lnb_check(L, 2);
  return lnb_push(L, ln_view(t, o->ndim, o->shape));
}

/*** t:reshape(other's shape).
@param other a tensor
@return a tensor
@function Tensor:reshape_as
*/
static int t_reshape_as(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *o = lnb_check(L, 2);
  return lnb_push(L, ln_reshape(t, o->ndim, o->shape));
}

/*** A view with dims d1 and d2 swapped.
@param t a tensor
@param d1 a dim (1-based)
@param d2 a dim
@return a view
@function transpose
*/
static int t_transpose(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_transpose(t, lnb_check_dim(L, 2), lnb_check_dim(L, 3)));
}

/*** The transpose of a matrix (a 0-D or 1-D tensor as it is).
@param t a tensor of at most 2 dims
@return a view
@function t
*/
/* t:t(): the transpose of a matrix (vectors come back as they are). */
static int t_t(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (t->ndim > 2)
    return lnb_errorf(L, "t: expected a tensor of at most 2 dims, got %d", t->ndim);
  return lnb_push(L, ln_transpose(t, 0, t->ndim == 2 ? 1 : 0));
}

/*** A view with the dims in the order given: `t:permute(2, 1, 3)`.
@param t a tensor
@param ... dims (1-based) or a table
@return a view
@function permute
*/
static int t_permute(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int dims[LN_MAX_DIMS], n;
  bool table = lua_istable(L, 2);
  n = table ? lnb_check_len(L, 2, LN_MAX_DIMS, "dims") : lua_gettop(L) - 1;
  if (n != t->ndim)
    return lnb_errorf(L, "permute: expected %d dims, got %d", t->ndim, n);
  for (int i = 0; i < n; i++) {
    if (table) lua_geti(L, 2, i + 1);
    else lua_pushvalue(L, i + 2);
    dims[i] = lnb_check_dim(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  return lnb_push(L, ln_permute(t, dims));
}

/*** A view with size-1 dims repeated to the sizes given, without copying (-1 keeps a size).
@param ... sizes or a table
@return a view
@function Tensor:expand
*/
static int t_expand(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int64_t shape[LN_MAX_DIMS];
  int n = read_sizes(L, 2, shape);
  return lnb_push(L, ln_expand(t, n, shape));
}

/*** t:expand(other's shape).
@param other a tensor
@return a view
@function Tensor:expand_as
*/
static int t_expand_as(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *o = lnb_check(L, 2);
  return lnb_push(L, ln_expand(t, o->ndim, o->shape));
}

/*** A view of length elements of dim d from start (1-based).
@param t a tensor
@param d a dim
@param start the first index (1-based)
@param length how many
@return a view
@function narrow
*/
/* narrow(dim, start, length) with a 1-based start. */
static int t_narrow(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = lnb_check_dim(L, 2);
  lua_Integer start = lnb_check_integer(L, 3), len = lnb_check_integer(L, 4);
  lnb_argcheck(L, start != 0, 3, "start 0 is invalid: indices are 1-based");
  int dd = d < 0 ? d + t->ndim : d;
  if (dd < 0 || dd >= t->ndim)
    return lnb_errorf(L, "narrow: dim %d out of range for a tensor of %d dims",
                      (int)lua_tointeger(L, 2), t->ndim);
  int64_t s = start > 0 ? start - 1 : t->shape[dd] + start;
  return lnb_push(L, ln_narrow(t, d, s, len));
}

/*** A view of index i of dim d, without that dim (t[i] for d = 1).
@param t a tensor
@param d a dim
@param i an index (1-based, negative from the end)
@return a view
@function select
*/
static int t_select(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = lnb_check_dim(L, 2);
  lua_Integer i = lnb_check_integer(L, 3);
  lnb_argcheck(L, i != 0, 3, "index 0 is invalid: indices are 1-based");
  return lnb_push(L, ln_select(t, d, i > 0 ? i - 1 : i));
}

/*** A view without size-1 dims (or only dim d when given).
@param t a tensor
@param[opt] d a dim
@return a view
@function squeeze
*/
static int t_squeeze(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (lua_isnoneornil(L, 2)) return lnb_push(L, ln_squeeze(t, -1));
  int d = lnb_check_dim(L, 2);
  if (d < 0) d += t->ndim; /* -1 means "all" in the core */
  if (d < 0 || d >= t->ndim)
    return lnb_errorf(L, "squeeze: dim %d out of range for a tensor of %d dims",
                      (int)lua_tointeger(L, 2), t->ndim);
  return lnb_push(L, ln_squeeze(t, d));
}

/*** A view with a size-1 dim inserted at d.
@param t a tensor
@param d a dim (1-based; -1 appends)
@return a view
@function unsqueeze
*/
static int t_unsqueeze(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_unsqueeze(t, lnb_check_dim(L, 2)));
}

/*** A tensor with dims start..end merged into one (default all).
@param t a tensor
@param[opt] start_dim default 1
@param[opt] end_dim default -1
@return a tensor
@function flatten
*/
/* flatten([start_dim = 1 [, end_dim = -1]]) */
static int t_flatten(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return lnb_push(L, ln_flatten(t, lnb_opt_dim(L, 2, 0), lnb_opt_dim(L, 3, -1)));
}

/*** t itself when contiguous, else a contiguous copy.
@return a tensor
@function Tensor:contiguous
*/
static int t_contiguous(lua_State *L) { return lnb_push(L, ln_contiguous(lnb_check(L, 1))); }
/*** A copy of t with its own memory (recorded by autograd).
@param t a tensor
@return a tensor
@function clone
*/
static int t_clone(lua_State *L) { return lnb_push(L, ln_clone(lnb_check(L, 1))); }
/*** The same memory without autograd history (a leaf that does not require grad).
@param t a tensor
@return a tensor
@function detach
*/
static int t_detach(lua_State *L) { return lnb_push(L, ln_detach(lnb_check(L, 1))); }

/*** t on another device and/or with another dtype: `t:to("opencl")`, `t:to("float64")`, `t:to(dev, "float64")`; t itself when nothing changes.
@param ... a device and/or a dtype name
@return a tensor
@function Tensor:to
*/
/* to(dtype), to(device), to(other_tensor) or to{dtype=, device=}. */
static int t_to(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  ln_dtype dt = t->dtype;
  ln_device dev = ln_tensor_device(t);
  ln_tensor *other = lnb_test(L, 2);
  if (other) {
    dt = other->dtype;
    dev = ln_tensor_device(other);
  } else if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    if (ln_dtype_from_name(s, &dt) != LN_OK && ln_device_parse(s, &dev) != LN_OK) {
      /* a known device kind that is absent says why; others are typos */
      if (strncmp(ln_error_message(), "unknown device", 14) != 0)
        return lnb_error(L);
      return lnb_errorf(L, "to: '%s' is neither a dtype nor a device", s);
    }
    ln_error_clear();
  } else if (lua_istable(L, 2)) {
    lnb_check_option_keys(L, 2, (const char *const[]){"dtype", "device", NULL});
    if (lua_getfield(L, 2, "dtype") != LUA_TNIL) dt = lnb_opt_dtype(L, -1, dt);
    if (lua_getfield(L, 2, "device") != LUA_TNIL &&
        ln_device_parse(lnb_check_string(L, -1), &dev) != LN_OK)
      return lnb_error(L);
  } else {
    return lnb_typeerror(L, 2, "dtype, device, tensor or options table");
  }
  ln_tensor *moved = ln_to_device(t, dev);
  ln_tensor *r = moved ? ln_to_dtype(moved, dt) : NULL;
  ln_tensor_release(moved);
  return lnb_push(L, r);
}

static int to_dtype(lua_State *L, ln_dtype dt) {
  return lnb_push(L, ln_to_dtype(lnb_check(L, 1), dt));
}

/*** t as float32.
@return a tensor
@function Tensor:float
*/
static int t_float(lua_State *L) { return to_dtype(L, LN_FLOAT32); }
/*** t as float64.
@return a tensor
@function Tensor:double
*/
static int t_double(lua_State *L) { return to_dtype(L, LN_FLOAT64); }
/*** t as int64.
@return a tensor
@function Tensor:long
*/
static int t_long(lua_State *L) { return to_dtype(L, LN_INT64); }
/*** t as uint8.
@return a tensor
@function Tensor:byte
*/
static int t_byte(lua_State *L) { return to_dtype(L, LN_UINT8); }
/*** t as bool.
@return a tensor
@function Tensor:bool
*/
static int t_bool(lua_State *L) { return to_dtype(L, LN_BOOL); }

/*** t on the CPU (t itself when it is there).
@param t a tensor
@return a tensor
@function cpu
*/
static int t_cpu(lua_State *L) {
  return lnb_push(L, ln_to_device(lnb_check(L, 1), ln_device_cpu()));
}

/*** The dtype name with no argument ("float32", ...), or t converted to the dtype given.
@param[opt] dtype a dtype name
@return a string or a tensor
@function Tensor:type
*/
/* type() gives the dtype's name; type(dtype) converts. */
static int t_type(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_pushstring(L, ln_dtype_name(t->dtype));
    return 1;
  }
  return to_dtype(L, lnb_opt_dtype(L, 2, t->dtype));
}

const lnb_reg lnb_views[] = {
  {"view", t_view, LNB_METHOD},
  {"view_as", t_view_as, LNB_METHOD},
  {"reshape", t_reshape, LNB_BOTH},
  {"reshape_as", t_reshape_as, LNB_METHOD},
  {"transpose", t_transpose, LNB_BOTH},
  {"t", t_t, LNB_BOTH},
  {"permute", t_permute, LNB_BOTH},
  {"expand", t_expand, LNB_METHOD},
  {"expand_as", t_expand_as, LNB_METHOD},
  {"narrow", t_narrow, LNB_BOTH},
  {"select", t_select, LNB_BOTH},
  {"squeeze", t_squeeze, LNB_BOTH},
  {"unsqueeze", t_unsqueeze, LNB_BOTH},
  {"flatten", t_flatten, LNB_BOTH},
  {"contiguous", t_contiguous, LNB_METHOD},
  {"clone", t_clone, LNB_BOTH},
  {"detach", t_detach, LNB_BOTH},
  {"to", t_to, LNB_METHOD},
  {"float", t_float, LNB_METHOD},
  {"double", t_double, LNB_METHOD},
  {"long", t_long, LNB_METHOD},
  {"byte", t_byte, LNB_METHOD},
  {"bool", t_bool, LNB_METHOD},
  {"cpu", t_cpu, LNB_METHOD},
  {"type", t_type, LNB_METHOD},
  {NULL, NULL, 0},
};
