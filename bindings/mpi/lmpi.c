/*
** lmpi.c: luann_mpi, the C side of luann.distributed: MPI's non-blocking
** collectives and point-to-point calls on the memory of contiguous CPU
** tensors. Built apart (`make MPI=1`) as $(B)/luann_mpi.so, the only
** piece of luann that links libmpi; it reaches tensors through the table
** luann.core publishes as `_c_api` (bindings/luann.h), not by linking.
**
** Every operation starts non-blocking and returns a request; req:wait()
** polls it with MPI_Test until it completes or its deadline (started with
** the operation; mpi.set_timeout, 300 s by default) passes. MPI has no
** timeout of its own: a rank that skips a collective would hang the others
** forever. After a timeout the world is broken (an operation is still in
** flight on memory MPI may write): later operations fail at once, and the
** process ends with MPI_Abort instead of MPI_Finalize, which stops the
** other ranks through mpirun. Ranks are 0-based here; the Lua side adds 1.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <mpi.h>

#include "luann.h"

#define REQUEST_META "luann_mpi.request"
#define WORLD_META "luann_mpi.world"
#define TAG_LIMIT 32767 /* MPI guarantees tags up to this */

static const luann_c_api *api;   /* luann.core's table */
static MPI_Comm bulk_comm = MPI_COMM_NULL; /* DDP's gradients: a world of
                                             their own (see iall_reduce) */
static double timeout_s = 300;
static int world_rank = -1, world_size = 0;
static long long op_count;       /* operations started on this rank */
static char broken[512];         /* set by a timeout: why the world broke */

typedef struct request {
  MPI_Request req;
  bool active;                   /* started and not yet completed */
  double deadline;
  long long number;              /* op_count when it started */
  char what[48];                 /* "all_reduce", for messages */
} request;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- MPI's life: init and the end of the Lua state --------------------- */

/* The world object's __gc (lua_close): MPI_Finalize, or MPI_Abort when a
** timeout left an operation in flight that Finalize would wait for. */
static int world_gc(lua_State *L) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return 0;
  if (broken[0]) {
    fprintf(stderr, "%s\n", broken);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (bulk_comm != MPI_COMM_NULL) MPI_Comm_free(&bulk_comm);
  MPI_Finalize();
  return 0;
}

/* Open MPI loads its transports as plugins that resolve libmpi's symbols
** globally; Lua opened this module (and so libmpi) with RTLD_LOCAL. */
static void promote_libmpi(void) {
  const char *names[] = {"libmpi.so.40", "libmpi.so", NULL};
  for (int i = 0; names[i]; i++)
    if (dlopen(names[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) return;
}

/* init() -> rank (0-based), size: MPI_Init once per process. */
static int l_init(lua_State *L) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    promote_libmpi();
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS)
      return luaL_error(L, "luann.distributed: MPI_Init failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_dup(MPI_COMM_WORLD, &bulk_comm);
    lua_newuserdatauv(L, 1, 0);
    luaL_newmetatable(L, WORLD_META);
    lua_pushcfunction(L, world_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, WORLD_META);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  lua_pushinteger(L, world_rank);
  lua_pushinteger(L, world_size);
  return 2;
}

/* set_timeout(seconds): the deadline of operations started from now on. */
static int l_set_timeout(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s > 0 && s < 1e9, 1, "expected seconds > 0");
  timeout_s = s;
  return 0;
}

static int l_get_timeout(lua_State *L) {
  lua_pushnumber(L, timeout_s);
  return 1;
}

/* ---- arguments ---------------------------------------------------------- */

static void check_world(lua_State *L) {
  if (world_rank < 0)
    luaL_error(L, "luann.distributed: not initialised (call init first)");
  if (broken[0]) luaL_error(L, "luann.distributed: an earlier operation "
                               "failed, the world is broken: %s", broken);
}

static MPI_Datatype mpi_type(ln_dtype dt) {
  switch (dt) {
  case LN_FLOAT32: return MPI_FLOAT;
  case LN_FLOAT64: return MPI_DOUBLE;
  case LN_INT64: return MPI_INT64_T;
  default: return MPI_UINT8_T; /* uint8, bool */
  }
}

/* The tensor at idx: contiguous and on the CPU (the Lua side stages the
** others through host memory). */
static ln_tensor *check_buffer(lua_State *L, int idx) {
  ln_tensor *t = api->test_tensor(L, idx);
  if (!t) luaL_typeerror(L, idx, "tensor");
  luaL_argcheck(L, api->data(t) && api->is_contiguous(t), idx,
                "expected a contiguous CPU tensor");
  return t;
}

static int check_count(lua_State *L, ln_tensor *t, int idx) {
  int64_t n = api->numel(t);
  luaL_argcheck(L, n < 2147483647, idx, "tensor too large for one MPI call");
  return (int)n;
}

static int check_rank(lua_State *L, int idx) {
  lua_Integer r = luaL_checkinteger(L, idx);
  luaL_argcheck(L, r >= 0 && r < world_size, idx, "rank out of range");
  return (int)r;
}

static MPI_Op check_op(lua_State *L, int idx, ln_dtype dt) {
  static const char *const names[] = {"sum", "max", "min", NULL};
  static const MPI_Op ops[] = {MPI_SUM, MPI_MAX, MPI_MIN};
  int k = luaL_checkoption(L, idx, NULL, names);
  luaL_argcheck(L, k == 0 || dt != LN_BOOL, idx, "max/min of bool tensors");
  return ops[k];
}

/* A new request for operation `what`, keeping the values at the given
** stack slots (the tensors whose memory MPI uses) alive until it ends. */
static request *new_request(lua_State *L, const char *what, int keep1,
                            int keep2) {
  request *r = lua_newuserdatauv(L, sizeof *r, 2);
  memset(r, 0, sizeof *r);
  r->req = MPI_REQUEST_NULL;
  snprintf(r->what, sizeof r->what, "%s", what);
  r->number = ++op_count;
  r->deadline = now() + timeout_s;
  luaL_setmetatable(L, REQUEST_META);
  if (keep1) {
    lua_pushvalue(L, keep1);
    lua_setiuservalue(L, -2, 1);
  }
  if (keep2) {
    lua_pushvalue(L, keep2);
    lua_setiuservalue(L, -2, 2);
  }
  return r;
}

/* Finishes starting r: MPI's status rc becomes a Lua error. */
static int started(lua_State *L, request *r, int rc) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return luaL_error(L, "luann.distributed: %s: %s", r->what, msg);
  }
  r->active = true;
  return 1;
}

/* ---- operations: each returns a request ------------------------------- */

/* iall_reduce(t, op, what, bulk): t = op over ranks, in place. bulk: on
** a duplicate of the world, where only DistributedDataParallel's buckets
** run (MPI pairs collectives by order alone, so a bucket must never pair
** with another rank's barrier). */
static int l_iall_reduce(lua_State *L) {
  check_world(L);
  ln_tensor *t = check_buffer(L, 1);
  MPI_Op op = check_op(L, 2, t->dtype);
  request *r = new_request(L, luaL_optstring(L, 3, "all_reduce"), 1, 0);
  t->storage->version++; /* written in place: autograd's checks see it */
  MPI_Comm comm = lua_toboolean(L, 4) ? bulk_comm : MPI_COMM_WORLD;
  return started(L, r, MPI_Iallreduce(MPI_IN_PLACE, api->data(t),
                                      check_count(L, t, 1), mpi_type(t->dtype),
                                      op, comm, &r->req));
}

/* ireduce(t, op, root): root's t = op over ranks; others' t unchanged. */
static int l_ireduce(lua_State *L) {
  check_world(L);
  ln_tensor *t = check_buffer(L, 1);
  MPI_Op op = check_op(L, 2, t->dtype);
  int root = check_rank(L, 3);
  request *r = new_request(L, "reduce", 1, 0);
  t->storage->version++;
  void *data = api->data(t);
  return started(L, r, MPI_Ireduce(root == world_rank ? MPI_IN_PLACE : data,
                                   root == world_rank ? data : NULL,
                                   check_count(L, t, 1), mpi_type(t->dtype),
                                   op, root, MPI_COMM_WORLD, &r->req));
}

/* ibroadcast(t, root): every t = root's t. */
static int l_ibroadcast(lua_State *L) {
  check_world(L);
  ln_tensor *t = check_buffer(L, 1);
  int root = check_rank(L, 2);
  request *r = new_request(L, luaL_optstring(L, 3, "broadcast"), 1, 0);
  t->storage->version++;
  return started(L, r, MPI_Ibcast(api->data(t), check_count(L, t, 1),
                                  mpi_type(t->dtype), root, MPI_COMM_WORLD,
                                  &r->req));
}

/* iall_gather(src, dst): dst holds world_size copies of src's size, rank
** order. */
static int l_iall_gather(lua_State *L) {
  check_world(L);
  ln_tensor *src = check_buffer(L, 1), *dst = check_buffer(L, 2);
  int n = check_count(L, src, 1);
  luaL_argcheck(L, dst->dtype == src->dtype &&
                api->numel(dst) == (int64_t)n * world_size, 2,
                "expected world_size times the source's elements, same dtype");
  request *r = new_request(L, luaL_optstring(L, 3, "all_gather"), 1, 2);
  dst->storage->version++;
  return started(L, r, MPI_Iallgather(api->data(src), n, mpi_type(src->dtype),
                                      api->data(dst), n, mpi_type(dst->dtype),
                                      MPI_COMM_WORLD, &r->req));
}

static int l_ibarrier(lua_State *L) {
  check_world(L);
  request *r = new_request(L, "barrier", 0, 0);
  return started(L, r, MPI_Ibarrier(MPI_COMM_WORLD, &r->req));
}

static int check_tag(lua_State *L, int idx) {
  lua_Integer tag = luaL_optinteger(L, idx, 0);
  luaL_argcheck(L, tag >= 0 && tag <= TAG_LIMIT, idx, "tag out of range");
  return (int)tag;
}

/* isend(t, dst, tag) and irecv(t, src, tag). */
static int l_isend(lua_State *L) {
  check_world(L);
  ln_tensor *t = check_buffer(L, 1);
  int dst = check_rank(L, 2), tag = check_tag(L, 3);
  request *r = new_request(L, "send", 1, 0);
  snprintf(r->what, sizeof r->what, "send to rank %d", dst + 1);
  return started(L, r, MPI_Isend(api->data(t), check_count(L, t, 1),
                                 mpi_type(t->dtype), dst, tag, MPI_COMM_WORLD,
                                 &r->req));
}

static int l_irecv(lua_State *L) {
  check_world(L);
  ln_tensor *t = check_buffer(L, 1);
  int src = check_rank(L, 2), tag = check_tag(L, 3);
  request *r = new_request(L, "recv", 1, 0);
  snprintf(r->what, sizeof r->what, "recv from rank %d", src + 1);
  t->storage->version++;
  return started(L, r, MPI_Irecv(api->data(t), check_count(L, t, 1),
                                 mpi_type(t->dtype), src, tag, MPI_COMM_WORLD,
                                 &r->req));
}

/* ---- requests ------------------------------------------------------------ */

/* Polls r once: true when it has completed. */
static bool poll(lua_State *L, request *r) {
  if (!r->active) return true;
  int done = 0;
  MPI_Status st;
  int rc = MPI_Test(&r->req, &done, &st);
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    r->active = false;
    luaL_error(L, "luann.distributed: %s failed on rank %d: %s", r->what,
               world_rank + 1, msg);
  }
  if (done) r->active = false;
  return done;
}

/* req:wait(): until it completes; past its deadline, an error naming the
** operation and the ranks, and the world is broken (see the top). */
static int req_wait(lua_State *L) {
  request *r = luaL_checkudata(L, 1, REQUEST_META);
  struct timespec pause = {0, 20000}; /* 20 us: MPI progresses in MPI_Test */
  while (!poll(L, r)) {
    if (now() > r->deadline) {
      snprintf(broken, sizeof broken,
               "luann.distributed: %s (operation %lld on rank %d) timed out "
               "after %g s: not every one of ranks 1-%d joined it (one skipped "
               "it, is stuck elsewhere or died); aborting the world",
               r->what, r->number, world_rank + 1, timeout_s, world_size);
      return luaL_error(L, "%s", broken);
    }
    nanosleep(&pause, NULL);
  }
  return 0;
}

/* req:test(): whether it has completed (without waiting). */
static int req_test(lua_State *L) {
  request *r = luaL_checkudata(L, 1, REQUEST_META);
  lua_pushboolean(L, poll(L, r));
  return 1;
}

/* A request collected while active: its memory may still be in use by MPI,
** so the world cannot go on safely. */
static int req_gc(lua_State *L) {
  request *r = luaL_checkudata(L, 1, REQUEST_META);
  if (r->active && !broken[0])
    snprintf(broken, sizeof broken, "luann.distributed: %s (operation %lld) "
             "was dropped before it completed", r->what, r->number);
  return 0;
}

static const luaL_Reg request_methods[] = {
  {"wait", req_wait}, {"test", req_test}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
  {"init", l_init}, {"set_timeout", l_set_timeout},
  {"get_timeout", l_get_timeout}, {"iall_reduce", l_iall_reduce},
  {"ireduce", l_ireduce}, {"ibroadcast", l_ibroadcast},
  {"iall_gather", l_iall_gather}, {"ibarrier", l_ibarrier},
  {"isend", l_isend}, {"irecv", l_irecv}, {NULL, NULL},
};

LUAMOD_API int luaopen_luann_mpi(lua_State *L);
LUAMOD_API int luaopen_luann_mpi(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luann.core");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "_c_api");
  api = lua_touserdata(L, -1);
  if (!api || api->version != LUANN_C_API_VERSION)
    return luaL_error(L, "luann_mpi: luann.core is missing or of another "
                         "version than this module (rebuild both)");
  lua_pop(L, 2);
  luaL_newmetatable(L, REQUEST_META);
  luaL_newlib(L, request_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, req_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, functions);
  return 1;
}
