/*
** lshape.c: the sizes of a tensor for Lua, t.shape and t:size(): plain Lua
** arrays of sizes (so #, ipairs, table.unpack, s[1] and passing one to
** zeros or view work as on any table, at raw speed) with a metatable that
** adds what PyTorch's torch.Size has: tostring gives "(2,3)", s[-1] counts
** from the end, and == compares sizes with another shape or a plain table.
*/
#include "lbase.h"

/***
A tensor's sizes, `t.shape` or `t:size()`: a Lua array (`s[1]`, `#s`,
`ipairs`, `table.unpack`) that prints as `(2,3)`, takes negative indices
from the end (`s[-1]`), and compares with `==` to another shape or a plain
table (`t.shape == {2, 3}`). A fresh table each time.
@type Shape
@usage local n, d = table.unpack(x.shape); print(x.shape[-1], tostring(x.shape))
*/
#define LNB_SHAPE "luann.Shape"

/* s[k] for a k missing from the array: negative k counts from the end. */
static int shape_index(lua_State *L) {
  lua_Integer k;
  if (!lnb_tointeger(L, 2, &k) || k >= 0) return 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (k < -n) return 0;
  lua_rawgeti(L, 1, n + 1 + k);
  return 1;
}

static int shape_tostring(lua_State *L) {
  lnb_check_type(L, 1, LUA_TTABLE);
  int64_t shape[LN_MAX_DIMS];
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n > LN_MAX_DIMS) n = LN_MAX_DIMS; /* a user's table grown past it */
  for (lua_Integer i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    shape[i] = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  char s[LN_SHAPE_STRLEN];
  lua_pushstring(L, ln_shape_str((int)n, shape, s, sizeof s));
  return 1;
}

/* "shape " .. t.shape */
static int shape_concat(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  luaL_tolstring(L, 2, NULL);
  lua_concat(L, 2);
  return 1;
}

/* a == b: both tables (Lua calls __eq for tables only) of the same length
** and equal entries; a plain {2, 3} equals a shape (2,3). */
static int shape_eq(lua_State *L) {
  lua_Integer n = luaL_len(L, 1);
  if (luaL_len(L, 2) != n) return lua_pushboolean(L, 0), 1;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    lua_geti(L, 2, i);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!same) return lua_pushboolean(L, 0), 1;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg shape_metamethods[] = {
  {"__index", shape_index},
  {"__tostring", shape_tostring},
  {"__concat", shape_concat},
  {"__eq", shape_eq},
  {NULL, NULL},
};

void lnb_create_shape_meta(lua_State *L) {
  luaL_newmetatable(L, LNB_SHAPE);
  luaL_setfuncs(L, shape_metamethods, 0);
  lua_pop(L, 1);
}

void lnb_push_shape(lua_State *L, const ln_tensor *t) {
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
  luaL_setmetatable(L, LNB_SHAPE);
}
