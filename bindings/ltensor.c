/*
** ltensor.c: the tensor userdata: life cycle, checks shared by every
** binding file, memory accounting for the collector, properties, values
** out to Lua, and indexing with t[i] and t[{...}].
*/

/*** Tensor properties (bindings/ltensor.c), part of the luann module.
@module luann
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lbase.h"

typedef struct box {
  ln_tensor *t; /* NULL once closed or collected */
} box;

static int push_indexed(lua_State *L, ln_tensor *r);

/* ---- life cycle --------------------------------------------------------- */

/* Lua's collector sees only the small userdata, not the tensor memory
** behind it (Torch7's unbounded growth). Past a soft limit, collect; the
** limit then sits GC_HEADROOM above the memory still alive: garbage
** tensors wait that long, and the CPU cache hands their blocks to the next
** step's tensors. A fixed headroom, however much is alive, so that the
** blocks come back while they are still in the CPU's caches: with an
** eighth of the live memory (23 MB beside a 188 MB data set) the MLP's
** epoch at batch 512 took 10% longer. A collection costs by Lua objects,
** not bytes: a few thousand, every ~3 steps there (~1%). */
#define GC_HEADROOM ((size_t)8 << 20)
static size_t gc_threshold = GC_HEADROOM;

static void release_held(lua_State *L);

static size_t threshold_above(size_t live) { return live + GC_HEADROOM; }

/* Every this many collections is a full one, whatever the minor ones free. */
#define GC_FULL_EVERY 8

/* A collection is first a step of Lua's collector: in the generational
** mode that the luann executable sets, a minor collection, which visits
** the young objects only, and a step's tensors die young. Only when that
** frees less than half the headroom (old garbage, or the incremental
** mode of a plain lua5.4), or every GC_FULL_EVERY times, does a full
** collection follow: with minor ones only, objects that lived through two
** of them piled up as old garbage (the MLP's RSS crept 0.5 MB an epoch);
** with full ones only, they cost 3% of its epoch at batch 512.
** The limit also comes down when memory is freed between collections (a
** script's own collectgarbage(), a tensor's close): otherwise what was
** freed would stay as headroom, and the training that follows a load
** would fill it with garbage before its first collection (bench/mlp.lua:
** 76 MB, 30 steps on fresh pages at batch 512). */
void lnb_account(lua_State *L) {
  size_t live = ln_memory_allocated();
  if (live <= gc_threshold) {
    size_t lower = threshold_above(live);
    if (lower < gc_threshold) gc_threshold = lower;
    return;
  }
  release_held(L);
  static unsigned collections;
  if (++collections % GC_FULL_EVERY != 0) lua_gc(L, LUA_GCSTEP, 0);
  if (collections % GC_FULL_EVERY == 0 || ln_memory_allocated() + GC_HEADROOM / 2 > live)
    lua_gc(L, LUA_GCCOLLECT);
  gc_threshold = threshold_above(ln_memory_allocated());
}

void luann_push_tensor(lua_State *L, ln_tensor *t) {
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL; /* a safe empty state before the metatable is set */
  luaL_setmetatable(L, LNB_TENSOR);
  b->t = t;
  lnb_account(L);
  if (ln_anomaly_enabled()) lnb_anomaly_trace(L); /* detect_anomaly */
}

int lnb_error(lua_State *L) {
  return lnb_errorf(L, "%s", ln_error_message());
}

int lnb_push(lua_State *L, ln_tensor *t) {
  if (!t) return lnb_error(L);
  luann_push_tensor(L, t);
  if (ln_anomaly_enabled()) lnb_anomaly_check(L, t); /* detect_anomaly */
  return 1;
}

/* __gc: the box is unreachable, so nothing uses its tensor any more; a
** half-built box holds NULL. */
static int tensor_gc(lua_State *L) {
  box *b = lnb_check_udata(L, 1, LNB_TENSOR);
  ln_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

/* Whether the value at idx sits in a stack slot of a running C function.
** Bindings borrow the tensor of a box on their stack (lnb_check); if Lua
** code they run midway (an options table's __index, a finalizer) closes
** that box, the tensor must outlive the binding. */
static bool held_by_c(lua_State *L, int idx) {
  lua_Debug ar;
  idx = lua_absindex(L, idx);
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "S", &ar) || ar.what[0] != 'C') continue;
    for (int n = 1; lua_getlocal(L, &ar, n) != NULL; n++) {
      bool same = lua_rawequal(L, -1, idx);
      lua_pop(L, 1);
      if (same) return true;
    }
  }
  return false;
}

/* Tensors closed while a C function held their box wait in a registry
** table {box = tensor pointer} of this state, until no C function does. */
static const char held_key = 0; /* its address is the table's key */

/* The table's __gc, when the state closes: nothing runs any more. */
static int release_all_held(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    ln_tensor_release(lua_touserdata(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

static void push_held(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &held_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, release_all_held);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &held_key);
}

/* Releases the held tensors no C function holds any more. */
static void release_held(lua_State *L) {
  if (!lua_checkstack(L, 8)) return; /* another time */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &held_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) { /* box, tensor */
    if (!held_by_c(L, -2)) {
      ln_tensor_release(lua_touserdata(L, -1));
      lua_pushvalue(L, -2);
      lua_pushnil(L);
      lua_rawset(L, -5); /* clearing a visited field is allowed in lua_next */
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* __close (`local t <close>`, or an explicit call): releases now, unless a
** running C function holds the box (see held_by_c). */
static int tensor_close(lua_State *L) {
  box *b = lnb_check_udata(L, 1, LNB_TENSOR);
  ln_tensor *t = b->t;
  b->t = NULL;
  release_held(L);
  if (t && lua_checkstack(L, 8) && held_by_c(L, 1)) {
    push_held(L);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, t);
    lua_rawset(L, -3);
  } else {
    ln_tensor_release(t);
  }
  return 0;
}

ln_tensor *lnb_test(lua_State *L, int idx) {
  box *b = luaL_testudata(L, idx, LNB_TENSOR);
  return b ? b->t : NULL;
}

ln_tensor *lnb_check(lua_State *L, int idx) {
  box *b = luaL_testudata(L, idx, LNB_TENSOR);
  if (!b) lnb_typeerror(L, idx, "tensor");
  if (!b->t) lnb_argerror(L, idx, "tensor is closed");
  return b->t;
}

ln_tensor *luann_check_tensor(lua_State *L, int idx) { return lnb_check(L, idx); }

ln_tensor *lnb_check_operand(lua_State *L, int idx, ln_dtype like) {
  ln_tensor *t = lnb_test(L, idx);
  if (t) return ln_tensor_retain(t);
  ln_tensor *r = NULL;
  if (lua_type(L, idx) == LUA_TBOOLEAN) {
    r = ln_scalar(lua_toboolean(L, idx), LN_BOOL, ln_device_cpu());
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    ln_dtype dt = lua_isinteger(L, idx) ? LN_INT64 : LN_FLOAT32;
    if (ln_dtype_is_float(like) || (dt == LN_INT64 && like != LN_BOOL))
      dt = like;
    r = ln_scalar(lua_tonumber(L, idx), dt, ln_device_cpu());
  } else {
    lnb_typeerror(L, idx, "tensor or number");
  }
  if (!r) lnb_error(L);
  return r;
}

void luann_push_floats(lua_State *L, const float *data, int ndim,
                       const int64_t *shape) {
  lnb_push(L, ln_from_buffer(data, ndim, shape, LN_FLOAT32, ln_device_cpu()));
}

size_t luann_to_floats(lua_State *L, int idx, float *data, size_t capacity) {
  ln_tensor *t = lnb_check(L, idx);
  size_t n = (size_t)ln_tensor_numel(t);
  if (n > capacity)
    lnb_errorf(L, "luann_to_floats: the tensor holds %I values, the buffer %I",
               (lua_Integer)n, (lua_Integer)capacity);
  if (ln_to_buffer(t, data, LN_FLOAT32) != LN_OK) lnb_error(L);
  return n;
}

/* ---- argument helpers --------------------------------------------------- */

int lnb_check_dim(lua_State *L, int idx) {
  lua_Integer d = lnb_check_integer(L, idx);
  lnb_argcheck(L, d != 0, idx, "dim 0 is invalid: dims are 1-based");
  lnb_argcheck(L, d >= -64 && d <= 64, idx, "dim out of range");
  return d > 0 ? (int)d - 1 : (int)d;
}

int lnb_opt_dim(lua_State *L, int idx, int def) {
  return lua_isnoneornil(L, idx) ? def : lnb_check_dim(L, idx);
}

bool lnb_tointeger(lua_State *L, int idx, lua_Integer *out) {
  if (lua_type(L, idx) != LUA_TNUMBER) return false;
  int exact;
  *out = lua_tointegerx(L, idx, &exact);
  return exact;
}

/* The number at idx as an error message shows it (NaN, not C's "-nan"). */
static const char *number_str(lua_State *L, int idx) {
  lua_Number v = lua_tonumber(L, idx);
  return v != v ? "NaN" : lua_tostring(L, idx);
}

lua_Integer lnb_check_integer(lua_State *L, int idx) {
  int exact;
  lua_Integer v = lua_tointegerx(L, idx, &exact); /* "3" too, as Lua's own */
  if (exact) return v;
  if (lua_type(L, idx) == LUA_TNUMBER)
    lnb_argerror(L, idx, lua_pushfstring(L, "integer expected, got %s",
                                          number_str(L, idx)));
  lnb_typeerror(L, idx, "integer");
  return 0;
}

lua_Integer lnb_opt_integer(lua_State *L, int idx, lua_Integer def) {
  return lua_isnoneornil(L, idx) ? def : lnb_check_integer(L, idx);
}

lua_Integer lnb_check_entry(lua_State *L, int arg, lua_Integer pos,
                            const char *what) {
  lua_Integer v = 0;
  if (!lnb_tointeger(L, -1, &v))
    lnb_argerror(L, arg, lua_pushfstring(L, "%s must be integers, got %s at "
                                          "position %I", what,
                                          lua_type(L, -1) == LUA_TNUMBER ?
                                          number_str(L, -1) :
                                          luaL_typename(L, -1), pos));
  return v;
}

static int64_t check_size(lua_State *L, int idx, int64_t v) {
  if (v < 0) lnb_argerror(L, idx, "sizes must be non-negative");
  return v;
}

int lnb_check_len(lua_State *L, int idx, int max, const char *what) {
  idx = lua_absindex(L, idx);
  lua_len(L, idx);
  int isint;
  lua_Integer n = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (!isint || n < 0 || n > max)
    return lnb_argerror(L, idx, lua_pushfstring(L, "a table of %s has length "
                         "%s, expected 0 to %d", what, isint ?
                         lua_pushfstring(L, "%I", n) : "not an integer", max));
  return (int)n;
}

int lnb_check_shape(lua_State *L, int idx, int64_t *shape) {
  int n = 0;
  if (lua_istable(L, idx) && !lnb_test(L, idx)) {
    n = lnb_check_len(L, idx, LN_MAX_DIMS, "sizes");
    for (int i = 0; i < n; i++) {
      lua_geti(L, idx, i + 1);
      shape[i] = check_size(L, idx, lnb_check_entry(L, idx, i + 1, "sizes"));
      lua_pop(L, 1);
    }
    return n;
  }
  for (int i = idx; lua_type(L, i) == LUA_TNUMBER; i++) {
    lnb_argcheck(L, n < LN_MAX_DIMS, i, "too many dims");
    lua_Integer v = 0;
    if (!lnb_tointeger(L, i, &v))
      lnb_argerror(L, i, lua_pushfstring(L, "sizes must be integers, got %s",
                                          number_str(L, i)));
    shape[n++] = check_size(L, i, v);
  }
  return n;
}

ln_dtype lnb_opt_dtype(lua_State *L, int idx, ln_dtype def) {
  if (lua_isnoneornil(L, idx)) return def;
  ln_dtype dt;
  if (ln_dtype_from_name(lnb_check_string(L, idx), &dt) != LN_OK)
    lnb_argerror(L, idx, ln_error_message());
  return dt;
}

/* The edit distance of a and b (each under 32 bytes, else large): a
** misspelled key is within 2 of the one meant. */
static int edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na >= 32 || nb >= 32) return 99;
  int row[33];
  for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= nb; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[nb];
}

/* The error for an unknown key at the stack top of the options at idx. */
static int unknown_option(lua_State *L, int idx, const char *const *keys) {
  int k = lua_absindex(L, -2); /* the buffer below pushes */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (lua_type(L, k) == LUA_TSTRING) {
    const char *key = lua_tostring(L, k), *near = NULL;
    lua_pushfstring(L, "unknown option '%s'", key);
    luaL_addvalue(&b);
    for (int i = 0; keys[i]; i++)
      if (!near && edit_distance(key, keys[i]) <= 2) near = keys[i];
    if (near) {
      lua_pushfstring(L, " (did you mean '%s'?)", near);
      luaL_addvalue(&b);
    }
  } else {
    lua_pushfstring(L, "options are named, got a %s key", luaL_typename(L, k));
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, "; known options: ");
  for (int i = 0; keys[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, keys[i]);
  }
  luaL_pushresult(&b);
  return lnb_argerror(L, idx, lua_tostring(L, -1));
}

void lnb_check_option_keys(lua_State *L, int idx, const char *const *keys) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "options");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    bool known = false;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -2);
      for (int i = 0; keys[i] && !known; i++) known = strcmp(key, keys[i]) == 0;
    }
    if (!known) unknown_option(L, idx, keys);
    lua_pop(L, 1);
  }
}

const char *const lnb_tensor_option_keys[] = {"dtype", "device",
                                              "requires_grad", NULL};
const char *const lnb_random_option_keys[] = {"dtype", "device",
                                              "requires_grad", "generator",
                                              NULL};

void lnb_read_options(lua_State *L, int idx, lnb_options *o) {
  lnb_read_options_of(L, idx, o, lnb_tensor_option_keys);
}

void lnb_read_options_of(lua_State *L, int idx, lnb_options *o,
                         const char *const *keys) {
  o->dtype = LN_FLOAT32;
  o->device = lnb_default_device();
  o->requires_grad = false;
  if (idx <= 0) return; /* no options given */
  if (lua_type(L, idx) == LUA_TSTRING) { /* a bare dtype */
    o->dtype = lnb_opt_dtype(L, idx, o->dtype);
    return;
  }
  if (!lua_istable(L, idx) || lnb_test(L, idx)) return;
  lnb_check_option_keys(L, idx, keys);
  if (lua_getfield(L, idx, "dtype") != LUA_TNIL)
    o->dtype = lnb_opt_dtype(L, -1, o->dtype);
  if (lua_getfield(L, idx, "device") != LUA_TNIL &&
      ln_device_parse(lnb_check_string(L, -1), &o->device) != LN_OK)
    lnb_error(L);
  lua_getfield(L, idx, "requires_grad");
  o->requires_grad = lua_toboolean(L, -1);
  lua_pop(L, 3);
}

/* Index tensors cross the Lua boundary 1-based; the core counts from 0. */
ln_tensor *lnb_index_from_lua(lua_State *L, ln_tensor *index) {
  if (index->dtype != LN_INT64)
    lnb_errorf(L, "expected an int64 index tensor, got %s",
               ln_dtype_name(index->dtype));
  ln_tensor *r = ln_binary_scalar(LN_BINARY_SUB, index, 1);
  if (!r) lnb_error(L);
  return r;
}

ln_tensor *lnb_index_to_lua(ln_tensor *index) {
  if (!index) return NULL;
  ln_tensor *r = ln_binary_scalar(LN_BINARY_ADD, index, 1);
  ln_tensor_release(index);
  return r;
}

/* ---- values out to Lua -------------------------------------------------- */

static void push_value(lua_State *L, ln_dtype dt, const void *p) {
  switch (dt) {
    case LN_FLOAT32: lua_pushnumber(L, *(const float *)p); break;
    case LN_FLOAT64: lua_pushnumber(L, *(const double *)p); break;
    case LN_INT64: lua_pushinteger(L, *(const int64_t *)p); break;
    case LN_UINT8: lua_pushinteger(L, *(const uint8_t *)p); break;
    default: lua_pushboolean(L, *(const uint8_t *)p); break;
  }
}

/* A contiguous host copy of t's values (same dtype); free() it. */
/* t's values on the host, in a userdata left on the stack: an error raised
** while they are in use frees them too. */
static void *host_values(lua_State *L, ln_tensor *t) {
  size_t n = ln_tensor_nbytes(t);
  void *data = lua_newuserdatauv(L, n ? n : 1, 0);
  if (ln_to_buffer(t, data, t->dtype) != LN_OK) lnb_error(L);
  return data;
}

/*** The value of a one-element tensor as a Lua number (an integer for integer dtypes, a boolean for bool).
@return a number or boolean
@function Tensor:item
*/
static int t_item(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (ln_tensor_numel(t) != 1) {
    char s[LN_SHAPE_STRLEN];
    return lnb_errorf(L, "item: expected a tensor with one element, got shape %s",
                      ln_shape_str(t->ndim, t->shape, s, sizeof s));
  }
  char value[8];
  if (ln_to_buffer(t, value, t->dtype) != LN_OK) return lnb_error(L);
  push_value(L, t->dtype, value);
  return 1;
}

/* The most tables tolist builds: a bound on the memory and time it takes
** (2^26 tables are gigabytes of Lua objects). */
#define TOLIST_MAX_TABLES (INT64_C(1) << 26)

static void push_list(lua_State *L, const ln_tensor *t, int dim,
                      const char **p) {
  luaL_checkstack(L, 4, "tolist");
  if (dim == t->ndim) {
    push_value(L, t->dtype, *p);
    *p += ln_dtype_size(t->dtype);
    return;
  }
  lua_createtable(L, t->shape[dim] < INT_MAX ? (int)t->shape[dim] : 0, 0);
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    push_list(L, t, dim + 1, p);
    lua_rawseti(L, -2, i + 1);
  }
}

/*** The elements as nested Lua tables (a 0-dim tensor: its number).
@return a table
@function Tensor:tolist
*/
static int t_tolist(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  /* tables per level: 1, shape[1], shape[1]*shape[2], ... (even when the
  ** tensor is empty, which is how (2^40, 0) would ask for 2^40 tables) */
  int64_t tables = 0, level = 1;
  for (int d = 0; d < t->ndim && tables <= TOLIST_MAX_TABLES; d++) {
    tables += level;
    if (__builtin_mul_overflow(level, t->shape[d], &level)) level = INT64_MAX;
  }
  if (tables > TOLIST_MAX_TABLES) {
    char s[LN_SHAPE_STRLEN];
    return lnb_errorf(L, "tolist: a tensor of shape %s needs more than 2^26 "
                      "Lua tables", ln_shape_str(t->ndim, t->shape, s, sizeof s));
  }
  const char *p = host_values(L, t);
  push_list(L, t, 0, &p);
  return 1;
}

/*** The size of dim d, or with no argument the shape as a table (t.shape too).
@param[opt] d a dim (1-based, negative from the end)
@return an integer or a table
@function Tensor:size
*/
static int t_size(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lnb_push_shape(L, t);
    return 1;
  }
  int d = lnb_check_dim(L, 2);
  if (d < 0) d += t->ndim;
  if (d < 0 || d >= t->ndim)
    return lnb_errorf(L, "size: dim %d out of range for a tensor of %d dims",
                      (int)lua_tointeger(L, 2), t->ndim);
  lua_pushinteger(L, t->shape[d]);
  return 1;
}

/*** The stride of dim d in elements, or all strides as a table.
@param[opt] d a dim
@return an integer or a table
@function Tensor:stride
*/
static int t_stride(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
      lua_pushinteger(L, t->stride[i]);
      lua_rawseti(L, -2, i + 1);
    }
    return 1;
  }
  int d = lnb_check_dim(L, 2);
  if (d < 0) d += t->ndim;
  lnb_argcheck(L, d >= 0 && d < t->ndim, 2, "dim out of range");
  lua_pushinteger(L, t->stride[d]);
  return 1;
}

/*** The number of dims (t:ndimension() in Torch7).
@return an integer
@function Tensor:dim
*/
static int t_dim(lua_State *L) {
  lua_pushinteger(L, lnb_check(L, 1)->ndim);
  return 1;
}

/*** The number of elements (also t:nelement()).
@param t a tensor
@return an integer
@function numel
*/
/*** The number of elements (Torch7's name of numel).
@return an integer
@function Tensor:nelement
*/
static int t_numel(lua_State *L) {
  lua_pushinteger(L, ln_tensor_numel(lnb_check(L, 1)));
  return 1;
}

/*** Whether the elements lie in row-major order without gaps.
@return boolean
@function Tensor:is_contiguous
*/
static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, ln_tensor_is_contiguous(lnb_check(L, 1)));
  return 1;
}

/*** The offset of the first element in the storage, in elements (0-based, as in PyTorch).
@return an integer
@function Tensor:storage_offset
*/
static int t_storage_offset(lua_State *L) {
  lua_pushinteger(L, lnb_check(L, 1)->offset);
  return 1;
}

/*** The size of one element in bytes.
@return an integer
@function Tensor:element_size
*/
static int t_element_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ln_dtype_size(lnb_check(L, 1)->dtype));
  return 1;
}

static int t_len(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (t->ndim == 0) return lnb_errorf(L, "len() of a 0-dim tensor");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

/* a == b is identity: two Lua values are the same tensor when they share
** the header. Lua's == must give a boolean, so it cannot be PyTorch's
** elementwise ==: that is a:eq(b) (and luann.equal(a, b) for "same shape
** and values"). It stays identity rather than an error because the library
** and users compare tensors as objects (which parameter is this, is this
** the tensor I stored), which an error, or a value-equality that made
** distinct tensors equal, would break. Lua calls it only when both sides are
** tensors: t == nil and t == 3 are false without it. */
static int t_eq(lua_State *L) {
  lua_pushboolean(L, lnb_test(L, 1) == lnb_test(L, 2));
  return 1;
}

/* a < b and a <= b (and > and >=, which Lua turns into them): Lua needs a
** boolean, so PyTorch's elementwise comparisons are methods. */
static int t_lt(lua_State *L) {
  return lnb_errorf(L, "cannot compare tensors with < or >: Lua's operators "
                    "must give one boolean; use the elementwise a:lt(b) or "
                    "a:gt(b) (bool tensors), or luann.equal(a, b) to compare "
                    "whole tensors");
}

static int t_le(lua_State *L) {
  return lnb_errorf(L, "cannot compare tensors with <= or >=: Lua's operators "
                    "must give one boolean; use the elementwise a:le(b) or "
                    "a:ge(b) (bool tensors), or luann.equal(a, b) to compare "
                    "whole tensors");
}

/***
Iterates over the first dim, as PyTorch's `for x in t`: `i` runs 1..#t and
`x` is `t[i]`, a view of the other dims (writes reach `t`), or a number for
a 1-D `t`. (`ipairs(t)` raises past the end: a read out of range is an
error.)
@function __pairs
@usage for i, row in pairs(x) do print(i, row:sum()) end
*/
static int pairs_next(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  lua_Integer i = lnb_check_integer(L, 2);
  if (i < 0 || i >= t->shape[0]) return 0;
  ln_tensor *r = ln_select(t, 0, i);
  if (!r) return lnb_error(L);
  lua_pushinteger(L, i + 1);
  push_indexed(L, r);
  return 2;
}

static int t_pairs(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (t->ndim == 0)
    return lnb_errorf(L, "pairs: cannot iterate over a 0-dim tensor (its "
                      "value is t:item())");
  lua_pushcfunction(L, pairs_next);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

/*** The bytes of tensor memory alive now (all devices).
@return an integer
@function memory_allocated
*/
/* Bytes of tensor memory alive now, over all devices. */
static int l_memory_allocated(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ln_memory_allocated());
  return 1;
}

/*** Whether v is a tensor.
@param v any value
@return boolean
@function is_tensor
*/
static int t_is_tensor(lua_State *L) {
  lua_pushboolean(L, lnb_test(L, 1) != NULL);
  return 1;
}

/* ---- properties --------------------------------------------------------- */

static int push_property(lua_State *L, ln_tensor *t, const char *k) {
  char buf[32];
  if (strcmp(k, "shape") == 0) {
    lnb_push_shape(L, t);
  } else if (strcmp(k, "dtype") == 0) {
    lua_pushstring(L, ln_dtype_name(t->dtype));
  } else if (strcmp(k, "device") == 0) {
    ln_device_name(ln_tensor_device(t), buf, sizeof buf);
    lua_pushstring(L, buf);
  } else if (strcmp(k, "requires_grad") == 0) {
    lua_pushboolean(L, t->requires_grad);
  } else if (strcmp(k, "grad") == 0) {
    if (t->grad) luann_push_tensor(L, ln_tensor_retain(t->grad));
    else lua_pushnil(L);
  } else if (strcmp(k, "grad_fn") == 0) {
    const char *name = ln_grad_fn_name(t);
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
  } else if (strcmp(k, "is_leaf") == 0) {
    lua_pushboolean(L, ln_tensor_is_leaf(t));
  } else if (strcmp(k, "ndim") == 0) {
    lua_pushinteger(L, t->ndim);
  } else if (strcmp(k, "T") == 0) {
    return lnb_push(L, ln_transpose(t, 0, t->ndim > 1 ? 1 : 0));
  } else {
    return 0;
  }
  return 1;
}

static int set_property(lua_State *L, ln_tensor *t, const char *k) {
  if (strcmp(k, "requires_grad") == 0) {
    if (ln_set_requires_grad(t, lua_toboolean(L, 3)) != LN_OK) lnb_error(L);
  } else if (strcmp(k, "grad") == 0) {
    ln_tensor *g = lua_isnil(L, 3) ? NULL : lnb_check(L, 3);
    if (g && !(g->ndim == t->ndim &&
               memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) == 0))
      return lnb_errorf(L, "grad: assigned gradient has a different shape than "
                        "the tensor");
    /* backward accumulates into it: it must take the tensor's values */
    if (g && (g->dtype != t->dtype ||
              !ln_device_equal(ln_tensor_device(g), ln_tensor_device(t)))) {
      char dg[32], dt[32];
      ln_device_name(ln_tensor_device(g), dg, sizeof dg);
      ln_device_name(ln_tensor_device(t), dt, sizeof dt);
      return lnb_errorf(L, "grad: assigned gradient is %s on %s, the tensor %s "
                        "on %s", ln_dtype_name(g->dtype), dg,
                        ln_dtype_name(t->dtype), dt);
    }
    ln_tensor_retain(g);
    ln_tensor_release(t->grad);
    t->grad = g;
  } else {
    return lnb_errorf(L, "cannot set field '%s' of a tensor", k);
  }
  return 0;
}

/* ---- indexing ----------------------------------------------------------- */

/* A 1-based (or negative) index into 0..size-1; errors set the core's
** message, so callers can release what they hold before raising. */
static int check_index(lua_Integer i, int64_t size, int dim, int64_t *out) {
  if (i == 0) return ln_error("index 0 is invalid: indices are 1-based");
  if (i > size || i < -size)
    return ln_error("index %lld is out of range for dim %d of size %lld",
                    (long long)i, dim + 1, (long long)size);
  *out = i > 0 ? i - 1 : size + i;
  return LN_OK;
}

/* A range {a, b} or {a, b, step} of 1-based inclusive bounds (negatives
** from the end; {} or {a} run to the end). NULL with the core's message
** set on a bad range. */
static ln_tensor *apply_range(lua_State *L, ln_tensor *t, int dim, int idx) {
  int64_t size = t->shape[dim], bound[3] = {1, size, 1};
  lua_Integer n = luaL_len(L, idx);
  if (n > 3)
    return ln_error("index: a range has at most 3 entries {from, to, step}"), NULL;
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    lua_Integer v = 0;
    bool ok = lnb_tointeger(L, -1, &v);
    bound[i] = v;
    lua_pop(L, 1);
    if (!ok) return ln_error("index: range bounds must be integers"), NULL;
  }
  /* bounds beyond +-size are out of range anyway: clamping them first
  ** keeps the arithmetic below from overflowing */
  int64_t b0 = bound[0] < -size - 2 ? -size - 2 : bound[0] > size + 2 ? size + 2 : bound[0];
  int64_t b1 = bound[1] < -size - 2 ? -size - 2 : bound[1] > size + 2 ? size + 2 : bound[1];
  int64_t from = b0 < 0 ? size + b0 : b0 - 1;
  int64_t to = b1 < 0 ? size + b1 + 1 : b1;
  if (bound[0] == 0 || from < 0 || from > size || to > size)
    return ln_error("index: range {%lld, %lld} out of bounds for dim %d of size "
                    "%lld", (long long)bound[0], (long long)bound[1], dim + 1,
                    (long long)size),
           NULL;
  if (to < from) to = from;
  return ln_slice(t, dim, from, to, bound[2]);
}

/* Applies a table of per-dim indices: integers select (the dim goes),
** tables are ranges, "all" or ":" keep a dim. New reference. */
static ln_tensor *index_by_table(lua_State *L, ln_tensor *t, int idx) {
  lua_Integer n = luaL_len(L, idx);
  int dim = 0;
  if (n > t->ndim || n < 0)
    lnb_errorf(L, "index: %s indices (%I) for a tensor of %d dims",
               n < 0 ? "a negative number of" : "too many", (lua_Integer)n,
               t->ndim);
  /* The view so far lives in a box on the stack: reading an entry runs
  ** metamethods, and one that raises must not leak it. */
  ln_tensor *cur = t;
  lnb_push(L, ln_tensor_retain(t));
  int slot = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    int type = lua_geti(L, idx, i);
    ln_tensor *next = NULL;
    int64_t k;
    lua_Integer v = 0;
    if (lnb_tointeger(L, -1, &v)) {
      if (check_index(v, cur->shape[dim], dim, &k) == LN_OK)
        next = ln_select(cur, dim, k);
    } else if (type == LUA_TTABLE) {
      next = apply_range(L, cur, dim++, lua_gettop(L));
    } else if (type == LUA_TSTRING && (strcmp(lua_tostring(L, -1), "all") == 0 ||
                                       strcmp(lua_tostring(L, -1), ":") == 0)) {
      next = ln_tensor_retain(cur);
      dim++;
    } else {
      ln_error("index: entry %d must be an integer, a range {from, to} or "
               "\"all\", got %s", i, type == LUA_TNUMBER ? lua_tostring(L, -1)
                                                   : luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    lnb_push(L, next); /* raises the core's message when NULL */
    lua_replace(L, slot);
    cur = next;
  }
  ln_tensor_retain(cur);
  lua_pop(L, 1);
  return cur;
}

/* The view that t[key] denotes (new reference), for reads and writes: key
** is an integer (2.0 counts) or a table. Past the end, the error points a
** loop like ipairs(t), which reads until an index fails, at pairs(t). */
static ln_tensor *index_view(lua_State *L, ln_tensor *t, int key) {
  lua_Integer i;
  if (lnb_tointeger(L, key, &i)) {
    if (t->ndim == 0) lnb_errorf(L, "index: cannot index a 0-dim tensor");
    int64_t k;
    if (check_index(i, t->shape[0], 0, &k) != LN_OK)
      return lnb_errorf(L, "%s%s", ln_error_message(),
                        i > 0 ? " (iterate with pairs(t))" : ""), NULL;
    ln_tensor *r = ln_select(t, 0, k);
    if (!r) lnb_error(L);
    return r;
  }
  if (lua_type(L, key) == LUA_TNUMBER)
    return lnb_errorf(L, "index: indices must be integers, got %s",
                      lua_tostring(L, key)), NULL;
  return index_by_table(L, t, key);
}

/* A 0-dim result of t[i] or t[{...}] comes back as a Lua value. */
static int push_indexed(lua_State *L, ln_tensor *r) {
  if (r->ndim > 0) return lnb_push(L, r);
  char value[8];
  ln_dtype dt = r->dtype;
  int rc = ln_to_buffer(r, value, dt);
  ln_tensor_release(r);
  if (rc != LN_OK) return lnb_error(L);
  push_value(L, dt, value);
  return 1;
}

/* PyTorch (and Torch7) names a tensor lacks, with luann's way: t:numpy()
** and t.data raise with it instead of "attempt to call a nil value". Read
** only when a name is neither a method nor a property. */
static const char *const pytorch_hints[][2] = {
  {"numpy", "t:tolist() gives the values as Lua tables"},
  {"data", "t:detach() gives the same values without history"},
  {"cuda", "luann's accelerators are OpenCL devices: t:to(\"opencl\")"},
  {"is_cuda", "t.device names the device"},
  {"astype", "t:to(\"float64\") or t:double() converts"},
  {"int", "t:long() or t:to(\"int64\") converts to luann's integer dtype"},
  {"half", "luann computes in float32 and float64: t:float()"},
  {"ndimension", "t:dim() gives the number of dims"},
  {"nDimension", "t:dim() gives the number of dims"},
  {"nElement", "t:numel() gives the number of elements"},
  {"clip", "t:clamp(min, max) clips"},
  {"to_list", "t:tolist() gives the values as Lua tables"},
  {"resize_", "t:view(...) or t:reshape(...) gives a new shape"},
  {"new_zeros", "luann.zeros_like(t) or luann.zeros(sizes, {dtype = t.dtype})"},
  {"new_ones", "luann.ones_like(t) or luann.ones(sizes, {dtype = t.dtype})"},
  {"cat", "luann.cat({a, b}, dim) joins tensors"},
  {"stack", "luann.stack({a, b}, dim) stacks tensors"},
  {"bitwise_not", "t:logical_not() negates a bool tensor"},
  {"__len__", "#t gives the size of the first dim"},
};

/* Raises the hint for name when it has one; else leaves t.name nil. */
static int missing_field(lua_State *L, const char *name) {
  for (size_t i = 0; i < sizeof pytorch_hints / sizeof pytorch_hints[0]; i++)
    if (strcmp(name, pytorch_hints[i][0]) == 0)
      return lnb_errorf(L, "a tensor has no field '%s' in luann: %s", name,
                        pytorch_hints[i][1]);
  return 0;
}

static int t_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2); /* methods first: t:sum() on a closed t then */
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* says so */
    const char *name = lua_tostring(L, 2);
    int n = push_property(L, lnb_check(L, 1), name);
    return n ? n : missing_field(L, name);
  }
  ln_tensor *t = lnb_check(L, 1);
  ln_tensor *mask = lnb_test(L, 2);
  if (mask) { /* t[mask] and t[indices] */
    if (mask->dtype == LN_BOOL || mask->dtype == LN_UINT8)
      return lnb_push(L, ln_masked_select(t, mask));
    ln_tensor *i0 = lnb_index_from_lua(L, mask);
    ln_tensor *r = ln_index_select(t, 0, i0);
    ln_tensor_release(i0);
    return lnb_push(L, r);
  }
  if (lua_type(L, 2) == LUA_TNUMBER || lua_istable(L, 2))
    return push_indexed(L, index_view(L, t, 2));
  return lnb_errorf(L, "index: expected an integer, a table or a field name, "
                    "got %s", luaL_typename(L, 2));
}

static int t_newindex(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) return set_property(L, t, lua_tostring(L, 2));
  ln_tensor *mask = lnb_test(L, 2);
  ln_tensor *view;
  if (mask) { /* t[mask] = v becomes t:copy_(where(mask, v, t)) */
    ln_tensor *v = lnb_check_operand(L, 3, t->dtype);
    ln_tensor *w = ln_where(mask, v, t);
    int rc = w ? ln_copy_(t, w) : LN_ERR;
    ln_tensor_release(w);
    ln_tensor_release(v);
    return rc == LN_OK ? 0 : lnb_error(L);
  }
  if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
    return lnb_errorf(L, "index: expected an integer or a table, got %s",
                      luaL_typename(L, 2));
  view = index_view(L, t, 2);
  int rc;
  ln_tensor *src = lnb_test(L, 3);
  if (src) {
    rc = ln_copy_(view, src);
  } else if (lua_type(L, 3) == LUA_TNUMBER || lua_type(L, 3) == LUA_TBOOLEAN) {
    double v = lua_type(L, 3) == LUA_TBOOLEAN ? lua_toboolean(L, 3) : lua_tonumber(L, 3);
    rc = ln_fill_(view, v);
  } else {
    ln_tensor_release(view);
    return lnb_errorf(L, "index assignment: expected a tensor or a number, got %s",
                      luaL_typename(L, 3));
  }
  ln_tensor_release(view);
  return rc == LN_OK ? 0 : lnb_error(L);
}

const lnb_reg lnb_tensor_methods[] = {
  {"item", t_item, LNB_METHOD},
  {"tolist", t_tolist, LNB_METHOD},
  {"size", t_size, LNB_METHOD},
  {"stride", t_stride, LNB_METHOD},
  {"dim", t_dim, LNB_METHOD},
  {"numel", t_numel, LNB_BOTH},
  {"nelement", t_numel, LNB_METHOD},
  {"is_contiguous", t_is_contiguous, LNB_METHOD},
  {"storage_offset", t_storage_offset, LNB_METHOD},
  {"element_size", t_element_size, LNB_METHOD},
  {"is_tensor", t_is_tensor, LNB_FUNCTION},
  {"memory_allocated", l_memory_allocated, LNB_FUNCTION},
  {NULL, NULL, 0},
};

static const luaL_Reg metamethods[] = {
  {"__gc", tensor_gc},
  {"__close", tensor_close},
  {"__len", t_len},
  {"__eq", t_eq},
  {"__lt", t_lt},
  {"__le", t_le},
  {"__pairs", t_pairs},
  {"__newindex", t_newindex},
  {NULL, NULL},
};

/* Lua's operators on tensors (numbers on either side are fine): the
** methods themselves, so a + b and a:add(b) share a function, checks and
** error messages. % and // floor as Lua's own do on numbers (-7 % 3 == 2,
** -7 // 2 == -4), which are PyTorch's remainder and floor_divide. */
static const char *const operators[][2] = {
  {"__add", "add"}, {"__sub", "sub"}, {"__mul", "mul"}, {"__div", "div"},
  {"__pow", "pow"}, {"__unm", "neg"}, {"__mod", "remainder"},
  {"__idiv", "floor_divide"},
};

/* Creates the tensor metatable with the methods table (on the stack top)
** as __index's upvalue. Leaves the stack as it was. */
void lnb_create_tensor_meta(lua_State *L, int methods) {
  lnb_create_shape_meta(L);
  luaL_newmetatable(L, LNB_TENSOR);
  luaL_setfuncs(L, metamethods, 0);
  for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
    lua_getfield(L, methods, operators[i][1]);
    lua_setfield(L, -2, operators[i][0]);
  }
  lua_pushcfunction(L, lnb_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
}
