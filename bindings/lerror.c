/*
** lerror.c: where the bindings' errors point. lauxlib's luaL_error,
** luaL_argerror and luaL_check* name the binding's immediate caller, which
** is often a line of the Lua library (F.softmax calling luann.softmax);
** these raise the same messages at the first frame outside it: the user's
** line. check.lua's check.error asks the same question through
** luann._where, so the library and the bindings decide alike.
** Only the error path costs anything: the checks run lauxlib's tests.
*/
#include <stdarg.h>
#include <string.h>

#include "lbase.h"

/* Chunk names of the library's own files, embedded (lmodule.c's
** load_embedded) or read from lua/. */
static const char library[] = "@lua/luann/";

/* Pushes "file:line: " of the first frame from level outwards that is not
** in the library; "" when that frame is C (pcall(luann.zeros, -1): Lua's
** own functions name no line there either, and the library's pcalls of
** bindings add their own) or there is none. */
void lnb_where(lua_State *L, int level) {
  lua_Debug ar;
  for (; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (strncmp(ar.source, library, sizeof library - 1) == 0) continue;
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
    break;
  }
  lua_pushliteral(L, "");
}

/* luann._where(level): lnb_where for the Lua library; level counts as
** error()'s does in the caller (1: the caller itself). */
static int l_where(lua_State *L) {
  lnb_where(L, (int)lnb_opt_lua_integer(L, 1, 1));
  return 1;
}

int lnb_errorf(lua_State *L, const char *fmt, ...) {
  va_list args;
  lnb_where(L, 1);
  va_start(args, fmt);
  lua_pushvfstring(L, fmt, args);
  va_end(args);
  lua_concat(L, 2);
  return lua_error(L);
}

/* Pushes "mod.field" when a loaded module's field holds the function of
** ar (as luaL_argerror names a function called without a name, say
** through pcall); false, pushing nothing, when none does. */
static bool push_loaded_name(lua_State *L, lua_Debug *ar) {
  lua_getinfo(L, "f", ar);
  int fn = lua_gettop(L);
  luaL_checkstack(L, 6, "argument error");
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  while (lua_next(L, fn + 1)) { /* module name, module */
    if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) { /* field name, value */
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
          const char *mod = lua_tostring(L, -4);
          const char *field = lua_tostring(L, -2);
          if (strcmp(mod, LUA_GNAME) == 0)
            lua_pushstring(L, field);
          else
            lua_pushfstring(L, "%s.%s", mod, field);
          lua_replace(L, fn);
          lua_settop(L, fn);
          return true;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_settop(L, fn - 1);
  return false;
}

/* luaL_argerror's message and naming, at the user's line. */
int lnb_argerror(lua_State *L, int arg, const char *extramsg) {
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar))
    return lnb_errorf(L, "bad argument #%d (%s)", arg, extramsg);
  lua_getinfo(L, "n", &ar);
  if (ar.namewhat && strcmp(ar.namewhat, "method") == 0) {
    arg--; /* self is not counted */
    if (arg == 0)
      return lnb_errorf(L, "calling '%s' on bad self (%s)", ar.name, extramsg);
  }
  const char *name = ar.name;
  if (name == NULL) name = push_loaded_name(L, &ar) ? lua_tostring(L, -1) : "?";
  return lnb_errorf(L, "bad argument #%d to '%s' (%s)", arg, name, extramsg);
}

/* luaL_typeerror's message: "T expected, got U" (__name for userdata). */
int lnb_typeerror(lua_State *L, int arg, const char *tname) {
  const char *got;
  if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
    got = lua_tostring(L, -1);
  else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
    got = "light userdata";
  else
    got = luaL_typename(L, arg);
  return lnb_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

/* The lauxlib checks: the test is lauxlib's (or the same), the error
** goes through lnb_argerror. */

lua_Number lnb_check_number(lua_State *L, int arg) {
  int isnum;
  lua_Number d = lua_tonumberx(L, arg, &isnum);
  if (!isnum) lnb_typeerror(L, arg, lua_typename(L, LUA_TNUMBER));
  return d;
}

lua_Number lnb_opt_number(lua_State *L, int arg, lua_Number def) {
  return lua_isnoneornil(L, arg) ? def : lnb_check_number(L, arg);
}

lua_Integer lnb_check_lua_integer(lua_State *L, int arg) {
  int isnum;
  lua_Integer d = lua_tointegerx(L, arg, &isnum);
  if (!isnum) {
    if (lua_isnumber(L, arg))
      lnb_argerror(L, arg, "number has no integer representation");
    else
      lnb_typeerror(L, arg, lua_typename(L, LUA_TNUMBER));
  }
  return d;
}

lua_Integer lnb_opt_lua_integer(lua_State *L, int arg, lua_Integer def) {
  return lua_isnoneornil(L, arg) ? def : lnb_check_lua_integer(L, arg);
}

const char *lnb_check_lstring(lua_State *L, int arg, size_t *len) {
  const char *s = lua_tolstring(L, arg, len);
  if (!s) lnb_typeerror(L, arg, lua_typename(L, LUA_TSTRING));
  return s;
}

const char *lnb_opt_lstring(lua_State *L, int arg, const char *def,
                            size_t *len) {
  if (lua_isnoneornil(L, arg)) {
    if (len) *len = def ? strlen(def) : 0;
    return def;
  }
  return lnb_check_lstring(L, arg, len);
}

void lnb_check_type(lua_State *L, int arg, int t) {
  if (lua_type(L, arg) != t) lnb_typeerror(L, arg, lua_typename(L, t));
}

void lnb_check_any(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNONE) lnb_argerror(L, arg, "value expected");
}

void *lnb_check_udata(lua_State *L, int arg, const char *tname) {
  void *p = luaL_testudata(L, arg, tname);
  if (!p) lnb_typeerror(L, arg, tname);
  return p;
}

int lnb_check_option(lua_State *L, int arg, const char *def,
                     const char *const lst[]) {
  const char *name = def ? lnb_opt_lstring(L, arg, def, NULL)
                         : lnb_check_lstring(L, arg, NULL);
  for (int i = 0; lst[i]; i++)
    if (strcmp(lst[i], name) == 0) return i;
  return lnb_argerror(L, arg, lua_pushfstring(L, "invalid option '%s'", name));
}

const lnb_reg lnb_errors[] = {
    {"_where", l_where, LNB_FUNCTION},
    {NULL, NULL, 0},
};
