/*
** lcreate.c: making tensors from Lua (tensor, zeros, arange, rand, ...),
** random generators, and the in-place fills.
** Creation functions take sizes as varargs or one table, then an optional
** options table {dtype=, device=, requires_grad=, generator=} or a dtype.
*/

/*** Creating tensors: from data, filled, random (bindings/lcreate.c), part of the luann module.
@module luann
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lbase.h"

#define LNB_GENERATOR "luann.Generator"

static ln_device default_device;
static bool default_device_set;

ln_device lnb_default_device(void) {
  return default_device_set ? default_device : ln_device_cpu();
}

/* The options table or dtype string after the sizes, if any. */
static int options_index(lua_State *L, int from) {
  int top = lua_gettop(L);
  for (int i = from; i <= top; i++)
    if (lua_type(L, i) == LUA_TSTRING || (lua_istable(L, i) && i > from))
      return i;
  return 0;
}

static ln_tensor *finish(lua_State *L, ln_tensor *t, const lnb_options *o) {
  if (!t) lnb_error(L);
  if (o->requires_grad && ln_set_requires_grad(t, true) != LN_OK) {
    ln_tensor_release(t);
    lnb_error(L);
  }
  return t;
}

/* The fills' options table holds only the generator. */
static const char *const generator_option_keys[] = {"generator", NULL};

static ln_generator *opt_generator(lua_State *L, int opts) {
  ln_generator *g = ln_default_generator();
  if (opts > 0 && lua_istable(L, opts)) {
    if (lua_getfield(L, opts, "generator") != LUA_TNIL)
      g = lnb_check_udata(L, -1, LNB_GENERATOR);
    lua_pop(L, 1);
  }
  return g;
}

/* ---- from Lua values ---------------------------------------------------- */

typedef struct nested {
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  bool has_float, has_bool, has_number;
} nested;

/* Walks the first element of each level for the shape, then checks every
** entry against it while inferring the dtype. */
static void nested_shape(lua_State *L, int idx, nested *n) {
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1) && !lnb_test(L, -1)) {
    if (n->ndim == LN_MAX_DIMS) lnb_errorf(L, "tensor: too many nested levels");
    lua_Integer len = luaL_len(L, -1);
    if (len < 0)
      lnb_errorf(L, "tensor: a table at depth %d has length %I", n->ndim + 1, len);
    n->shape[n->ndim++] = len;
    if (ln_check_sizes("tensor", n->ndim, n->shape) != LN_OK) lnb_error(L);
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

/* Each value is kept both ways: doubles for float tensors, and exact
** integers so int64 values beyond 2^53 survive. */
typedef struct lua_value {
  double d;
  int64_t i;
} lua_value;

static void nested_check(lua_State *L, int idx, nested *n, int dim,
                         lua_value **out) {
  luaL_checkstack(L, 4, "tensor");
  if (dim == n->ndim) {
    int type = lua_type(L, idx);
    if (type == LUA_TNUMBER) {
      n->has_number = true;
      if (!lua_isinteger(L, idx)) n->has_float = true;
      (*out)->d = lua_tonumber(L, idx);
      (*out)->i = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : 0;
      (*out)++;
    } else if (type == LUA_TBOOLEAN) {
      n->has_bool = true;
      (*out)->d = (*out)->i = lua_toboolean(L, idx);
      (*out)++;
    } else {
      lnb_errorf(L, "tensor: expected numbers or booleans, got %s",
                 luaL_typename(L, idx));
    }
    return;
  }
  if (!lua_istable(L, idx) || (int64_t)luaL_len(L, idx) != n->shape[dim])
    lnb_errorf(L, "tensor: nested tables are ragged at depth %d (expected "
               "%I entries)", dim + 1, (lua_Integer)n->shape[dim]);
  for (int64_t i = 1; i <= n->shape[dim]; i++) {
    lua_geti(L, idx, i);
    nested_check(L, lua_gettop(L), n, dim + 1, out);
    lua_pop(L, 1);
  }
}

/*** A tensor from a number, a boolean or nested Lua tables (copied).
The dtype is inferred (integers: int64, floats: float32, booleans: bool) unless
options give one. `luann.tensor({{1, 2}, {3, 4}}, {dtype = "float64", requires_grad = true})`
@param data a number, a boolean or a nested table of them (a tensor is copied)
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function tensor
*/
/* luann.tensor(data, [options]): data is nested tables, a number, a boolean
** or a tensor (copied). Integers give int64 and floats float32, as in
** PyTorch. */
static int l_tensor(lua_State *L) {
  lnb_options o;
  lnb_read_options(L, 2, &o);
  bool dtype_given = lua_type(L, 2) == LUA_TSTRING ||
                     (lua_istable(L, 2) && (lua_getfield(L, 2, "dtype"), !lua_isnil(L, -1)));
  lua_settop(L, 2);
  ln_tensor *src = lnb_test(L, 1);
  if (src) {
    ln_tensor *d = ln_detach(src);
    ln_tensor *c = d ? ln_clone(d) : NULL;
    ln_tensor_release(d);
    ln_tensor *r = c && dtype_given ? ln_to_dtype(c, o.dtype) : ln_tensor_retain(c);
    ln_tensor_release(c);
    return lnb_push(L, finish(L, r, &o));
  }
  nested n = {0};
  lnb_argexpected(L, lua_istable(L, 1) || lua_isnumber(L, 1) || lua_isboolean(L, 1),
                   1, "table, number or boolean");
  nested_shape(L, 1, &n);
  /* nested_shape kept the product of every prefix within 2^40 */
  int64_t count = 1;
  for (int i = 0; i < n.ndim; i++) count *= n.shape[i];
  /* A userdata buffer, so that a ragged table's error frees it too. */
  lua_value *values = lua_newuserdatauv(L, sizeof(lua_value) * (size_t)(count ? count : 1), 0);
  lua_value *p = values;
  nested_check(L, 1, &n, 0, &p);
  if (n.has_bool && n.has_number)
    return lnb_errorf(L, "tensor: cannot mix booleans and numbers");
  ln_dtype dt = dtype_given ? o.dtype
                : n.has_bool ? LN_BOOL
                : n.has_float || !n.has_number ? LN_FLOAT32 : LN_INT64;
  bool exact = !n.has_float && !n.has_bool;
  ln_tensor *host = ln_empty(n.ndim, n.shape, exact ? LN_INT64 : LN_FLOAT64, ln_device_cpu());
  if (!host) return lnb_error(L);
  for (int64_t i = 0; i < count; i++) {
    if (exact) ((int64_t *)ln_tensor_data(host))[i] = values[i].i;
    else ((double *)ln_tensor_data(host))[i] = values[i].d;
  }
  ln_tensor *r = ln_to(host, dt, o.device);
  ln_tensor_release(host);
  return lnb_push(L, finish(L, r, &o));
}

/* ---- filled tensors ----------------------------------------------------- */

static int filled(lua_State *L, double value) {
  int64_t shape[LN_MAX_DIMS];
  int ndim = lnb_check_shape(L, 1, shape);
  lnb_options o;
  lnb_read_options(L, options_index(L, 1), &o);
  return lnb_push(L, finish(L, ln_full(ndim, shape, value, o.dtype, o.device), &o));
}

/*** A tensor of zeros, of the shape given as sizes or one table.
`luann.zeros(2, 3)`, `luann.zeros({2, 3}, {dtype = "int64"})`
@param ... sizes, or a table of sizes
@param[opt] opts {dtype = "float32", device =, requires_grad = false}
@return a tensor
@function zeros
*/
static int l_zeros(lua_State *L) { return filled(L, 0); }
/*** A tensor of ones, of the shape given as sizes or one table.
`luann.ones(2, 3)`, `luann.ones({2, 3}, {dtype = "int64"})`
@param ... sizes, or a table of sizes
@param[opt] opts {dtype = "float32", device =, requires_grad = false}
@return a tensor
@function ones
*/
static int l_ones(lua_State *L) { return filled(L, 1); }

/*** A tensor of uninitialised memory (zeros in practice; do not rely on it), of the shape given as sizes or one table.
`luann.empty(2, 3)`, `luann.empty({2, 3}, {dtype = "int64"})`
@param ... sizes, or a table of sizes
@param[opt] opts {dtype = "float32", device =, requires_grad = false}
@return a tensor
@function empty
*/
static int l_empty(lua_State *L) {
  int64_t shape[LN_MAX_DIMS];
  int ndim = lnb_check_shape(L, 1, shape);
  lnb_options o;
  lnb_read_options(L, options_index(L, 1), &o);
  return lnb_push(L, finish(L, ln_zeros(ndim, shape, o.dtype, o.device), &o));
}

/*** A tensor of the shape given, filled with value: `luann.full({2, 3}, 7)`.
@param size a table of sizes
@param value a number (its dtype: int64 for an integer, float32 for a float, unless opts say)
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function full
*/
/* full(sizes_table, value, [options]); integer values give int64. */
static int l_full(lua_State *L) {
  int64_t shape[LN_MAX_DIMS];
  lnb_check_type(L, 1, LUA_TTABLE);
  int ndim = lnb_check_shape(L, 1, shape);
  lnb_check_any(L, 2);
  double v = lua_isboolean(L, 2) ? lua_toboolean(L, 2) : lnb_check_number(L, 2);
  lnb_options o;
  lnb_read_options(L, 3, &o);
  if (lua_isnoneornil(L, 3) || (lua_istable(L, 3) && (lua_getfield(L, 3, "dtype"), lua_isnil(L, -1))))
    o.dtype = lua_isboolean(L, 2) ? LN_BOOL : lua_isinteger(L, 2) ? LN_INT64 : LN_FLOAT32;
  return lnb_push(L, finish(L, ln_full(ndim, shape, v, o.dtype, o.device), &o));
}

/* *_like(t, [options]): t's shape, dtype and device unless overridden. */
static void like_options(lua_State *L, ln_tensor *t, lnb_options *o,
                         const char *const *keys) {
  lnb_read_options_of(L, 2, o, keys);
  bool has_dtype = lua_type(L, 2) == LUA_TSTRING;
  bool has_device = false;
  if (lua_istable(L, 2)) {
    has_dtype = lua_getfield(L, 2, "dtype") != LUA_TNIL;
    has_device = lua_getfield(L, 2, "device") != LUA_TNIL;
    lua_pop(L, 2);
  }
  if (!has_dtype) o->dtype = t->dtype;
  if (!has_device) o->device = ln_tensor_device(t);
}

static int like(lua_State *L, int kind) {
  ln_tensor *t = lnb_check(L, 1);
  lnb_options o;
  like_options(L, t, &o, kind >= 2 ? lnb_random_option_keys
                                   : lnb_tensor_option_keys);
  ln_generator *g = opt_generator(L, lua_istable(L, 2) ? 2 : 0);
  ln_tensor *r;
  switch (kind) {
    case 0: r = ln_zeros(t->ndim, t->shape, o.dtype, o.device); break;
    case 1: r = ln_full(t->ndim, t->shape, 1, o.dtype, o.device); break;
    case 2: r = ln_rand(g, t->ndim, t->shape, o.dtype, o.device); break;
    default: r = ln_randn(g, t->ndim, t->shape, o.dtype, o.device); break;
  }
  return lnb_push(L, finish(L, r, &o));
}

/*** A tensor of uninitialised values with the shape, dtype and device of t (options override them).
@param t a tensor
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function empty_like
*/
static int l_zeros_like(lua_State *L) { return like(L, 0); }
/*** A tensor of ones with the shape, dtype and device of t (options override them).
@param t a tensor
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function ones_like
*/
static int l_ones_like(lua_State *L) { return like(L, 1); }
/*** A tensor of uniform samples in [0, 1) with the shape, dtype and device of t (options override them).
@param t a tensor
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function rand_like
*/
static int l_rand_like(lua_State *L) { return like(L, 2); }
/*** A tensor of standard normal samples with the shape, dtype and device of t (options override them).
@param t a tensor
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function randn_like
*/
static int l_randn_like(lua_State *L) { return like(L, 3); }

/*** A tensor filled with value, with the shape, dtype and device of t.
@param t a tensor
@param value a number
@param[opt] opts {dtype =, device =, requires_grad =}
@return a tensor
@function full_like
*/
static int l_full_like(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double v = lnb_check_number(L, 2);
  lua_remove(L, 2);
  lnb_options o;
  like_options(L, t, &o, lnb_tensor_option_keys);
  return lnb_push(L, finish(L, ln_full(t->ndim, t->shape, v, o.dtype, o.device), &o));
}

/*** The numbers from start up to, not including, stop, by step (PyTorch's half-open
range): `luann.arange(5)` is 0..4, `luann.arange(1, 4)` is 1, 2, 3. int64 when
every argument is an integer, else float32.
@param start (or stop when alone)
@param[opt] stop
@param[opt] step default 1
@param[opt] opts {dtype =, device =, requires_grad =}
@return a 1-D tensor
@function arange
*/
/* arange([start,] end [, step] [, options]): [start, end) like PyTorch;
** int64 when every bound is an integer. */
static int l_arange(lua_State *L) {
  int nnum = 0;
  while (nnum < 3 && lua_type(L, nnum + 1) == LUA_TNUMBER) nnum++;
  lnb_argcheck(L, nnum >= 1, 1, "number expected");
  bool ints = true;
  for (int i = 1; i <= nnum; i++) ints = ints && lua_isinteger(L, i);
  double start = nnum >= 2 ? lua_tonumber(L, 1) : 0;
  double end = nnum >= 2 ? lua_tonumber(L, 2) : lua_tonumber(L, 1);
  double step = nnum == 3 ? lua_tonumber(L, 3) : 1;
  lnb_options o;
  lnb_read_options(L, nnum + 1, &o);
  bool dtype_given = lua_type(L, nnum + 1) == LUA_TSTRING ||
                     (lua_istable(L, nnum + 1) &&
                      lua_getfield(L, nnum + 1, "dtype") != LUA_TNIL);
  if (!dtype_given) o.dtype = ints ? LN_INT64 : LN_FLOAT32;
  return lnb_push(L, finish(L, ln_arange(start, end, step, o.dtype, o.device), &o));
}

/*** steps numbers evenly spaced from start to end, both included (float32 by default).
@param start
@param end
@param steps how many
@param[opt] opts {dtype =, device =, requires_grad =}
@return a 1-D tensor
@function linspace
*/
static int l_linspace(lua_State *L) {
  double a = lnb_check_number(L, 1), b = lnb_check_number(L, 2);
  lua_Integer steps = lnb_check_integer(L, 3);
  lnb_options o;
  lnb_read_options(L, 4, &o);
  return lnb_push(L, finish(L, ln_linspace(a, b, steps, o.dtype, o.device), &o));
}

/*** The identity matrix (n, m), m defaulting to n.
@param n rows
@param[opt] m columns
@param[opt] opts {dtype =, device =, requires_grad =}
@return a 2-D tensor
@function eye
*/
static int l_eye(lua_State *L) {
  lua_Integer n = lnb_check_integer(L, 1);
  lua_Integer m = lua_type(L, 2) == LUA_TNUMBER ? lnb_check_integer(L, 2) : n;
  lnb_argcheck(L, n >= 0 && m >= 0, 1, "sizes must be non-negative");
  lnb_options o;
  lnb_read_options(L, lua_type(L, 2) == LUA_TNUMBER ? 3 : 2, &o);
  return lnb_push(L, finish(L, ln_eye(n, m, o.dtype, o.device), &o));
}

/* ---- random ------------------------------------------------------------- */

static int random_sized(lua_State *L, bool normal) {
  int64_t shape[LN_MAX_DIMS];
  int ndim = lnb_check_shape(L, 1, shape);
  int opts = options_index(L, 1);
  lnb_options o;
  lnb_read_options_of(L, opts, &o, lnb_random_option_keys);
  ln_generator *g = opt_generator(L, opts);
  ln_tensor *r = normal ? ln_randn(g, ndim, shape, o.dtype, o.device)
                        : ln_rand(g, ndim, shape, o.dtype, o.device);
  return lnb_push(L, finish(L, r, &o));
}

/*** Uniform samples in [0, 1) of the shape given (float32 by default).
@param ... sizes, or a table of sizes
@param[opt] opts {dtype =, device =, requires_grad =, generator =}
@return a tensor
@function rand
*/
static int l_rand(lua_State *L) { return random_sized(L, false); }
/*** Standard normal samples of the shape given (float32 by default).
@param ... sizes, or a table of sizes
@param[opt] opts {dtype =, device =, requires_grad =, generator =}
@return a tensor
@function randn
*/
static int l_randn(lua_State *L) { return random_sized(L, true); }

/***
Random integers in `[low, high)`, half open as in PyTorch:
`randint(10, {n})` gives 0..9. luann's class labels are 1-based, so
labels for 10 classes are `randint(1, 11, {n})`.
@function randint
@param[opt=0] low the smallest value
@param high one past the largest value
@param sizes a table of sizes
@param[opt] options `{dtype = "int64", device =, requires_grad =, generator =}`
@return a tensor (int64 unless dtype says otherwise)
@usage local labels = luann.randint(1, 11, {64}) -- 1..10, for 10 classes
*/
static int l_randint(lua_State *L) {
  lua_Integer low = 0, high;
  int at = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    low = lnb_check_integer(L, 1);
    high = lnb_check_integer(L, 2);
    at = 3;
  } else {
    high = lnb_check_integer(L, 1);
  }
  lnb_check_type(L, at, LUA_TTABLE);
  int64_t shape[LN_MAX_DIMS];
  int ndim = lnb_check_shape(L, at, shape);
  lnb_options o;
  lnb_read_options_of(L, at + 1, &o, lnb_random_option_keys);
  if (!(lua_type(L, at + 1) == LUA_TSTRING ||
        (lua_istable(L, at + 1) && lua_getfield(L, at + 1, "dtype") != LUA_TNIL)))
    o.dtype = LN_INT64;
  ln_generator *g = opt_generator(L, lua_istable(L, at + 1) ? at + 1 : 0);
  return lnb_push(L, finish(L, ln_randint(g, low, high, ndim, shape, o.dtype, o.device), &o));
}

/*** A random permutation of 1..n as int64 (1-based, ready for indexing;
PyTorch's is 0..n-1).
@param n
@param[opt] opts {dtype =, device =, generator =}
@return a 1-D tensor
@function randperm
*/
/* randperm(n): a random permutation of 1..n (indices are 1-based). */
static int l_randperm(lua_State *L) {
  lua_Integer n = lnb_check_integer(L, 1);
  lnb_argcheck(L, n >= 0, 1, "n must be non-negative");
  lnb_options o;
  lnb_read_options_of(L, 2, &o, lnb_random_option_keys);
  if (!(lua_type(L, 2) == LUA_TSTRING ||
        (lua_istable(L, 2) && lua_getfield(L, 2, "dtype") != LUA_TNIL)))
    o.dtype = LN_INT64;
  ln_generator *g = opt_generator(L, lua_istable(L, 2) ? 2 : 0);
  ln_tensor *p = ln_randperm(g, n, LN_INT64, ln_device_cpu());
  ln_tensor *one = p ? lnb_index_to_lua(p) : NULL;
  ln_tensor *r = one ? ln_to(one, o.dtype, o.device) : NULL;
  ln_tensor_release(one);
  return lnb_push(L, r);
}

static uint64_t check_seed(lua_State *L, int idx) {
  return (uint64_t)lnb_check_integer(L, idx);
}

static int l_manual_seed(lua_State *L) {
  ln_manual_seed(check_seed(L, 1));
  return 0;
}

static int l_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ln_default_generator()->seed);
  return 1;
}

/* luann.Generator([seed]): an independent stream, for data loaders. */
/*** A random generator of its own, for functions that take `{generator = g}`
(rand, randn, randint, randperm, dropout, DataLoader). Methods:
`g:manual_seed(s)`, `g:initial_seed()`, `g:random()`.
@param seed an integer
@return a generator
@function Generator
*/
static int l_generator(lua_State *L) {
  ln_generator *g = lua_newuserdatauv(L, sizeof *g, 0);
  ln_generator_init(g, lua_isnoneornil(L, 1) ? 0 : check_seed(L, 1));
  luaL_setmetatable(L, LNB_GENERATOR);
  return 1;
}

/*** Seeds the default random generator (and so every random function), as
torch.manual_seed does.
@param seed an integer
@function manual_seed
*/
static int gen_manual_seed(lua_State *L) {
  ln_generator *g = lnb_check_udata(L, 1, LNB_GENERATOR);
  ln_generator_init(g, check_seed(L, 2));
  lua_settop(L, 1);
  return 1;
}

/*** The seed the default random generator started from.
@return an integer
@function initial_seed
*/
static int gen_initial_seed(lua_State *L) {
  ln_generator *g = lnb_check_udata(L, 1, LNB_GENERATOR);
  lua_pushinteger(L, (lua_Integer)g->seed);
  return 1;
}

static int gen_random(lua_State *L) { /* uniform [0,1), for Lua code */
  ln_generator *g = lnb_check_udata(L, 1, LNB_GENERATOR);
  lua_pushnumber(L, ln_generator_uniform(g));
  return 1;
}

/* ---- in-place fills ----------------------------------------------------- */

static int checked(lua_State *L, int rc) {
  if (rc != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/* The generator of a fill's options table at idx (t:normal_(0, 1, {generator
** = g})), its keys checked. */
static ln_generator *fill_generator(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return ln_default_generator();
  lnb_check_option_keys(L, idx, generator_option_keys);
  return opt_generator(L, idx);
}

/*** Fills t with value, in place; returns t.
@param value a number
@return t
@function Tensor:fill_
*/
static int t_fill_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double v = lua_isboolean(L, 2) ? lua_toboolean(L, 2) : lnb_check_number(L, 2);
  return checked(L, ln_fill_(t, v));
}

/*** Fills t with zeros, in place; returns t.
@return t
@function Tensor:zero_
*/
static int t_zero_(lua_State *L) { return checked(L, ln_zero_(lnb_check(L, 1))); }

/*** Copies src into t, in place (src is broadcast to t's shape and converted to its
dtype and device); returns t.
@param src a tensor
@return t
@function Tensor:copy_
*/
static int t_copy_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  return checked(L, ln_copy_(t, lnb_check(L, 2)));
}

/*** Fills t with uniform samples in [from, to), in place; returns t.
@param[opt] from default 0
@param[opt] to default 1
@return t
@function Tensor:uniform_
*/
static int t_uniform_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double a = lnb_opt_number(L, 2, 0), b = lnb_opt_number(L, 3, 1);
  return checked(L, ln_uniform_(fill_generator(L, 4), t, a, b));
}

/*** Fills t with normal samples, in place; returns t.
@param[opt] mean default 0
@param[opt] std default 1
@return t
@function Tensor:normal_
*/
static int t_normal_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double m = lnb_opt_number(L, 2, 0), s = lnb_opt_number(L, 3, 1);
  return checked(L, ln_normal_(fill_generator(L, 4), t, m, s));
}

/*** Fills t with 1 with probability p and 0 otherwise, in place; returns t.
@param[opt] p default 0.5
@return t
@function Tensor:bernoulli_
*/
static int t_bernoulli_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  double p = lnb_opt_number(L, 2, 0.5);
  return checked(L, ln_bernoulli_(fill_generator(L, 3), t, p));
}

/* ---- default device ----------------------------------------------------- */

/*** Sets the device new tensors go to when no device option is given.
@param device "cpu", "opencl", "opencl:N" or a device from luann.device
@function set_default_device
*/
static int l_set_default_device(lua_State *L) {
  ln_device d;
  if (ln_device_parse(lnb_check_string(L, 1), &d) != LN_OK) return lnb_error(L);
  default_device = d;
  default_device_set = true;
  return 0;
}

/*** The device new tensors go to when no device option is given ("cpu", or
"opencl:N" after set_default_device or LUANN_DEVICE).
@return a device name
@function get_default_device
*/
static int l_get_default_device(lua_State *L) {
  char buf[32];
  ln_device_name(lnb_default_device(), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg generator_methods[] = {
  {"manual_seed", gen_manual_seed},
  {"initial_seed", gen_initial_seed},
  {"random", gen_random},
  {NULL, NULL},
};

void lnb_create_generator_meta(lua_State *L) {
  luaL_newmetatable(L, LNB_GENERATOR);
  luaL_newlib(L, generator_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

const lnb_reg lnb_creation[] = {
  {"tensor", l_tensor, LNB_FUNCTION},
  {"zeros", l_zeros, LNB_FUNCTION},
  {"ones", l_ones, LNB_FUNCTION},
  {"empty", l_empty, LNB_FUNCTION},
  {"full", l_full, LNB_FUNCTION},
  {"zeros_like", l_zeros_like, LNB_FUNCTION},
  {"ones_like", l_ones_like, LNB_FUNCTION},
  {"empty_like", l_zeros_like, LNB_FUNCTION},
  {"full_like", l_full_like, LNB_FUNCTION},
  {"rand_like", l_rand_like, LNB_FUNCTION},
  {"randn_like", l_randn_like, LNB_FUNCTION},
  {"arange", l_arange, LNB_FUNCTION},
  {"linspace", l_linspace, LNB_FUNCTION},
  {"eye", l_eye, LNB_FUNCTION},
  {"rand", l_rand, LNB_FUNCTION},
  {"randn", l_randn, LNB_FUNCTION},
  {"randint", l_randint, LNB_FUNCTION},
  {"randperm", l_randperm, LNB_FUNCTION},
  {"manual_seed", l_manual_seed, LNB_FUNCTION},
  {"initial_seed", l_initial_seed, LNB_FUNCTION},
  {"Generator", l_generator, LNB_FUNCTION},
  {"set_default_device", l_set_default_device, LNB_FUNCTION},
  {"get_default_device", l_get_default_device, LNB_FUNCTION},
  {"fill_", t_fill_, LNB_METHOD},
  {"zero_", t_zero_, LNB_METHOD},
  {"copy_", t_copy_, LNB_METHOD},
  {"uniform_", t_uniform_, LNB_METHOD},
  {"normal_", t_normal_, LNB_METHOD},
  {"bernoulli_", t_bernoulli_, LNB_METHOD},
  {NULL, NULL, 0},
};
