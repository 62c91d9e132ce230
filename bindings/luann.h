/*
** luann.h: the one header a host program needs to embed luann.
**
**   lua_State *L = luaL_newstate();
**   luaL_openlibs(L);
**   luaL_requiref(L, "luann", luaopen_luann, 1);  -- or package.preload
**   luann_push_floats(L, data, 2, (int64_t[]){4, 3});
**   ... call Lua model code, get a tensor back ...
**   luann_to_floats(L, -1, out, n);
**
** Link with -lluann (pkg-config luann). The core's C API (luann_core.h)
** is available too, for tensors made on the C side.
*/
#ifndef LUANN_H
#define LUANN_H

#include <lua.h>

#include "luann_core.h"

/* Opens the library: returns the `luann` table (sets no globals). */
int luaopen_luann(lua_State *L);

/* Pushes a new float32 tensor holding a copy of data, of the given shape. */
void luann_push_floats(lua_State *L, const float *data, int ndim,
                       const int64_t *shape);
/* Pushes t as a Lua tensor; the Lua value takes over one reference. */
void luann_push_tensor(lua_State *L, ln_tensor *t);
/* The tensor at idx, or a Lua error naming the argument. Borrowed. */
ln_tensor *luann_check_tensor(lua_State *L, int idx);
/* Copies the tensor at idx, converted to float32, into data (at most
** capacity values); returns its element count. A Lua error when the tensor
** holds more than capacity values. */
size_t luann_to_floats(lua_State *L, int idx, float *data, size_t capacity);

/* What a C module built apart from luann (luann_mpi, `make MPI=1`) uses
** of it without linking it: luann.core's field `_c_api` is a light
** userdata pointing to this table. Under plain lua5.4 luann.so is loaded
** with RTLD_LOCAL, so its symbols cannot be linked against; the table
** works the same under the luann executable. */
#define LUANN_C_API_VERSION 1
typedef struct luann_c_api {
  int version;                                /* LUANN_C_API_VERSION */
  ln_tensor *(*test_tensor)(lua_State *L, int idx); /* NULL: not a tensor */
  void *(*data)(const ln_tensor *t);          /* NULL unless on the CPU */
  bool (*is_contiguous)(const ln_tensor *t);
  int64_t (*numel)(const ln_tensor *t);
} luann_c_api;

#endif
