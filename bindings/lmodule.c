/*
** lmodule.c: opening luann. luaopen_luann_core builds the C table (every
** binding family, the tensor metatable); luaopen_luann also makes the Lua
** library embedded at build time requirable, then runs its "luann" module,
** which returns the library (no globals are set).
*/

/*** Module helpers (bindings/lmodule.c), part of the luann module.
@module luann
*/
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lbase.h"

struct ln_embedded {
  const char *name;
  const char *text;
  size_t len;
};
/* build/gen/lua_modules.c */
LN_INTERNAL extern const struct ln_embedded ln_lua_modules[];


static const lnb_reg *const families[] = {
  lnb_tensor_methods, lnb_creation, lnb_views, lnb_pointwise, lnb_reductions,
  lnb_linalg, lnb_indexing, lnb_autograd, lnb_nn, lnb_io, lnb_device,
  lnb_image, lnb_plot, lnb_compare, lnb_formats, lnb_errors,
};

/*** Whether a file descriptor is a terminal (progress bars redraw in place only then).
@param fd an integer (1: stdout)
@return boolean
@function isatty
*/
/* isatty(fd): whether a file descriptor is a terminal (progress bars
** redraw in place only then). */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)lnb_check_lua_integer(L, 1)));
  return 1;
}

/*** Seconds on a monotonic wall clock, for timing (utils.Timer uses it).
@return a number
@function clock
*/
/* clock(): seconds on a monotonic wall clock, for timing. */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static void preload_docs(lua_State *L);
static const luann_c_api c_api = {
  LUANN_C_API_VERSION, lnb_test, ln_tensor_data, ln_tensor_is_contiguous,
  ln_tensor_numel,
};

LUAMOD_API int luaopen_luann_core(lua_State *L);
LUAMOD_API int luaopen_luann_core(lua_State *L) {
  lua_newtable(L); /* module */
  lua_newtable(L); /* tensor methods */
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (const lnb_reg *r = families[f]; r->name; r++) {
      if (r->where & LNB_FUNCTION) {
        lua_pushcfunction(L, r->fn);
        lua_setfield(L, -3, r->name);
      }
      if (r->where & LNB_METHOD) {
        lua_pushcfunction(L, r->fn);
        lua_setfield(L, -2, r->name);
      }
    }
  }
  lnb_register_pointwise(L, -2, -1);
  lnb_register_ops(L, -2, -1);
  lua_pushcfunction(L, l_isatty);
  lua_setfield(L, -3, "isatty");
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -3, "clock");
  lnb_create_tensor_meta(L, lua_gettop(L));
  lnb_create_generator_meta(L);
  lnb_create_close_hook(L);
  lua_setfield(L, -2, "_methods");
  lua_pushliteral(L, LN_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushliteral(L, LN_VERSION); /* luann.version, the name users try */
  lua_setfield(L, -2, "version");
  preload_docs(L);
  lua_pushlightuserdata(L, (void *)&c_api);
  lua_setfield(L, -2, "_c_api");
  return 1;
}

/* package.preload loader for an embedded module: the upvalue is its index. */
static int load_embedded(lua_State *L) {
  const struct ln_embedded *m = &ln_lua_modules[lua_tointeger(L, lua_upvalueindex(1))];
  char chunkname[256];
  snprintf(chunkname, sizeof chunkname, "@lua/%s.lua", m->name);
  for (char *p = chunkname + 5; *p && strcmp(p, ".lua"); p++)
    if (*p == '.') *p = '/';
  if (luaL_loadbufferx(L, m->text, m->len, chunkname, "t") != LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

/* Adds loaders to package.preload for modules not already provided there,
** so a developer's own preload (or a path searcher) can still take over. */
static void preload_embedded(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_luann_core);
  lua_setfield(L, -2, "luann.core");
  for (lua_Integer i = 0; ln_lua_modules[i].name; i++) {
    if (lua_getfield(L, -1, ln_lua_modules[i].name) == LUA_TNIL) {
      lua_pushinteger(L, i);
      lua_pushcclosure(L, load_embedded, 1);
      lua_setfield(L, -3, ln_lua_modules[i].name);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* luann.docs (the doc comments, for help()) is requirable as soon as the
** core is loaded, also where the Lua library comes from lua/ (the specs). */
static void preload_docs(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (lua_Integer i = 0; ln_lua_modules[i].name; i++) {
    if (strcmp(ln_lua_modules[i].name, "luann.docs") != 0)
      continue;
    if (lua_getfield(L, -1, "luann.docs") == LUA_TNIL) {
      lua_pushinteger(L, i);
      lua_pushcclosure(L, load_embedded, 1);
      lua_setfield(L, -3, "luann.docs");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

LUAMOD_API int luaopen_luann(lua_State *L) {
  preload_embedded(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_getfield(L, -1, "luann");
  lua_pushliteral(L, "luann");
  lua_call(L, 1, 1);
  return 1;
}
