/*
** lops.c: every row of the core's op table (core/op.h) as luann.<name>
** (and t:<name>), so a new op needs no binding of its own. The arguments
** follow PyTorch's: the tensors first (an optional one may be nil), then
** the parameters by position, or by name in a trailing options table:
**
**   luann.conv2d(x, w, b, 2, 1)          luann.conv2d(x, w, {stride = 2})
**
** A size parameter takes a number (repeated) or a list; a list parameter
** a list or one number, and a varargs one the numbers themselves
** (t:tile(2, 3)); dims are 1-based.
*/

/*** Table-driven ops (pad, scans, convolutions, ...) (bindings/lops.c), part of the luann module.
@module luann
*/
#include <string.h>

#include "lbase.h"
#include "op.h"

typedef struct call {
  const ln_op *op;
  ln_tensor *in[LN_OP_MAX_IN];
  unsigned long long given;     /* bit i: parameter i was given */
  char params[1024];            /* the op's struct (checked at start-up) */
} call;

/* "stride, padding, dilation, groups": the names an option may have. */
static void push_names(lua_State *L, const ln_op *op) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int n = 0;
  for (const char *const *i = op->inputs; *i; i++, n++) {
    if (n) luaL_addstring(&b, ", ");
    luaL_addstring(&b, *i);
  }
  for (const ln_param *p = op->params; p && p->name; p++, n++) {
    if (n) luaL_addstring(&b, ", ");
    luaL_addstring(&b, p->name);
  }
  luaL_pushresult(&b);
}

/* Raises "op: <name> <msg>" for the value at idx. */
static int bad(lua_State *L, const call *c, const ln_param *p, int idx,
               const char *expected) {
  return lnb_errorf(L, "%s: %s must be %s, got %s", c->op->name, p->name,
                    expected, luaL_typename(L, idx));
}

static int64_t get_int(lua_State *L, const call *c, const ln_param *p, int idx,
                       const char *expected) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok); /* 2.0 is 2 */
  if (!ok && lua_type(L, idx) == LUA_TNUMBER) /* say which float */
    lnb_errorf(L, "%s: %s must be %s, got %s", c->op->name, p->name, expected,
               lua_tostring(L, idx));
  if (!ok) bad(L, c, p, idx, expected);
  return (int64_t)v;
}

/* The index of the string at idx among p's choices, or raises. */
static int get_choice(lua_State *L, const call *c, const ln_param *p, int idx) {
  const char *s = lua_tostring(L, idx);
  for (int i = 0; p->choices[i]; i++)
    if (*p->choices[i] && strcmp(s, p->choices[i]) == 0) return i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0, n = 0; p->choices[i]; i++) {
    if (!*p->choices[i]) continue;
    if (n++) luaL_addstring(&b, ", ");
    lua_pushfstring(L, "'%s'", p->choices[i]);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return lnb_errorf(L, "%s: %s must be one of %s, got '%s'", c->op->name,
                    p->name, lua_tostring(L, -1), s);
}

/* A 1-based (or negative) dim, as the core's 0-based (or negative) one. */
static int64_t get_dim(lua_State *L, const call *c, const ln_param *p, int idx,
                       const char *expected) {
  int64_t d = get_int(L, c, p, idx, expected);
  if (d == 0)
    lnb_errorf(L, "%s: %s must be a dim from 1 (or negative from the "
               "end), got 0", c->op->name, p->name);
  if (d > LN_MAX_DIMS + 1 || d < -(LN_MAX_DIMS + 1)) /* the core's int */
    lnb_errorf(L, "%s: %s %I is out of range (tensors have at most %d "
               "dims)", c->op->name, p->name, (lua_Integer)d, LN_MAX_DIMS);
  return d > 0 ? d - 1 : d;
}

/* One element of a SIZES, LIST or DIMS at idx. */
static int64_t get_item(lua_State *L, const call *c, const ln_param *p,
                        int idx, const char *expected) {
  if (p->kind == LN_PARAM_DIMS) return get_dim(L, c, p, idx, expected);
  return get_int(L, c, p, idx, expected);
}

/* n integers from the list at idx (exactly n unless `upto`). */
static int get_list(lua_State *L, const call *c, const ln_param *p, int idx,
                    int64_t *out, int n, bool upto) {
  int len = lnb_check_len(L, idx, 1 << 20, p->name);
  if (upto ? len > n : len != n)
    return lnb_errorf(L, "%s: %s must have %s%d numbers, got %d", c->op->name,
                      p->name, upto ? "at most " : "", n, len);
  for (int i = 0; i < len; i++) {
    lua_geti(L, idx, i + 1);
    out[i] = get_item(L, c, p, -1, p->kind == LN_PARAM_DIMS ? "a list of dims"
                                                           : "a list of integers");
    lua_pop(L, 1);
  }
  return len;
}

/* A LIST or DIMS by position as varargs: the numbers from idx on (up to
** top) fill it. Returns the index after the last one read. */
static int read_varargs(lua_State *L, call *c, const ln_param *p, int idx,
                        int top) {
  int n = 0;
  while (idx + n <= top && lua_type(L, idx + n) == LUA_TNUMBER) n++;
  if (n > p->count)
    lnb_errorf(L, "%s: %s must have at most %d numbers, got %d", c->op->name,
               p->name, p->count, n);
  int64_t *at = (int64_t *)(c->params + p->offset);
  for (int i = 0; i < n; i++)
    at[i] = get_item(L, c, p, idx + i, "integers");
  *(int *)(c->params + p->len_at) = n;
  c->given |= 1ull << (p - c->op->params);
  return idx + n;
}

static void read_param(lua_State *L, call *c, const ln_param *p, int idx) {
  char *at = c->params + p->offset;
  c->given |= 1ull << (p - c->op->params);
  int t = lua_type(L, idx);
  switch (p->kind) {
    case LN_PARAM_INT:
      *(int64_t *)at = get_int(L, c, p, idx, "an integer");
      break;
    case LN_PARAM_DIM:
      *(int64_t *)at = get_dim(L, c, p, idx, "an integer (a dim)");
      break;
    case LN_PARAM_SIZES:
      if (t == LUA_TSTRING && p->choices) {
        *(int *)(c->params + p->choice_at) = get_choice(L, c, p, idx);
      } else if (t == LUA_TNUMBER) {
        int64_t v = get_int(L, c, p, idx, "an integer or a list");
        for (int i = 0; i < p->count; i++) ((int64_t *)at)[i] = v;
      } else if (t == LUA_TTABLE) {
        get_list(L, c, p, idx, (int64_t *)at, p->count, false);
      } else {
        bad(L, c, p, idx, p->choices ? "an integer, a list or a word"
                                     : "an integer or a list");
      }
      break;
    case LN_PARAM_LIST:
    case LN_PARAM_DIMS: {
      const char *expected = p->kind == LN_PARAM_DIMS
                                 ? "a dim or a list of dims"
                                 : "an integer or a list of integers";
      if (t == LUA_TNUMBER) { /* a list of one */
        *(int64_t *)at = get_item(L, c, p, idx, expected);
        *(int *)(c->params + p->len_at) = 1;
        break;
      }
      if (t != LUA_TTABLE) bad(L, c, p, idx, expected);
      *(int *)(c->params + p->len_at) =
          get_list(L, c, p, idx, (int64_t *)at, p->count, true);
      break;
    }
    case LN_PARAM_NUMBER:
      if (t != LUA_TNUMBER) bad(L, c, p, idx, "a number");
      *(double *)at = lua_tonumber(L, idx);
      break;
    case LN_PARAM_BOOL:
      if (t != LUA_TBOOLEAN) bad(L, c, p, idx, "a boolean");
      *(bool *)at = lua_toboolean(L, idx);
      break;
    case LN_PARAM_CHOICE:
      if (t != LUA_TSTRING) bad(L, c, p, idx, "a string");
      *(int *)at = get_choice(L, c, p, idx);
      break;
  }
}

/* Reads one tensor slot: a tensor, or nil when optional. */
static void read_input(lua_State *L, call *c, int i, int idx) {
  if (lua_isnoneornil(L, idx) && i >= c->op->nrequired) return;
  ln_tensor *t = lnb_test(L, idx);
  if (!t)
    lnb_argerror(L, idx, lua_pushfstring(L, "%s must be a tensor%s, got %s",
                                          c->op->inputs[i],
                                          i >= c->op->nrequired ? " or nil" : "",
                                          luaL_typename(L, idx)));
  c->in[i] = lnb_check(L, idx);
}

/* The options table at idx: each key names an input or a parameter. */
static void read_options(lua_State *L, call *c, int idx) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    int found = 0, top = lua_gettop(L);
    for (int i = 0; c->op->inputs[i] && !found; i++)
      if (strcmp(key, c->op->inputs[i]) == 0) read_input(L, c, i, top), found = 1;
    for (const ln_param *p = c->op->params; p && p->name && !found; p++)
      if (strcmp(key, p->name) == 0) read_param(L, c, p, top), found = 1;
    if (!found) {
      const char *name = luaL_tolstring(L, top - 1, NULL);
      push_names(L, c->op);
      lnb_errorf(L, "%s: unknown option '%s' (it takes %s)", c->op->name,
                 name, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* A plain table that is not a list: an options table. */
static bool is_options(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TTABLE && !lnb_test(L, idx) &&
         lua_rawlen(L, idx) == 0;
}

static int call_op(lua_State *L) {
  call c;
  memset(&c, 0, sizeof c);
  c.op = lua_touserdata(L, lua_upvalueindex(1));
  ln_op_defaults(c.op, c.params);
  int top = lua_gettop(L), idx = 1, nin = 0;
  while (c.op->inputs[nin]) nin++;
  for (int i = 0; i < nin && idx <= top; i++, idx++) {
    if (i >= c.op->nrequired && is_options(L, idx)) break;
    read_input(L, &c, i, idx);
  }
  for (const ln_param *p = c.op->params; p && p->name && idx <= top; p++) {
    if (is_options(L, idx)) break;
    if (p->varargs && lua_type(L, idx) == LUA_TNUMBER) {
      idx = read_varargs(L, &c, p, idx, top);
      continue;
    }
    if (!lua_isnil(L, idx)) read_param(L, &c, p, idx);
    idx++;
  }
  if (idx <= top) {
    if (!is_options(L, idx) || idx < top)
      return lnb_errorf(L, "%s: too many arguments (it takes %d tensors and "
                        "then its options)", c.op->name, nin);
    read_options(L, &c, idx);
  }
  for (int i = 0; i < c.op->nrequired; i++)
    if (!c.in[i])
      return lnb_errorf(L, "%s: missing %s", c.op->name, c.op->inputs[i]);
  for (const ln_param *p = c.op->params; p && p->name; p++)
    if (p->required && !(c.given & (1ull << (p - c.op->params))))
      return lnb_errorf(L, "%s: missing %s", c.op->name, p->name);
  ln_tensor *out[LN_OP_MAX_OUT + 1] = {NULL};
  if (c.op->run(c.in, c.params, out) != LN_OK) return lnb_error(L);
  int n = 0;
  for (; n < LN_OP_MAX_OUT && out[n]; n++) {
    ln_tensor *t = out[n];
    if (c.op->index_outputs & (1u << n)) t = lnb_index_to_lua(t);
    lnb_push(L, t);
  }
  return n;
}

/*** t padded on its last dims: pad = {left, right, top, bottom, ...} as in F.pad.
@param t a tensor
@param pad a list of amounts, last dim first
@param[opt] mode "constant" (default), "reflect", "replicate" or "circular"
@param[opt] value the constant (default 0)
@return a tensor
@function pad
*/
/*** Cumulative sum along dim.
@param t a tensor
@param dim a dim (1-based)
@return a tensor
@function cumsum
*/
/*** Cumulative product along dim.
@param t a tensor
@param dim a dim (1-based)
@return a tensor
@function cumprod
*/
/*** A copy with the order of the dims given reversed.
@param t a tensor
@param dims a list of dims
@return a tensor
@function flip
*/
/*** Elements shifted cyclically by shifts along dims (flattened when no dims).
@param t a tensor
@param shifts a number or list
@param[opt] dims a dim or list
@return a tensor
@function roll
*/
/*** t repeated along each dim the number of times given (as torch.tile).
@param t a tensor
@param dims a list of repetitions
@return a tensor
@function tile
*/
/*** t repeated along each dim (PyTorch's t.repeat; `repeat` is a Lua keyword, so this is Torch7's name; t["repeat"](t, 2, 3) also works).
@param t a tensor
@param ... repetitions per dim, or a table
@return a tensor
@function repeatTensor
*/
/*** The lower triangle of a matrix (or of each in a batch), the rest zero.
@param t a tensor of at least 2 dims
@param[opt] diagonal default 0; above the main one when positive
@return a tensor
@function tril
*/
/*** The upper triangle of a matrix (or of each in a batch), the rest zero.
@param t a tensor of at least 2 dims
@param[opt] diagonal default 0
@return a tensor
@function triu
*/
/*** A view of the windows of size along dimension, every step elements, as a new last dim (Tensor.unfold).
@param t a tensor
@param dimension a dim
@param size the window
@param[opt] step default 1
@return a view
@function unfold
*/
/*** The patches of an (N, C, H, W) input as columns (N, C*kh*kw, L), as F.unfold.
@param input (N, C, H, W)
@param kernel_size a number or {kh, kw}
@param[opt] opts {dilation = 1, padding = 0, stride = 1}
@return a tensor
@function im2col
*/
/*** The adjoint of im2col: columns (N, C*kh*kw, L) summed back into (N, C, H, W), as F.fold.
@param input (N, C*kh*kw, L)
@param output_size {H, W}
@param kernel_size a number or {kh, kw}
@param[opt] opts {dilation = 1, padding = 0, stride = 1}
@return a tensor
@function col2im
*/
/*** 1-D convolution of (N, C, L) with weight (out, C/groups, k).
@param input (N, C, L)
@param weight (out, C/groups, k)
@param[opt] bias (out)
@param[opt] opts {stride = 1, padding = 0, dilation = 1, groups = 1}
@return (N, out, L')
@function conv1d
*/
/*** 2-D convolution of (N, C, H, W) with weight (out, C/groups, kh, kw).
@param input (N, C, H, W)
@param weight (out, C/groups, kh, kw)
@param[opt] bias (out)
@param[opt] opts {stride = 1, padding = 0, dilation = 1, groups = 1}
@return (N, out, H', W')
@function conv2d
*/
/*** Transposed 2-D convolution (the gradient of conv2d with respect to its input).
@param input (N, C, H, W)
@param weight (C, out/groups, kh, kw)
@param[opt] bias (out)
@param[opt] opts {stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1}
@return (N, out, H', W')
@function conv_transpose2d
*/
/*** Normalises over the last dims given by normalized_shape, then scales and shifts.
@param input a tensor
@param normalized_shape a list of the last sizes
@param[opt] weight a tensor of that shape
@param[opt] bias a tensor of that shape
@param[opt] eps default 1e-5
@return a tensor
@function layer_norm
*/
/*** 2-D max pooling and the flat 1-based indices of the maxima in each plane.
@param input (N, C, H, W)
@param kernel_size a number or {kh, kw}
@param[opt] opts {stride = kernel_size, padding = 0, dilation = 1, ceil_mode = false}
@return values, indices
@function max_pool2d_with_indices
*/
/*** The 1-based indices of the nonzero elements, as (n, ndim) int64; with {as_tuple = true}, one 1-D tensor per dim as results.
@param t a tensor
@param[opt] opts {as_tuple = false}
@return a tensor, or one per dim
@function nonzero
*/
/*** Tensor method `repeat` (PyTorch's name; a Lua keyword, so call it as t["repeat"](t, 2, 3)): the same as t:repeatTensor(2, 3).
@param ... repetitions per dim, or a table
@return a tensor
@function Tensor:repeat
*/
void lnb_register_ops(lua_State *L, int module, int methods) {
  module = lua_absindex(L, module);
  methods = lua_absindex(L, methods);
  for (const ln_op *const *r = ln_op_table; *r; r++) {
    const ln_op *op = *r;
    int nparams = 0;
    while (op->params && op->params[nparams].name) nparams++;
    if (op->params_size > sizeof(((call *)0)->params) || nparams > 64)
      lnb_errorf(L, "internal: op %s has parameters larger than the binding "
                 "reads", op->name);
    if (op->where & LN_OP_FUNCTION) {
      lua_pushlightuserdata(L, (void *)op);
      lua_pushcclosure(L, call_op, 1);
      lua_setfield(L, module, op->name);
    }
    if (op->where & LN_OP_METHOD) {
      lua_pushlightuserdata(L, (void *)op);
      lua_pushcclosure(L, call_op, 1);
      lua_setfield(L, methods, op->name);
    }
  }
}
