/*
** lindex.c: indexing ops from Lua: gather, scatter(_add)(_), index_select,
** index_add(_), index_fill(_), masked_fill(_), masked_select, cat, stack,
** split, chunk, sort, argsort, topk, one_hot.
**
** Dims are 1-based (negative from the end), and so are index tensors:
** indices coming in go through lnb_index_from_lua, indices going out
** (sort, argsort, topk) through lnb_index_to_lua. split and chunk return
** a Lua table (a sequence) of views, where PyTorch returns a tuple: a
** table is what Lua code iterates over (`for i, part in ipairs(...)`) and
** it holds any number of parts; table.unpack turns it into values.
*/

/*** Indexing, joining and sorting (bindings/lindex.c), part of the luann module.
@module luann
*/
#include <stdint.h>
#include <stdlib.h>

#include "lbase.h"

/* ---- argument helpers --------------------------------------------------- */

/* The dim at idx for t (1-based or negative), as a 0-based core dim;
** errors print the number the user gave. A 0-dim tensor takes 1 or -1. */
static int check_dim(lua_State *L, int idx, const ln_tensor *t, const char *op) {
  int d = lnb_check_dim(L, idx), n = t->ndim ? t->ndim : 1;
  if (d < -n || d >= n)
    lnb_errorf(L, "%s: dim %d out of range for a tensor of %d dims", op,
               (int)lua_tointeger(L, idx), t->ndim);
  return d < 0 ? d + n : d;
}

static int opt_dim(lua_State *L, int idx, const ln_tensor *t, const char *op,
                   int def) {
  return lua_isnoneornil(L, idx) ? def : check_dim(L, idx, t, op);
}

static bool opt_bool(lua_State *L, int idx, bool def) {
  if (lua_isnoneornil(L, idx)) return def;
  lnb_check_type(L, idx, LUA_TBOOLEAN);
  return lua_toboolean(L, idx);
}

/* The int64 index tensor at idx, still 1-based (borrowed). */
static ln_tensor *index_arg(lua_State *L, int idx, const char *op) {
  ln_tensor *index = lnb_check(L, idx);
  if (index->dtype != LN_INT64)
    lnb_errorf(L, "%s: index must be an int64 tensor, got %s", op,
               ln_dtype_name(index->dtype));
  return index;
}

/* The 1-based int64 index tensor at idx, made 0-based (a new reference):
** call it after every other argument check, so a raise leaks nothing. */
static ln_tensor *check_index(lua_State *L, int idx, const char *op) {
  return lnb_index_from_lua(L, index_arg(L, idx, op));
}

/* A fill value: a number, a boolean or a 0-dim (one-element) tensor. */
static double check_value(lua_State *L, int idx) {
  if (lua_isboolean(L, idx)) return lua_toboolean(L, idx);
  ln_tensor *t = lnb_test(L, idx);
  if (!t) return lnb_check_number(L, idx);
  lnb_argcheck(L, ln_tensor_numel(t) == 1, idx,
                "a value tensor must have one element");
  double v;
  if (ln_to_buffer(t, &v, LN_FLOAT64) != LN_OK) lnb_error(L);
  return v;
}

/* The src at idx: a tensor, or a number or boolean to be made a 0-dim
** tensor of like's dtype on like's device (*value). */
static ln_tensor *src_arg(lua_State *L, int idx, double *value) {
  ln_tensor *t = lnb_test(L, idx);
  if (t) return t;
  if (!lua_isboolean(L, idx) && lua_type(L, idx) != LUA_TNUMBER)
    lnb_typeerror(L, idx, "tensor or number");
  *value = check_value(L, idx);
  return NULL;
}

/* scatter and scatter_ share their argument handling. */
static int scatter_call(lua_State *L, const char *op, bool inplace) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, op);
  ln_tensor *raw = index_arg(L, 3, op);
  double value = 0;
  ln_tensor *given = src_arg(L, 4, &value);
  ln_tensor *index = lnb_index_from_lua(L, raw);
  ln_tensor *src = given ? ln_tensor_retain(given)
                         : ln_scalar(value, t->dtype, t->storage->device);
  if (!src) {
    ln_tensor_release(index);
    return lnb_error(L);
  }
  if (!inplace) {
    ln_tensor *r = ln_scatter(t, d, index, src);
    ln_tensor_release(index);
    ln_tensor_release(src);
    return lnb_push(L, r);
  }
  int rc = ln_scatter_(t, d, index, src);
  ln_tensor_release(index);
  ln_tensor_release(src);
  if (rc != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/* Releases what a binding holds, then pushes r (raising when NULL). */
static int push_released(lua_State *L, ln_tensor *r, ln_tensor *a,
                         ln_tensor *b) {
  ln_tensor_release(a);
  ln_tensor_release(b);
  return lnb_push(L, r);
}

/* Same for in-place ops: returns the tensor at 1 on success. */
static int inplace_released(lua_State *L, int rc, ln_tensor *a, ln_tensor *b) {
  ln_tensor_release(a);
  ln_tensor_release(b);
  if (rc != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/* ---- gather, scatter ---------------------------------------------------- */

/*** out[i][j] = t[index[i][j]][j] along dim (1-based indices), as torch.gather.
@param t a tensor
@param dim a dim
@param index an int64 tensor
@return a tensor
@function gather
*/
/* t:gather(dim, index) */
static int l_gather(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "gather");
  ln_tensor *index = check_index(L, 3, "gather");
  return push_released(L, ln_gather(t, d, index), index, NULL);
}

/*** A copy of t with src (a tensor or number) written at index along dim (1-based), as torch.scatter.
@param t a tensor
@param dim a dim
@param index an int64 tensor
@param src a tensor or number
@return a tensor
@function scatter
*/
/* t:scatter(dim, index, src), src a tensor or a number */
static int l_scatter(lua_State *L) { return scatter_call(L, "scatter", false); }

/*** t:scatter(dim, index, src), in place.
@return t
@function Tensor:scatter_
*/
static int l_scatter_(lua_State *L) { return scatter_call(L, "scatter_", true); }

/*** A copy of t with src added at index along dim (1-based).
@param t a tensor
@param dim a dim
@param index an int64 tensor
@param src a tensor
@return a tensor
@function scatter_add
*/
/* t:scatter_add(dim, index, src) */
static int l_scatter_add(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "scatter_add");
  ln_tensor *src = lnb_check(L, 4);
  ln_tensor *index = check_index(L, 3, "scatter_add");
  return push_released(L, ln_scatter_add(t, d, index, src), index, NULL);
}

/*** t:scatter_add(dim, index, src), in place.
@return t
@function Tensor:scatter_add_
*/
static int l_scatter_add_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "scatter_add_");
  ln_tensor *src = lnb_check(L, 4);
  ln_tensor *index = check_index(L, 3, "scatter_add_");
  return inplace_released(L, ln_scatter_add_(t, d, index, src), index, NULL);
}

/* ---- index_select, index_add, index_fill -------------------------------- */

/*** The slices of t at the indices given (1-based) along dim.
@param t a tensor
@param dim a dim
@param index a 1-D int64 tensor
@return a tensor
@function index_select
*/
/* t:index_select(dim, index) */
static int l_index_select(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "index_select");
  ln_tensor *index = check_index(L, 3, "index_select");
  return push_released(L, ln_index_select(t, d, index), index, NULL);
}

/* alpha from a trailing {alpha = x} table or a plain number; 1 if none. */
static double opt_alpha(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 1;
  if (!lua_istable(L, idx)) return lnb_check_number(L, idx);
  lnb_check_option_keys(L, idx, (const char *const[]){"alpha", NULL});
  lua_getfield(L, idx, "alpha");
  int type = lua_type(L, -1);
  if (type != LUA_TNIL && type != LUA_TNUMBER)
    lnb_errorf(L, "index_add: alpha must be a number, got %s",
               lua_typename(L, type));
  double alpha = type == LUA_TNIL ? 1 : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return alpha;
}

/*** A copy of t with the slices of src added at index along dim (alpha * src).
@param t a tensor
@param dim a dim
@param index a 1-D int64 tensor (1-based)
@param src a tensor
@return a tensor
@function index_add
*/
/* t:index_add(dim, index, src, {alpha = 1}) */
static int l_index_add(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "index_add");
  ln_tensor *src = lnb_check(L, 4);
  double alpha = opt_alpha(L, 5);
  ln_tensor *index = check_index(L, 3, "index_add");
  return push_released(L, ln_index_add(t, d, index, src, alpha), index, NULL);
}

/*** t:index_add(dim, index, src), in place.
@return t
@function Tensor:index_add_
*/
static int l_index_add_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "index_add_");
  ln_tensor *src = lnb_check(L, 4);
  double alpha = opt_alpha(L, 5);
  ln_tensor *index = check_index(L, 3, "index_add_");
  return inplace_released(L, ln_index_add_(t, d, index, src, alpha), index, NULL);
}

/*** A copy of t with the slices at index along dim set to value.
@param t a tensor
@param dim a dim
@param index a 1-D int64 tensor (1-based)
@param value a number
@return a tensor
@function index_fill
*/
/* t:index_fill(dim, index, value) */
static int l_index_fill(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "index_fill");
  double v = check_value(L, 4);
  ln_tensor *index = check_index(L, 3, "index_fill");
  return push_released(L, ln_index_fill(t, d, index, v), index, NULL);
}

/*** t:index_fill(dim, index, value), in place.
@return t
@function Tensor:index_fill_
*/
static int l_index_fill_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  int d = check_dim(L, 2, t, "index_fill_");
  double v = check_value(L, 4);
  ln_tensor *index = check_index(L, 3, "index_fill_");
  return inplace_released(L, ln_index_fill_(t, d, index, v), index, NULL);
}

/* ---- masked ops --------------------------------------------------------- */

/*** A copy of t with value where mask (bool, broadcast) is true.
@param t a tensor
@param mask a bool tensor
@param value a number
@return a tensor
@function masked_fill
*/
/* t:masked_fill(mask, value) */
static int l_masked_fill(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *mask = lnb_check(L, 2);
  return lnb_push(L, ln_masked_fill(t, mask, check_value(L, 3)));
}

/*** t:masked_fill(mask, value), in place.
@return t
@function Tensor:masked_fill_
*/
static int l_masked_fill_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *mask = lnb_check(L, 2);
  return inplace_released(L, ln_masked_fill_(t, mask, check_value(L, 3)),
                          NULL, NULL);
}

/*** The elements of t where mask is true, as a 1-D tensor.
@param t a tensor
@param mask a bool tensor
@return a 1-D tensor
@function masked_select
*/
/* t:masked_select(mask): a 1-D tensor */
static int l_masked_select(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *mask = lnb_check(L, 2);
  return lnb_push(L, ln_masked_select(t, mask));
}

/* ---- cat, stack, split, chunk ------------------------------------------- */

/* The tensors of the sequence at idx, borrowed (the table keeps them); the
** array lives in a userdata left on the stack, so a raise leaks nothing.
** Raw reads: no metamethod may run (and close a tensor already taken). */
static ln_tensor **check_list(lua_State *L, int idx, const char *op, int *n) {
  lnb_check_type(L, idx, LUA_TTABLE);
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  if (len > INT32_MAX / 16) lnb_errorf(L, "%s: too many tensors", op);
  ln_tensor **ts = lua_newuserdatauv(L, (size_t)(len ? len : 1) * sizeof *ts, 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    ts[i - 1] = lnb_test(L, -1);
    if (!ts[i - 1])
      lnb_errorf(L, "%s: expected a table of tensors, got %s at position %d",
                 op, luaL_typename(L, -1), (int)i);
    lua_pop(L, 1);
  }
  *n = (int)len;
  return ts;
}

/* The dim at idx (default 1) for a list whose tensors have ndim dims (one
** more place when `extra`, for stack), checked here so that errors print
** the number the user gave. */
static int list_dim(lua_State *L, int idx, int ndim, bool extra,
                    const char *op) {
  if (lua_isnoneornil(L, idx)) return 0;
  int d = lnb_check_dim(L, idx), n = extra ? ndim + 1 : ndim ? ndim : 1;
  if (d < -n || d >= n)
    lnb_errorf(L, "%s: dim %d out of range for tensors of %d dims", op,
               (int)lua_tointeger(L, idx), ndim);
  return d < 0 ? d + n : d;
}

/*** Joins tensors along an existing dim: `luann.cat({a, b}, 1)`.
@param tensors a list of tensors
@param[opt] dim default 1
@return a tensor
@function cat
*/
/* luann.cat({tensors}, dim = 1); dims are those of the first tensor that
** is not 1-D empty (those are skipped) */
static int l_cat(lua_State *L) {
  int n, ndim = 1;
  lua_settop(L, 2); /* check_list's array goes above the arguments */
  ln_tensor **ts = check_list(L, 1, "cat", &n);
  for (int i = n - 1; i >= 0; i--)
    if (!(ts[i]->ndim == 1 && ts[i]->shape[0] == 0)) ndim = ts[i]->ndim;
  int d = n ? list_dim(L, 2, ndim, false, "cat") : 0;
  return lnb_push(L, ln_cat(n, ts, d));
}

/*** Joins tensors of one shape along a new dim.
@param tensors a list of tensors
@param[opt] dim default 1
@return a tensor
@function stack
*/
/* luann.stack({tensors}, dim = 1): dim may be one past the last */
static int l_stack(lua_State *L) {
  int n;
  lua_settop(L, 2);
  ln_tensor **ts = check_list(L, 1, "stack", &n);
  int d = n ? list_dim(L, 2, ts[0]->ndim, true, "stack") : 0;
  return lnb_push(L, ln_stack(n, ts, d));
}

/* Pushes a table of the views [start, start + len) along dim. */
static int push_parts(lua_State *L, ln_tensor *t, int d, int n,
                      const int64_t *lens) {
  lua_createtable(L, n, 0);
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    lnb_push(L, ln_narrow(t, d, at, lens[i]));
    lua_rawseti(L, -2, i + 1);
    at += lens[i];
  }
  return 1;
}

/* Pieces of `size` along d, the last one smaller; one empty piece when
** the dim is empty. */
static int split_even(lua_State *L, ln_tensor *t, int d, int64_t size) {
  int64_t total = t->ndim ? t->shape[d] : 1;
  if (size <= 0 && !(size == 0 && total == 0))
    return lnb_errorf(L, "split: split size must be positive, got %I",
                      (lua_Integer)size);
  int64_t n = total == 0 ? 1 : total / size + (total % size != 0);
  if (n > INT32_MAX / 16)
    return lnb_errorf(L, "split: %I pieces are too many", (lua_Integer)n);
  int64_t *lens = lua_newuserdatauv(L, (size_t)n * sizeof *lens, 0);
  for (int64_t i = 0; i < n; i++)
    lens[i] = total - i * size < size ? total - i * size : size;
  return push_parts(L, t, d, (int)n, lens);
}

/*** Splits t into pieces of size split_size along dim (the last may be smaller), or of the sizes of a list.
@param t a tensor
@param split_size an integer or a list of sizes
@param[opt] dim default 1
@return a list of views
@function split
*/
/* t:split(size | {sizes}, dim = 1): a table of views */
static int l_split(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (t->ndim == 0) return lnb_errorf(L, "split: cannot split a 0-dim tensor");
  int d = opt_dim(L, 3, t, "split", 0);
  if (!lua_istable(L, 2)) return split_even(L, t, d, lnb_check_integer(L, 2));
  int n = lnb_check_len(L, 2, INT32_MAX / 16, "sizes");
  int64_t *lens = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *lens, 0);
  int64_t sum = 0;
  for (int i = 0; i < n; i++) {
    lua_geti(L, 2, i + 1);
    lens[i] = lnb_check_entry(L, 2, i + 1, "sizes");
    lua_pop(L, 1);
    if (lens[i] < 0) return lnb_errorf(L, "split: sizes must be non-negative");
    if (__builtin_add_overflow(sum, lens[i], &sum)) sum = INT64_MAX;
  }
  if (sum != t->shape[d])
    return lnb_errorf(L, "split: sizes sum to %I, but dim %d has size %I",
                      (lua_Integer)sum, d + 1, (lua_Integer)t->shape[d]);
  return push_parts(L, t, d, n, lens);
}

/*** Splits t into n pieces of (nearly) equal size along dim.
@param t a tensor
@param n how many
@param[opt] dim default 1
@return a list of views
@function chunk
*/
/* t:chunk(n, dim = 1): at most n views of ceil(size / n) along dim */
static int l_chunk(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (t->ndim == 0) return lnb_errorf(L, "chunk: cannot chunk a 0-dim tensor");
  lua_Integer n = lnb_check_integer(L, 2);
  int d = opt_dim(L, 3, t, "chunk", 0);
  if (n <= 0)
    return lnb_errorf(L, "chunk: the number of chunks must be positive, got %I",
                      (lua_Integer)n);
  int64_t total = t->shape[d];
  if (total > 0) return split_even(L, t, d, total / n + (total % n != 0));
  if (n > INT32_MAX / 16)
    return lnb_errorf(L, "chunk: %I chunks are too many", (lua_Integer)n);
  int64_t *lens = lua_newuserdatauv(L, (size_t)n * sizeof *lens, 0);
  for (lua_Integer i = 0; i < n; i++) lens[i] = 0; /* n empty views */
  return push_parts(L, t, d, (int)n, lens);
}

/* ---- sort, topk --------------------------------------------------------- */

/* Pushes values and 1-based indices, or raises after releasing both. */
static int push_pair(lua_State *L, int rc, ln_tensor *values,
                     ln_tensor *indices, bool values_too) {
  if (rc != LN_OK) return lnb_error(L);
  ln_tensor *li = lnb_index_to_lua(indices);
  if (!li || !values_too) ln_tensor_release(values);
  if (!li) return lnb_error(L);
  if (values_too) luann_push_tensor(L, values);
  luann_push_tensor(L, li);
  return values_too ? 2 : 1;
}

/*** Sorts along dim (default the last): `local values, indices = t:sort()`; indices are 1-based.
@param t a tensor
@param[opt] dim default -1
@param[opt] descending default false
@return values, indices
@function sort
*/
/* t:sort(dim = -1, descending = false) -> values, indices */
static int l_sort(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *v, *i;
  int d = opt_dim(L, 2, t, "sort", -1);
  bool desc = opt_bool(L, 3, false);
  int rc = ln_sort(t, d, desc, &v, &i);
  return push_pair(L, rc, v, i, true);
}

/*** The 1-based indices that sort t along dim.
@param t a tensor
@param[opt] dim default -1
@param[opt] descending default false
@return an int64 tensor
@function argsort
*/
/* t:argsort(dim = -1, descending = false) -> indices */
static int l_argsort(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *v, *i;
  int d = opt_dim(L, 2, t, "argsort", -1);
  bool desc = opt_bool(L, 3, false);
  int rc = ln_sort(t, d, desc, &v, &i);
  return push_pair(L, rc, v, i, false);
}

/*** The k largest (or smallest) elements along dim and their 1-based indices.
@param t a tensor
@param k how many
@param[opt] dim default -1
@param[opt] largest default true
@param[opt] sorted default true
@return values, indices
@function topk
*/
/* t:topk(k, dim = -1, largest = true, sorted = true) -> values, indices */
static int l_topk(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1), *v, *i;
  lua_Integer k = lnb_check_integer(L, 2);
  int d = opt_dim(L, 3, t, "topk", -1);
  bool largest = opt_bool(L, 4, true), sorted = opt_bool(L, 5, true);
  int rc = ln_topk(t, k, d, largest, sorted, &v, &i);
  return push_pair(L, rc, v, i, true);
}

/*** One-hot rows for 1-based class indices: `luann.one_hot(labels, 10)` is (n, 10) int64.
@param t an int64 tensor of classes 1..num_classes
@param[opt] num_classes default the largest class
@return an int64 tensor
@function one_hot
*/
/* luann.one_hot(index, num_classes = -1): 1-based classes 1..C become
** int64 rows of C with a 1 at the class; -1 infers C as the largest. */
static int l_one_hot(lua_State *L) {
  lua_Integer c = lnb_opt_integer(L, 2, -1);
  if (c < -1)
    return lnb_errorf(L, "one_hot: num_classes must be positive or -1, got %d",
                      (int)c);
  ln_tensor *index = check_index(L, 1, "one_hot");
  return push_released(L, ln_one_hot(index, c), index, NULL);
}

const lnb_reg lnb_indexing[] = {
  {"gather", l_gather, LNB_BOTH},
  {"scatter", l_scatter, LNB_BOTH},
  {"scatter_", l_scatter_, LNB_METHOD},
  {"scatter_add", l_scatter_add, LNB_BOTH},
  {"scatter_add_", l_scatter_add_, LNB_METHOD},
  {"index_select", l_index_select, LNB_BOTH},
  {"index_add", l_index_add, LNB_BOTH},
  {"index_add_", l_index_add_, LNB_METHOD},
  {"index_fill", l_index_fill, LNB_BOTH},
  {"index_fill_", l_index_fill_, LNB_METHOD},
  {"masked_fill", l_masked_fill, LNB_BOTH},
  {"masked_fill_", l_masked_fill_, LNB_METHOD},
  {"masked_select", l_masked_select, LNB_BOTH},
  {"cat", l_cat, LNB_FUNCTION},
  {"stack", l_stack, LNB_FUNCTION},
  {"split", l_split, LNB_BOTH},
  {"chunk", l_chunk, LNB_BOTH},
  {"sort", l_sort, LNB_BOTH},
  {"argsort", l_argsort, LNB_BOTH},
  {"topk", l_topk, LNB_BOTH},
  {"one_hot", l_one_hot, LNB_BOTH},
  {NULL, NULL, 0},
};
