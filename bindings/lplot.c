/*
** lplot.c: the C half of luann.plot (lua/luann/plot.lua turns the forms
** a user may write into the one form read here).
**
**   line(path, list, opts)  list: {{name = s, y = {numbers}, x = {numbers}
**                           or nil}, ...}; opts: title, xlabel, ylabel
**                           (strings), width, height (integers), logy
**   colors                  the series colours in order, {r, g, b} each
**
** Everything is read raw (no metamethod runs) and copied into one block
** Lua owns before the core draws, so an error raised here leaks nothing
** and cairo runs only inside the core call.
*/
#include <string.h>

#include "lbase.h"
#include "plot.h"

/* The list's entry k (on the stack top): its field `key` as a list of n
** numbers into out; n < 0 takes the list's own length. Returns n. */
static int64_t read_numbers(lua_State *L, int k, const char *key, double *out,
                            int64_t n) {
  if (lua_getfield(L, -1, key) != LUA_TTABLE)
    lnb_errorf(L, "plot.line: series %d: '%s' must be a list of numbers", k, key);
  int64_t len = (int64_t)lua_rawlen(L, -1);
  if (n >= 0 && len != n)
    lnb_errorf(L, "plot.line: series %d: x has %d values and y %d", k, (int)len, (int)n);
  for (int64_t i = 0; out && i < len; i++) {
    if (lua_rawgeti(L, -1, (lua_Integer)i + 1) != LUA_TNUMBER)
      lnb_errorf(L, "plot.line: series %d: %s[%d] is not a number", k, key, (int)i + 1);
    out[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return len;
}

/* Points of every series, checking the shape of the list. */
static int64_t count_points(lua_State *L, int count) {
  int64_t total = 0;
  for (int k = 1; k <= count; k++) {
    if (lua_rawgeti(L, 2, k) != LUA_TTABLE)
      lnb_errorf(L, "plot.line: series %d must be a table", k);
    if (lua_getfield(L, -1, "name") != LUA_TSTRING)
      lnb_errorf(L, "plot.line: series %d: 'name' must be a string", k);
    lua_pop(L, 1);
    int64_t n = read_numbers(L, k, "y", NULL, -1);
    if (n < 1) lnb_errorf(L, "plot.line: series %d is empty", k);
    total += n;
    lua_pop(L, 1);
  }
  return total;
}

static const char *opt_string(lua_State *L, const char *key) {
  int type = lua_getfield(L, 3, key);
  if (type != LUA_TNIL && type != LUA_TSTRING)
    lnb_errorf(L, "plot.line: option '%s' must be a string", key);
  const char *s = lua_tostring(L, -1); /* anchored by the options table */
  lua_pop(L, 1);
  return s;
}

static int opt_side(lua_State *L, const char *key, int def) {
  lua_getfield(L, 3, key);
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (lua_isnil(L, -1)) v = def, isint = 1;
  if (!isint || v < LN_PLOT_MIN_SIDE || v > LN_PLOT_MAX_SIDE)
    lnb_errorf(L, "plot.line: option '%s' must be an integer from %d to %d",
               key, LN_PLOT_MIN_SIDE, LN_PLOT_MAX_SIDE);
  lua_pop(L, 1);
  return (int)v;
}

static int l_line(lua_State *L) {
  const char *path = lnb_check_string(L, 1);
  lnb_check_type(L, 2, LUA_TTABLE);
  lnb_check_type(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  size_t len = lua_rawlen(L, 2);
  if (len < 1 || len > LN_PLOT_MAX_SERIES)
    return lnb_errorf(L, "plot.line: 1 to %d series, got %d", LN_PLOT_MAX_SERIES, (int)len);
  int count = (int)len;
  ln_plot_options o = {opt_string(L, "title"), opt_string(L, "xlabel"),
                       opt_string(L, "ylabel"), opt_side(L, "width", 640),
                       opt_side(L, "height", 480), false};
  lua_getfield(L, 3, "logy");
  o.logy = lua_toboolean(L, -1);
  lua_pop(L, 1);
  int64_t total = count_points(L, count);
  ln_plot_series *series = lua_newuserdatauv(
      L, count * sizeof *series + 2 * (size_t)total * sizeof(double), 0);
  double *values = (double *)(series + count);
  for (int k = 1; k <= count; k++) {
    ln_plot_series *s = &series[k - 1];
    lua_rawgeti(L, 2, k);
    lua_getfield(L, -1, "name");
    s->name = lua_tostring(L, -1); /* anchored by the list */
    lua_pop(L, 1);
    s->y = values;
    s->n = read_numbers(L, k, "y", values, -1);
    values += s->n;
    s->x = NULL;
    if (lua_getfield(L, -1, "x") != LUA_TNIL) {
      s->x = values;
      lua_pop(L, 1);
      read_numbers(L, k, "x", values, s->n);
      values += s->n;
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (ln_plot_line(path, series, count, &o) != LN_OK) return lnb_error(L);
  return 0;
}

/* {{r, g, b}, ...}: the colours series take, in order. */
static void push_colors(lua_State *L) {
  const uint32_t *colors;
  int n = ln_plot_palette(&colors);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 3, 0);
    for (int c = 0; c < 3; c++) {
      lua_pushinteger(L, colors[i] >> (16 - 8 * c) & 255);
      lua_rawseti(L, -2, c + 1);
    }
    lua_rawseti(L, -2, i + 1);
  }
}

/* The table lua/luann/plot.lua builds on. */
static int l_plot_module(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, l_line);
  lua_setfield(L, -2, "line");
  push_colors(L);
  lua_setfield(L, -2, "colors");
  return 1;
}

const lnb_reg lnb_plot[] = {
  {"_plot_module", l_plot_module, LNB_FUNCTION},
  {NULL, NULL, 0},
};
