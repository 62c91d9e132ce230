/*
** lformats.c: the C half of luann.safetensors and luann.numpy (the Lua
** halves, lua/luann/safetensors.lua and numpy.lua, add options, the
** numbering of keys and the messages' function names).
**
**   safetensors_read(path)             -> {name = tensor}, {key = value}
**   safetensors_write(path, tensors, metadata)  tensors {name = tensor},
**                                      metadata {key = string} or nil
**   npy_read(path) -> tensor           npy_write(path, t)
**   npz_read(path) -> {name = tensor}
**
** Readers run in a protected call, so an error (the core's, or Lua running
** out of memory) closes the file before it is raised.
*/
#include <string.h>

#include "lbase.h"
#include "luann_formats.h"

/* ---- safetensors -------------------------------------------------------- */

static int read_safetensors(lua_State *L) {
  ln_safetensors *f = lua_touserdata(L, 1);
  int64_t n = ln_safetensors_count(f), nmeta = ln_safetensors_metadata_count(f);
  lua_createtable(L, 0, n < 4096 ? (int)n : 4096);
  for (int64_t i = 0; i < n; i++) {
    ln_tensor *t = ln_safetensors_tensor(f, i);
    if (!t) return lnb_error(L);
    luann_push_tensor(L, t);
    lua_setfield(L, -2, ln_safetensors_name(f, i));
  }
  lua_createtable(L, 0, nmeta < 64 ? (int)nmeta : 64);
  for (int64_t i = 0; i < nmeta; i++) {
    lua_pushstring(L, ln_safetensors_metadata_value(f, i));
    lua_setfield(L, -2, ln_safetensors_metadata_key(f, i));
  }
  return 2;
}

static int l_safetensors_read(lua_State *L) {
  ln_safetensors *f = ln_safetensors_open(lnb_check_string(L, 1));
  if (!f) return lnb_error(L);
  lua_pushcfunction(L, read_safetensors);
  lua_pushlightuserdata(L, f);
  int status = lua_pcall(L, 1, 2, 0);
  ln_safetensors_close(f);
  if (status != LUA_OK) return lua_error(L);
  return 2;
}

/* A string without zero bytes at idx (the core takes C strings). */
static const char *check_text(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (strlen(s) != len)
    lnb_errorf(L, "safetensors.save: %s \"%s\" holds a zero byte", what, s);
  return s;
}

/* Lists the (string key, value) pairs of the table at idx into userdata
** arrays Lua owns; values are tensors (tensors = true) or strings. */
static int64_t collect(lua_State *L, int idx, bool tensors, const char ***keys,
                       void **values) {
  int64_t n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) n++;
  *keys = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof **keys, 0);
  *values = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(void *), 0);
  int64_t i = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), i++) {
    if (lua_type(L, -2) != LUA_TSTRING)
      lnb_errorf(L, "safetensors.save: %s keys must be strings, got %s %s",
                 tensors ? "tensor" : "metadata", luaL_typename(L, -2),
                 lua_isinteger(L, -2) ? lua_tostring(L, -2) : "");
    (*keys)[i] = check_text(L, -2, tensors ? "the tensor name" : "the metadata key");
    if (tensors) {
      ln_tensor *t = lnb_test(L, -1);
      if (!t) lnb_errorf(L, "safetensors.save: '%s' is a %s, not a tensor", (*keys)[i],
                         luaL_typename(L, -1));
      ((ln_tensor **)*values)[i] = t;
    } else {
      if (lua_type(L, -1) != LUA_TSTRING)
        lnb_errorf(L, "safetensors.save: metadata value '%s' is a %s, not a string",
                   (*keys)[i], luaL_typename(L, -1));
      ((const char **)*values)[i] = check_text(L, -1, "the metadata value");
    }
  }
  return n;
}

static int l_safetensors_write(lua_State *L) {
  const char *path = lnb_check_string(L, 1);
  lnb_check_type(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) lnb_check_type(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  const char **names, **keys = NULL;
  void *tensors, *values = NULL;
  int64_t n = collect(L, 2, true, &names, &tensors), nmeta = 0;
  if (!lua_isnil(L, 3)) nmeta = collect(L, 3, false, &keys, &values);
  if (ln_safetensors_save(path, n, names, tensors, nmeta, keys, values) != LN_OK)
    return lnb_error(L);
  return 0;
}

/* ---- NumPy -------------------------------------------------------------- */

static int l_npy_read(lua_State *L) {
  return lnb_push(L, ln_npy_read(lnb_check_string(L, 1)));
}

static int l_npy_write(lua_State *L) {
  const char *path = lnb_check_string(L, 1);
  if (ln_npy_write(path, lnb_check(L, 2)) != LN_OK) return lnb_error(L);
  return 0;
}

static int read_npz(lua_State *L) {
  ln_npz *z = lua_touserdata(L, 1);
  int64_t n = ln_npz_count(z);
  lua_createtable(L, 0, n < 4096 ? (int)n : 4096);
  for (int64_t i = 0; i < n; i++) {
    ln_tensor *t = ln_npz_tensor(z, i);
    if (!t) return lnb_error(L);
    luann_push_tensor(L, t);
    lua_setfield(L, -2, ln_npz_name(z, i));
  }
  return 1;
}

static int l_npz_read(lua_State *L) {
  ln_npz *z = ln_npz_open(lnb_check_string(L, 1));
  if (!z) return lnb_error(L);
  lua_pushcfunction(L, read_npz);
  lua_pushlightuserdata(L, z);
  int status = lua_pcall(L, 1, 1, 0);
  ln_npz_close(z);
  if (status != LUA_OK) return lua_error(L);
  return 1;
}

static const luaL_Reg format_functions[] = {
  {"safetensors_read", l_safetensors_read},
  {"safetensors_write", l_safetensors_write},
  {"npy_read", l_npy_read},
  {"npy_write", l_npy_write},
  {"npz_read", l_npz_read},
  {NULL, NULL},
};

/* The table lua/luann/safetensors.lua and numpy.lua build on. */
static int l_formats_module(lua_State *L) {
  luaL_newlib(L, format_functions);
  return 1;
}

const lnb_reg lnb_formats[] = {
  {"_formats_module", l_formats_module, LNB_FUNCTION},
  {NULL, NULL, 0},
};
