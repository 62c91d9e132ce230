/*
** lbase.h: what the binding files share (internal).
**
** Each bindings/l*.c file binds one op family and exports a
** `const lnb_reg lnb_<family>[]` list ending in {NULL}; ltensor.c puts
** every list into the module table and/or the tensor methods (see
** families in lmodule.c); lpointwise.c also registers its ops from the
** core's op enums (lnb_register_pointwise). Functions follow PyTorch's
** names; dims and indices seen by Lua are 1-based (negative from the end)
** and converted here, never in the core.
*/
#ifndef LUANN_LBASE_H
#define LUANN_LBASE_H

#include <lauxlib.h>
#include <lua.h>

#include "internal.h"
#include "luann.h"

#define LNB_TENSOR "luann.Tensor"

/* Where a function goes: luann.f(t, ...), t:f(...), or both. */
enum { LNB_FUNCTION = 1, LNB_METHOD = 2, LNB_BOTH = 3 };

typedef struct lnb_reg {
  const char *name;
  lua_CFunction fn;
  int where;
} lnb_reg;

/* The tensor at idx (raises "bad argument #idx to 'f' (tensor expected,
** got X)"); a closed tensor raises too. */
LN_INTERNAL ln_tensor *lnb_check(lua_State *L, int idx);
/* NULL when idx is not a tensor. */
LN_INTERNAL ln_tensor *lnb_test(lua_State *L, int idx);
/* A tensor from idx: a tensor as is (retained), a number as a 0-dim tensor
** of dtype `like` (or float32), a boolean as bool. New reference. */
LN_INTERNAL ln_tensor *lnb_check_operand(lua_State *L, int idx, ln_dtype like);
/* Pushes a new reference from the core; NULL raises the core's error as
** "fname: message" (the message usually names the op already). */
LN_INTERNAL int lnb_push(lua_State *L, ln_tensor *t);
/* Raises the core's last error message, at the user's line (lnb_where). */
LN_INTERNAL int lnb_error(lua_State *L);

/* lerror.c: errors at the user's line. Bindings raise through these, never
** luaL_error, luaL_argerror or the luaL_check* helpers: those name the
** binding's immediate caller, often a line of the Lua library.
** lnb_where pushes "file:line: " of the first frame from level outwards
** (1: the running binding's caller) outside the library (chunks
** "@lua/luann/..."), or "" when that frame is C, as luaL_where does. The
** others are lauxlib's functions of the same names, same messages. */
LN_INTERNAL void lnb_where(lua_State *L, int level);
LN_INTERNAL int lnb_errorf(lua_State *L, const char *fmt, ...);
LN_INTERNAL int lnb_argerror(lua_State *L, int arg, const char *extramsg);
LN_INTERNAL int lnb_typeerror(lua_State *L, int arg, const char *tname);
#define lnb_argcheck(L, cond, arg, extramsg) \
  ((void)(luai_likely(cond) || lnb_argerror(L, (arg), (extramsg))))
#define lnb_argexpected(L, cond, arg, tname) \
  ((void)(luai_likely(cond) || lnb_typeerror(L, (arg), (tname))))
LN_INTERNAL lua_Number lnb_check_number(lua_State *L, int arg);
LN_INTERNAL lua_Number lnb_opt_number(lua_State *L, int arg, lua_Number def);
/* luaL_checkinteger's rule (lnb_check_integer also takes "2" and 2.0). */
LN_INTERNAL lua_Integer lnb_check_lua_integer(lua_State *L, int arg);
LN_INTERNAL lua_Integer lnb_opt_lua_integer(lua_State *L, int arg,
                                            lua_Integer def);
LN_INTERNAL const char *lnb_check_lstring(lua_State *L, int arg, size_t *len);
LN_INTERNAL const char *lnb_opt_lstring(lua_State *L, int arg,
                                        const char *def, size_t *len);
#define lnb_check_string(L, arg) lnb_check_lstring(L, (arg), NULL)
#define lnb_opt_string(L, arg, def) lnb_opt_lstring(L, (arg), (def), NULL)
LN_INTERNAL void lnb_check_type(lua_State *L, int arg, int t);
LN_INTERNAL void lnb_check_any(lua_State *L, int arg);
LN_INTERNAL void *lnb_check_udata(lua_State *L, int arg, const char *tname);
LN_INTERNAL int lnb_check_option(lua_State *L, int arg, const char *def,
                                 const char *const lst[]);
/* A 1-based (or negative) Lua dim at idx into a 0-based-or-negative core
** dim: 1 -> 0, -1 -> -1; 0 raises. */
LN_INTERNAL int lnb_check_dim(lua_State *L, int idx);
LN_INTERNAL int lnb_opt_dim(lua_State *L, int idx, int def);
/* The length of the table at idx (its __len included), raising unless it
** is an integer from 0 to max: a proxy's length is user input like any. */
LN_INTERNAL int lnb_check_len(lua_State *L, int idx, int max, const char *what);
/* Reads sizes either as varargs (idx..top numbers) or one table at idx.
** Returns ndim. A trailing options table or string is not read. */
LN_INTERNAL int lnb_check_shape(lua_State *L, int idx, int64_t *shape);
/* dtype from a string at idx ("float32", ...); def when none. */
LN_INTERNAL ln_dtype lnb_opt_dtype(lua_State *L, int idx, ln_dtype def);
/* Integer arguments: a number with an exact integer value, float or not
** (4/2 is 2, as string.rep takes it). lnb_check_integer also converts a
** string as Lua's own functions do; lnb_tointeger and lnb_check_entry
** take numbers only (t["2"] is no index).
** lnb_tointeger says whether idx holds one; lnb_check_integer raises
** otherwise ("bad argument #2 to 'narrow' (integer expected, got 1.5)"),
** lnb_check_entry for the value on the stack top, entry pos of a table
** argument arg ("... (sizes must be integers, got 1.5 at position 2)"). */
LN_INTERNAL bool lnb_tointeger(lua_State *L, int idx, lua_Integer *out);
LN_INTERNAL lua_Integer lnb_check_integer(lua_State *L, int idx);
LN_INTERNAL lua_Integer lnb_opt_integer(lua_State *L, int idx,
                                        lua_Integer def);
LN_INTERNAL lua_Integer lnb_check_entry(lua_State *L, int arg,
                                        lua_Integer pos, const char *what);
/* Raises unless every key of the options table at idx is one of keys (a
** NULL-terminated list): "bad argument #2 to 'zeros' (unknown option 'dtyp'
** (did you mean 'dtype'?); known options: dtype, device, requires_grad)".
** Once per call: a handful of keys. */
LN_INTERNAL void lnb_check_option_keys(lua_State *L, int idx,
                                       const char *const *keys);
/* Options table at idx (may be absent): dtype, device, requires_grad;
** lnb_read_options_of takes other known keys (the random functions' also
** have generator, which the caller reads). */
typedef struct lnb_options {
  ln_dtype dtype;
  ln_device device;
  bool requires_grad;
} lnb_options;
LN_INTERNAL extern const char *const lnb_tensor_option_keys[];
LN_INTERNAL extern const char *const lnb_random_option_keys[];
LN_INTERNAL void lnb_read_options(lua_State *L, int idx, lnb_options *o);
LN_INTERNAL void lnb_read_options_of(lua_State *L, int idx, lnb_options *o,
                                     const char *const *keys);
/* Turns 1-based int64 index tensors from Lua into 0-based ones (new ref),
** and 0-based results into 1-based ones for Lua. */
LN_INTERNAL ln_tensor *lnb_index_from_lua(lua_State *L, ln_tensor *index);
LN_INTERNAL ln_tensor *lnb_index_to_lua(ln_tensor *index);
/* Tells the Lua collector about tensor memory (called on every push). */
LN_INTERNAL void lnb_account(lua_State *L);
/* Anomaly mode's hooks (lautograd.c), called only when ln_anomaly_enabled()
** (core/autograd.h): luann_push_tensor gives the nodes the running op
** recorded its traceback; lnb_push raises when the result t, just pushed,
** holds a NaN or Inf the op made. */
LN_INTERNAL bool ln_anomaly_enabled(void);
LN_INTERNAL void lnb_anomaly_trace(lua_State *L);
LN_INTERNAL void lnb_anomaly_check(lua_State *L, ln_tensor *t);

/* Set-up and shared pieces of ltensor.c, lcreate.c, lformat.c. */
LN_INTERNAL void lnb_create_tensor_meta(lua_State *L, int methods);
LN_INTERNAL void lnb_create_generator_meta(lua_State *L);
/* Drains the OpenCL queues when the Lua state closes (ldevice.c). */
LN_INTERNAL void lnb_create_close_hook(lua_State *L);
LN_INTERNAL ln_device lnb_default_device(void);
LN_INTERNAL int lnb_tostring(lua_State *L);
/* lshape.c: pushes t's sizes as a shape (a Lua array with the
** "luann.Shape" metatable that lnb_create_shape_meta makes). */
LN_INTERNAL void lnb_push_shape(lua_State *L, const ln_tensor *t);
LN_INTERNAL void lnb_create_shape_meta(lua_State *L);

/* The families (one per binding file). */
LN_INTERNAL extern const lnb_reg lnb_tensor_methods[]; /* ltensor.c */
LN_INTERNAL extern const lnb_reg lnb_creation[]; /* lcreate.c */
LN_INTERNAL extern const lnb_reg lnb_views[]; /* lview.c */
LN_INTERNAL extern const lnb_reg lnb_pointwise[]; /* lpointwise.c */
LN_INTERNAL extern const lnb_reg lnb_reductions[]; /* lreduce.c */
LN_INTERNAL extern const lnb_reg lnb_linalg[]; /* llinalg.c */
LN_INTERNAL extern const lnb_reg lnb_indexing[]; /* lindex.c */
LN_INTERNAL extern const lnb_reg lnb_autograd[]; /* lautograd.c */
LN_INTERNAL extern const lnb_reg lnb_nn[]; /* lnn.c: fused losses, optim */
LN_INTERNAL extern const lnb_reg lnb_io[]; /* lio.c: IDX, checkpoints */
LN_INTERNAL extern const lnb_reg lnb_device[]; /* ldevice.c */
LN_INTERNAL extern const lnb_reg lnb_image[]; /* limage.c: PNG files */
LN_INTERNAL extern const lnb_reg lnb_plot[]; /* lplot.c: line plots */
LN_INTERNAL extern const lnb_reg lnb_compare[]; /* lcompare.c: equal, isclose */
LN_INTERNAL extern const lnb_reg lnb_formats[]; /* lformats.c: safetensors, .npy, .npz */
LN_INTERNAL extern const lnb_reg lnb_errors[]; /* lerror.c: _where */

/* lpointwise.c: the unary and binary ops, registered from the core's op
** enums as closures into the module and methods tables (stack indices). */
LN_INTERNAL void lnb_register_pointwise(lua_State *L, int module, int methods);
/* lops.c: every row of the core's op table (core/op.h), the same way. */
LN_INTERNAL void lnb_register_ops(lua_State *L, int module, int methods);

#endif
