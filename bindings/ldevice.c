/*
** ldevice.c: devices seen from Lua.
**   luann.device([spec])       -> "cpu" or "opencl:N", checked (the default
**                                 device without an argument)
**   luann.opencl.devices()     -> {{device=, name=, platform=, vendor=,
**                                 version=, type=, memory=, max_alloc=,
**                                 local_memory=, compute_units=,
**                                 max_work_group_size=, fp64=}, ...}
**   luann.opencl.is_available(), luann.opencl.memory([spec]) ->
**   {allocated=, cached=} bytes of the buffer pool, empty_cache([spec]),
**   synchronize([spec]) (waits for the device's queue: for timing)
**   luann.cpu.memory() -> {allocated=, cached=} bytes of the CPU's cache of
**   freed blocks (core/cpu_cache.c), caching= whether it keeps any (not
**   under ASan or LUANN_CPU_CACHE=0), luann.cpu.empty_cache(),
**   luann.cpu.isa() -> the CPU kernels' instruction set (core/cpu_isa.c),
**   luann.cpu.threads() -> threads CPU work runs on now (core/cpu_load.c)
** luann.opencl is made by _opencl_module (lua/luann/init.lua), which also
** reads LUANN_DEVICE. A build without OpenCL lists no devices.
*/

/*** Devices: luann.device, luann.opencl, luann.cpu (bindings/ldevice.c), part of the luann module.
@module luann
*/
#include <string.h>

#include "lbase.h"
#ifdef LN_WITH_OPENCL
#include "ocl.h"

/* Whether spec names the OpenCL backend ("opencl" or "opencl:N"). */
static bool is_opencl(const char *spec) {
  return strncmp(spec, "opencl", 6) == 0 && (spec[6] == '\0' || spec[6] == ':');
}
#endif

/* The device spec names; with OpenCL, its context is made now so that a
** broken driver shows here rather than in the first op. */
static ln_device check_device(lua_State *L, const char *spec) {
  ln_device d;
#ifdef LN_WITH_OPENCL
  if (is_opencl(spec) && ln_opencl_device_count() == 0)
    lnb_errorf(L, "no OpenCL device found");
#endif
  if (ln_device_parse(spec, &d) != LN_OK) lnb_error(L);
#ifdef LN_WITH_OPENCL
  if (d.backend == &ln_backend_opencl && !ocl_device_get(d.index)) lnb_error(L);
#endif
  return d;
}

/*** A device: "cpu", "opencl" (the first OpenCL device) or "opencl:N". An error
names the problem when there is no such device. `t:to(dev)` moves a tensor
there, `model:to(dev)` a model.
@param name the device name
@return the device (it prints as its name)
@function device
*/
static int l_device(lua_State *L) {
  ln_device d = lua_isnoneornil(L, 1) ? lnb_default_device()
                                       : check_device(L, lnb_check_string(L, 1));
  char buf[32];
  ln_device_name(d, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

#ifdef LN_WITH_OPENCL

static const char *type_name(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "gpu";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  return "other";
}

static void set_string(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_info(lua_State *L, const ocl_device *d) {
  char spec[32];
  snprintf(spec, sizeof spec, "opencl:%d", d->index);
  lua_createtable(L, 0, 12);
  set_string(L, "device", spec);
  set_string(L, "name", d->name);
  set_string(L, "platform", d->platform_name);
  set_string(L, "vendor", d->vendor);
  set_string(L, "version", d->version);
  set_string(L, "type", type_name(d->type));
  set_integer(L, "memory", (lua_Integer)d->global_mem);
  set_integer(L, "max_alloc", (lua_Integer)d->max_alloc);
  set_integer(L, "local_memory", (lua_Integer)d->local_mem);
  set_integer(L, "compute_units", (lua_Integer)d->compute_units);
  set_integer(L, "max_work_group_size", (lua_Integer)d->max_wg);
  lua_pushboolean(L, d->fp64);
  lua_setfield(L, -2, "fp64");
}

/*** The OpenCL devices found, as a list of {name =, platform =, memory = bytes, ...}
(empty when there is none).
@return a list of tables
@function opencl.devices
*/
static int l_devices(lua_State *L) {
  int n = ln_opencl_device_count();
  if (n < 0) return lnb_error(L);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_info(L, ocl_device_info(i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/*** Whether an OpenCL device is there to use.
@return boolean
@function opencl.is_available
*/
static int l_is_available(lua_State *L) {
  lua_pushboolean(L, ln_opencl_device_count() > 0);
  return 1;
}

/* The OpenCL device at idx ("opencl:N"; "opencl:0" when absent). */
static ocl_device *opt_opencl(lua_State *L, int idx) {
  const char *spec = lnb_opt_string(L, idx, "opencl");
  ln_device d = check_device(L, spec);
  lnb_argcheck(L, d.backend == &ln_backend_opencl, idx,
                "an OpenCL device expected");
  return ocl_device_get(d.index);
}

/*** Memory of an OpenCL device in use by luann, in bytes ({allocated =, cached =}).
@param[opt] device default "opencl:0"
@return a table
@function opencl.memory
*/
static int l_memory(lua_State *L) {
  size_t in_use, cached;
  ocl_pool_stats(opt_opencl(L, 1), &in_use, &cached);
  lua_createtable(L, 0, 2);
  set_integer(L, "allocated", (lua_Integer)in_use);
  set_integer(L, "cached", (lua_Integer)cached);
  return 1;
}

/*** Gives the OpenCL device memory that luann keeps for reuse back to the driver.
@function opencl.empty_cache
*/
static int l_empty_cache(lua_State *L) {
  ocl_pool_trim(opt_opencl(L, 1));
  return 0;
}

/*** Waits until every queued OpenCL command has finished (for timing; reads
from the device wait by themselves).
@function opencl.synchronize
*/
static int l_synchronize(lua_State *L) {
  ocl_device *d = opt_opencl(L, 1);
  cl_int st = clFinish(d->queue);
  if (st != CL_SUCCESS) {
    ocl_fail(st, "clFinish");
    return lnb_error(L);
  }
  if (ocl_flag_check(d) != LN_OK) return lnb_error(L);
  return 0;
}

#else /* a build without OpenCL: no devices */

static int l_devices(lua_State *L) {
  lua_newtable(L);
  return 1;
}

static int l_is_available(lua_State *L) {
  lua_pushboolean(L, 0);
  return 1;
}

static int l_no_opencl(lua_State *L) {
  return lnb_errorf(L, "this build of luann has no OpenCL (make OPENCL=1)");
}
#define l_memory l_no_opencl
#define l_empty_cache l_no_opencl
#define l_synchronize l_no_opencl

#endif

static const luaL_Reg opencl_functions[] = {
  {"devices", l_devices},
  {"is_available", l_is_available},
  {"memory", l_memory},
  {"empty_cache", l_empty_cache},
  {"synchronize", l_synchronize},
  {NULL, NULL},
};

/* A userdata made when luann opens, finalized last when the state closes
** (Lua finalizes in reverse order of marking): every tensor is released by
** then, and the queues are drained before the host exits. */
static int finish_at_close(lua_State *L) {
#ifdef LN_WITH_OPENCL
  ocl_finish_all();
#endif
  return 0;
}

void lnb_create_close_hook(lua_State *L) {
  lua_newuserdatauv(L, 0, 0);
  lua_newtable(L);
  lua_pushcfunction(L, finish_at_close);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "luann.close_hook");
}

/*** luann.opencl: the OpenCL devices (through PoCL on the CPU, or a GPU's driver).
`luann.opencl.devices()`, `is_available()`, `memory()`, `empty_cache()`,
`synchronize()`; tensors go there with `t:to("opencl")`.
@table opencl
*/
/* The luann.opencl table. */
static int l_opencl_module(lua_State *L) {
  luaL_newlib(L, opencl_functions);
  return 1;
}

/*** The CPU memory of tensors, in bytes: {allocated =, cached =, caching =}; cached
blocks are freed tensors kept for reuse (LUANN_CPU_CACHE=0 turns that off).
@return a table
@function cpu.memory
*/
/* luann.cpu: the cache of freed CPU blocks, as luann.opencl's pool. */
static int l_cpu_memory(lua_State *L) {
  size_t in_use, cached;
  ln_cpu_memory_stats(&in_use, &cached);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)in_use);
  lua_setfield(L, -2, "allocated");
  lua_pushinteger(L, (lua_Integer)cached);
  lua_setfield(L, -2, "cached");
  lua_pushboolean(L, ln_cpu_caching());
  lua_setfield(L, -2, "caching");
  return 1;
}

/*** Gives the cached blocks of freed tensor memory back to the system.
@function cpu.empty_cache
*/
static int l_cpu_empty_cache(lua_State *L) {
  (void)L;
  ln_cpu_empty_cache();
  return 0;
}

/*** The instruction set the CPU kernels were picked for at run time: "avx512",
"avx2" or "generic" (LUANN_CPU_ISA asks for a lower one).
@return a string
@function cpu.isa
*/
static int l_cpu_isa(lua_State *L) {
  lua_pushstring(L, ln_cpu_isa());
  return 1;
}

/*** How many threads CPU work runs on now: fewer while other programs keep cores
busy (LUANN_ADAPT_THREADS=0 keeps them all), at most set_num_threads's.
@return an integer
@function cpu.threads
*/
static int l_cpu_threads(lua_State *L) {
  lua_pushinteger(L, ln_cpu_threads_now());
  return 1;
}

static const luaL_Reg cpu_functions[] = {
  {"isa", l_cpu_isa},
  {"threads", l_cpu_threads},
  {"memory", l_cpu_memory},
  {"empty_cache", l_cpu_empty_cache},
  {NULL, NULL},
};

/*** luann.cpu: the CPU's threads, instruction set and tensor memory cache.
`luann.cpu.threads()`, `isa()`, `memory()`, `empty_cache()`.
@table cpu
*/
static int l_cpu_module(lua_State *L) {
  luaL_newlib(L, cpu_functions);
  return 1;
}

const lnb_reg lnb_device[] = {
  {"device", l_device, LNB_FUNCTION},
  {"_opencl_module", l_opencl_module, LNB_FUNCTION},
  {"_cpu_module", l_cpu_module, LNB_FUNCTION},
  {NULL, NULL, 0},
};
