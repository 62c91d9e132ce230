/*
** lio.c: files from Lua: luann.read_idx(path), luann.save(path, value
** [, {compression = 0..9}]) and luann.load(path).
**
** save walks the value (a tensor, number, string, boolean, or a table of
** these nested up to LN_CKPT_MAX_DEPTH deep, with string or integer keys)
** and feeds the core's checkpoint writer one record per value, keys in a
** fixed order (integers ascending, then strings bytewise) so equal values
** give equal files. Metatables are not saved. Functions, other userdata,
** float keys and cycles are errors naming the key path. load rebuilds the
** value from the records; it runs no code and the core checks every size.
** Both walks run in a protected call, so any error leaves no temp file or
** open reader behind.
*/

/*** Files: checkpoints and IDX (bindings/lio.c), part of the luann module.
@module luann
*/
#include <stdlib.h>
#include <string.h>

#include "lbase.h"
#include "luann_io.h"

/*** Reads an IDX file (MNIST's format, plain or .gz) into a tensor of its dtype
(uint8 images, for example). Every byte is checked; errors name the file.
@param path the file
@return a tensor
@function read_idx
*/
static int l_read_idx(lua_State *L) {
  return lnb_push(L, ln_read_idx(lnb_check_string(L, 1)));
}

/* ---- save ----------------------------------------------------------------- */

typedef struct key {
  bool is_int;
  lua_Integer i;
  const char *s;  /* anchored by the table being saved */
  size_t len;
} key;

typedef struct save_ctx {
  ln_ckpt_writer *w;
  int depth;
  key path[LN_CKPT_MAX_DEPTH + 1];  /* the keys leading to the current value */
} save_ctx;

#define VISITING 1 /* stack index of the set of tables being saved */

static bool is_identifier(const key *k) {
  if (k->len == 0 || (k->s[0] >= '0' && k->s[0] <= '9')) return false;
  for (size_t i = 0; i < k->len; i++) {
    char c = k->s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

/* Raises "save: <what> (at a.b[2])"; "at" is left out for the root. */
static int save_error(lua_State *L, const save_ctx *c, const char *what) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lnb_where(L, 2); /* the walk runs under save's own lua_pcall: 1 is save */
  luaL_addvalue(&b);
  luaL_addstring(&b, "save: ");
  luaL_addstring(&b, what);
  if (c->depth > 0) luaL_addstring(&b, " (at ");
  for (int d = 0; d < c->depth; d++) {
    const key *k = &c->path[d];
    if (k->is_int) {
      lua_pushfstring(L, "[%I]", (lua_Integer)k->i);
    } else if (is_identifier(k)) {
      lua_pushfstring(L, d ? ".%s" : "%s", k->s);
    } else {
      lua_pushliteral(L, "[\"");
      lua_pushlstring(L, k->s, k->len < 40 ? k->len : 40);
      lua_pushstring(L, k->len < 40 ? "\"]" : "...\"]");
      lua_concat(L, 3);
    }
    luaL_addvalue(&b);
  }
  if (c->depth > 0) luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return lua_error(L);
}

static int core_failed(lua_State *L) { return lnb_error(L); }

static int compare_keys(const void *pa, const void *pb) {
  const key *a = pa, *b = pb;
  if (a->is_int != b->is_int) return a->is_int ? -1 : 1;
  if (a->is_int) return (a->i > b->i) - (a->i < b->i);
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* The keys of the table at idx, checked and sorted, in a userdata pushed on
** the stack (so Lua frees it on any error). */
static key *sorted_keys(lua_State *L, save_ctx *c, int idx, int64_t *count) {
  int64_t n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) n++;
  key *keys = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *keys, 0);
  n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    key *k = &keys[n++];
    if (lua_isinteger(L, -2)) {
      *k = (key){true, lua_tointeger(L, -2), NULL, 0};
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      k->is_int = false;
      k->s = lua_tolstring(L, -2, &k->len);
    } else { /* the message stays on the stack, under the raise */
      const char *what = lua_type(L, -2) == LUA_TNUMBER
          ? lua_pushfstring(L, "table keys must be strings or integers, got "
                            "the float key %f", lua_tonumber(L, -2))
          : lua_pushfstring(L, "table keys must be strings or integers, got "
                            "a %s key", luaL_typename(L, -2));
      save_error(L, c, what);
    }
  }
  qsort(keys, (size_t)n, sizeof *keys, compare_keys);
  *count = n;
  return keys;
}

static void save_value(lua_State *L, save_ctx *c, int idx);

static void save_table(lua_State *L, save_ctx *c, int idx) {
  /* a Module's fields are its machinery, not its state (it would load back
  ** as a plain table): nn.Module marks its classes with __luann_module */
  if (luaL_getmetafield(L, idx, "__luann_module") != LUA_TNIL)
    save_error(L, c, "cannot save a Module; save its state_dict() instead: "
               "luann.save(path, model:state_dict())");
  if (c->depth == LN_CKPT_MAX_DEPTH)
    save_error(L, c, lua_pushfstring(L, "tables nested deeper than %d",
                                     LN_CKPT_MAX_DEPTH));
  luaL_checkstack(L, 8, "save: tables nested too deep");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, VISITING) != LUA_TNIL)
    save_error(L, c, "a table contains itself (cycles cannot be saved)");
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, VISITING);
  int64_t n;
  key *keys = sorted_keys(L, c, idx, &n);
  if (ln_ckpt_put_table(c->w, n) != LN_OK) core_failed(L);
  for (int64_t i = 0; i < n; i++) {
    key *k = &keys[i];
    c->path[c->depth++] = *k;
    int rc = k->is_int ? ln_ckpt_put_int(c->w, k->i)
                       : ln_ckpt_put_string(c->w, k->s, k->len);
    if (rc != LN_OK) core_failed(L);
    if (k->is_int) lua_pushinteger(L, k->i);
    else lua_pushlstring(L, k->s, k->len);
    lua_rawget(L, idx);
    save_value(L, c, lua_gettop(L));
    lua_pop(L, 1);
    c->depth--;
  }
  lua_pop(L, 1); /* the keys */
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, VISITING);
}

static void save_value(lua_State *L, save_ctx *c, int idx) {
  int rc = LN_OK;
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: rc = ln_ckpt_put_bool(c->w, lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
      rc = lua_isinteger(L, idx) ? ln_ckpt_put_int(c->w, lua_tointeger(L, idx))
                                 : ln_ckpt_put_float(c->w, lua_tonumber(L, idx));
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      rc = ln_ckpt_put_string(c->w, s, len);
      break;
    }
    case LUA_TTABLE: save_table(L, c, idx); break;
    case LUA_TUSERDATA: {
      ln_tensor *t = lnb_test(L, idx);
      if (t) rc = ln_ckpt_put_tensor(c->w, t);
      else if (luaL_testudata(L, idx, LNB_TENSOR)) save_error(L, c, "cannot save a closed tensor");
      else save_error(L, c, "cannot save a userdata");
      break;
    }
    default:
      save_error(L, c, lua_pushfstring(L, "cannot save a %s", luaL_typename(L, idx)));
  }
  if (rc != LN_OK) core_failed(L);
}

/* Protected part of save: (ctx, value) -> nothing. */
static int save_walk(lua_State *L) {
  save_ctx *c = lua_touserdata(L, 1);
  lua_newtable(L);
  lua_replace(L, VISITING); /* ctx is no longer needed on the stack */
  save_value(L, c, 2);
  return 0;
}

/*** Saves a tensor, or a table of tensors, numbers, strings and booleans (a
state_dict), to a checkpoint file: written to a temporary file, synced and
renamed, so the previous file survives a crash.
@param path the file
@param value a tensor or a table
@function save
*/
static int l_save(lua_State *L) {
  const char *path = lnb_check_string(L, 1);
  lnb_check_any(L, 2);
  int level = -1;
  if (!lua_isnoneornil(L, 3)) {
    lnb_check_type(L, 3, LUA_TTABLE);
    lnb_check_option_keys(L, 3, (const char *const[]){"compression", NULL});
    lua_getfield(L, 3, "compression");
    if (!lua_isnil(L, -1)) {
      lua_Integer v;
      if (!lnb_tointeger(L, -1, &v) || v < 0 || v > 9)
        return lnb_errorf(L, "save: compression must be an integer from 0 to "
                          "9, got %s", luaL_tolstring(L, -1, NULL));
      level = (int)v;
    }
    lua_pop(L, 1);
  }
  save_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->depth = 0;
  c->w = ln_ckpt_writer_open(path, level);
  if (!c->w) return lnb_error(L);
  lua_pushcfunction(L, save_walk);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, 2);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    ln_ckpt_writer_abort(c->w);
    return lua_error(L);
  }
  if (ln_ckpt_writer_commit(c->w) != LN_OK) return lnb_error(L);
  return 0;
}

/* ---- load ----------------------------------------------------------------- */

static void load_value(lua_State *L, ln_ckpt_reader *r) {
  ln_ckpt_item it;
  if (ln_ckpt_next(r, &it) != LN_OK) lnb_error(L);
  switch (it.kind) {
    case LN_CKPT_FALSE: case LN_CKPT_TRUE:
      lua_pushboolean(L, it.kind == LN_CKPT_TRUE);
      break;
    case LN_CKPT_INT: lua_pushinteger(L, it.i); break;
    case LN_CKPT_FLOAT: lua_pushnumber(L, it.f); break;
    case LN_CKPT_STRING: lua_pushlstring(L, it.str, it.len); break;
    case LN_CKPT_TENSOR: luann_push_tensor(L, it.tensor); break;
    case LN_CKPT_TABLE:
      luaL_checkstack(L, 8, "load: tables nested too deep");
      lua_createtable(L, 0, it.i < 1024 ? (int)it.i : 1024);
      for (int64_t k = 0; k < it.i; k++) {
        load_value(L, r); /* key */
        load_value(L, r);
        lua_rawset(L, -3);
      }
      break;
  }
}

/* Protected part of load: (reader) -> value. */
static int load_walk(lua_State *L) {
  ln_ckpt_reader *r = lua_touserdata(L, 1);
  load_value(L, r);
  if (ln_ckpt_reader_finish(r) != LN_OK) lnb_error(L);
  return 1;
}

/*** Loads what luann.save wrote; every byte is checked and errors name the file.
@param path the file
@param[opt] opts {device =}: where the tensors go
@return the tensor or table
@function load
*/
static int l_load(lua_State *L) {
  ln_ckpt_reader *r = ln_ckpt_reader_open(lnb_check_string(L, 1));
  if (!r) return lnb_error(L);
  lua_pushcfunction(L, load_walk);
  lua_pushlightuserdata(L, r);
  int status = lua_pcall(L, 1, 1, 0);
  ln_ckpt_reader_close(r);
  if (status != LUA_OK) return lua_error(L);
  return 1;
}

const lnb_reg lnb_io[] = {
  {"read_idx", l_read_idx, LNB_FUNCTION},
  {"save", l_save, LNB_FUNCTION},
  {"load", l_load, LNB_FUNCTION},
  {NULL, NULL, 0},
};
