/*
** lautograd.c: autograd from Lua: backward, requires_grad_, grad mode,
** anomaly mode, and custom ops whose backward is a Lua function
** (luann.autograd.Function in lua/luann/autograd.lua builds on
** _record_function).
*/

/*** Autograd from C: backward, hooks, grad mode (bindings/lautograd.c), part of the luann module.
@module luann
*/
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "lbase.h"

/* The state running backward, for Lua-defined backward functions: they
** are called from inside ln_backward, on the thread that called it. */
static _Thread_local lua_State *backward_state;

/* Reads the options table at idx (absent or nil: all false) into opts,
** refusing keys other than `names`, listed in the error; names[i] sets
** flags[i]. */
static void read_flags(lua_State *L, int idx, const char *fname,
                       const char *const *names, bool *const *flags) {
  if (lua_isnoneornil(L, idx)) return;
  lnb_check_type(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = 0;
    while (names[k] && !(lua_type(L, -2) == LUA_TSTRING &&
                         strcmp(lua_tostring(L, -2), names[k]) == 0))
      k++;
    if (!names[k]) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int i = 0; names[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, names[i]);
      }
      luaL_pushresult(&b);
      lnb_errorf(L, "%s: unknown option '%s' (it takes %s)", fname,
                 lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3)
                                                : luaL_typename(L, -3),
                 lua_tostring(L, -1));
    }
    *flags[k] = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

/* Raises the core's error, with the failing node's origin in anomaly mode. */
static int backward_error(lua_State *L) {
  const char *trace = ln_anomaly_failed_trace();
  if (!trace) return lnb_error(L);
  return lnb_errorf(L, "%s\nIn anomaly mode, the failing node was %s",
                    ln_error_message(), trace);
}

/*** Computes the gradient of t with respect to every leaf that requires grad and
adds it into their .grad. t must be a single element unless a gradient is given.
`loss:backward()`, `y:backward(g)`, `y:backward{retain_graph = true, create_graph = true}`.
@param t the tensor (the loss)
@param[opt] gradient a tensor of t's shape (default 1 for a scalar)
@param[opt] opts {retain_graph = false, create_graph = false}
@function backward
*/
/* t:backward([grad], [{retain_graph = false, create_graph = false}]) */
static int t_backward(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  ln_tensor *grad = lnb_test(L, 2);
  int opts = grad ? 3 : 2;
  if (!grad && !lua_isnoneornil(L, 2) && !lua_istable(L, 2))
    return lnb_typeerror(L, 2, "tensor or options table");
  ln_backward_opts o = {0};
  read_flags(L, opts, "backward",
             (const char *const[]){"retain_graph", "create_graph", NULL},
             (bool *const[]){&o.retain_graph, &o.create_graph});
  lua_State *outer = backward_state;
  backward_state = L;
  int rc = ln_backward_with(t, grad, &o);
  backward_state = outer;
  return rc == LN_OK ? 0 : backward_error(L);
}

/* The tensors at idx: one tensor, or a list of them (1 to LN_GRAD_MAX),
** in an array that the GC frees (left on the stack). what names them. */
#define LN_GRAD_MAX 100000
static ln_tensor **tensor_list(lua_State *L, int idx, const char *what,
                               int *n) {
  if (lnb_test(L, idx)) {
    ln_tensor **one = lua_newuserdatauv(L, sizeof *one, 0);
    *one = lnb_test(L, idx);
    *n = 1;
    return one;
  }
  if (!lua_istable(L, idx))
    lnb_errorf(L, "grad: bad argument '%s' (a tensor or a list of tensors "
               "expected, got %s)", what, luaL_typename(L, idx));
  *n = lnb_check_len(L, idx, LN_GRAD_MAX, what);
  if (*n == 0) lnb_errorf(L, "grad: '%s' is an empty list", what);
  ln_tensor **ts = lua_newuserdatauv(L, (size_t)*n * sizeof *ts, 0);
  for (int i = 0; i < *n; i++) {
    lua_geti(L, idx, i + 1);
    ts[i] = lnb_test(L, -1);
    if (!ts[i])
      lnb_errorf(L, "grad: %s[%d] is a %s, expected a tensor", what, i + 1,
                 luaL_typename(L, -1));
    lua_pop(L, 1); /* a list entry keeps its tensor alive */
  }
  return ts;
}

/* grad(outputs, inputs, [{grad_outputs =, retain_graph =, create_graph =,
** allow_unused =}]): the list of d outputs / d input for each input. */
static int l_grad(lua_State *L) {
  int nout, nin, ngo = 0;
  ln_tensor **outs = tensor_list(L, 1, "outputs", &nout);
  ln_tensor **ins = tensor_list(L, 2, "inputs", &nin);
  ln_tensor **gos = NULL;
  ln_backward_opts o = {0};
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "grad_outputs");
    int at = lua_gettop(L);
    if (!lua_isnil(L, at)) {
      gos = tensor_list(L, at, "grad_outputs", &ngo);
      if (ngo != nout)
        return lnb_errorf(L, "grad: %d grad_outputs for %d outputs", ngo, nout);
    }
    bool given; /* grad_outputs, read above */
    read_flags(L, 3, "grad",
               (const char *const[]){"grad_outputs", "retain_graph",
                                     "create_graph", "allow_unused", NULL},
               (bool *const[]){&given, &o.retain_graph, &o.create_graph,
                               &o.allow_unused});
  } else if (!lua_isnoneornil(L, 3)) {
    return lnb_typeerror(L, 3, "options table");
  }
  ln_tensor **got = lua_newuserdatauv(L, (size_t)nin * sizeof *got, 0);
  lua_State *outer = backward_state;
  backward_state = L;
  int rc = ln_grad(nout, outs, gos, nin, ins, &o, got);
  backward_state = outer;
  if (rc != LN_OK) return backward_error(L);
  lua_createtable(L, nin, 1);
  for (int i = 0; i < nin; i++) { /* each pushed takes its reference */
    if (got[i]) luann_push_tensor(L, got[i]);
    else lua_pushnil(L);
    got[i] = NULL;
    lua_seti(L, -2, i + 1);
  }
  lua_pushinteger(L, nin);
  lua_setfield(L, -2, "n");
  return 1;
}
/*** Sets whether autograd records operations on t (a leaf), in place; returns t.
@param[opt] flag default true
@return t
@function Tensor:requires_grad_
*/
static int t_requires_grad_(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  bool on = lua_isnone(L, 2) ? true : lua_toboolean(L, 2);
  if (ln_set_requires_grad(t, on) != LN_OK) return lnb_error(L);
  lua_settop(L, 1);
  return 1;
}

/*** Keeps the .grad of a non-leaf tensor after backward (leaves always keep theirs).
@function Tensor:retain_grad
*/
static int t_retain_grad(lua_State *L) {
  if (ln_retain_grad(lnb_check(L, 1)) != LN_OK) return lnb_error(L);
  return 0;
}

/*** Turns gradient recording on or off (luann.no_grad() is the scoped form).
@param flag boolean
@return the previous setting
@function set_grad_enabled
*/
/* set_grad_enabled(on) returns the previous setting. */
static int l_set_grad_enabled(lua_State *L) {
  lnb_check_any(L, 1);
  lua_pushboolean(L, ln_set_grad_enabled(lua_toboolean(L, 1)));
  return 1;
}

/*** Whether operations are recorded for autograd now.
@return boolean
@function is_grad_enabled
*/
static int l_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, ln_grad_enabled());
  return 1;
}

/* ---- anomaly mode ----------------------------------------------------------
** The bindings call two hooks, only while ln_anomaly_enabled():
** lnb_anomaly_trace from luann_push_tensor and lnb_anomaly_check from
** lnb_push (both in ltensor.c), right after the result is pushed, so that
** raising leaks nothing: the result already belongs to Lua. */

/*** Turns anomaly mode on or off (luann.autograd.detect_anomaly is the scoped form).
@param flag boolean
@return the previous setting
@function set_anomaly_enabled
*/
/* set_anomaly_enabled(on) returns the previous setting. */
static int l_set_anomaly_enabled(lua_State *L) {
  lnb_check_any(L, 1);
  lua_pushboolean(L, ln_set_anomaly_enabled(lua_toboolean(L, 1)));
  return 1;
}

/*** Whether anomaly mode is on.
@return boolean
@function is_anomaly_enabled
*/
static int l_is_anomaly_enabled(lua_State *L) {
  lua_pushboolean(L, ln_anomaly_enabled());
  return 1;
}

/* Pushes the name of the running C function as users know it: its key in
** luann.core ("log") when it is there, else what the caller called it
** (a method, "add_"); "?" when neither is known. */
static const char *push_op_name(lua_State *L) {
  lua_Debug ar;
  luaL_checkstack(L, LUA_MINSTACK, "detect_anomaly"); /* and the traceback */
  if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "nf", &ar)) {
    lua_pushliteral(L, "?");
    return lua_tostring(L, -1);
  }
  int fn = lua_gettop(L);
  bool found = false;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "luann.core") == LUA_TTABLE) {
    lua_pushnil(L);
    while (!found && lua_next(L, -2)) {
      found = lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn);
      lua_pop(L, 1); /* the value; the key stays */
    }
  }
  if (!found) lua_pushstring(L, ar.name ? ar.name : "?");
  lua_copy(L, -1, fn);
  lua_settop(L, fn);
  return lua_tostring(L, fn);
}

/* Nodes that the running op recorded get its name and the Lua traceback
** of its call, which backward reports if the node fails. */
void lnb_anomaly_trace(lua_State *L) {
  if (!ln_anomaly_untraced()) return;
  const char *op = push_op_name(L);
  luaL_traceback(L, L, NULL, 0);
  ln_anomaly_set_origin(op, lua_tostring(L, -1));
  lua_pop(L, 2);
}

/* Scans t, raising the core's message if the scan itself fails. */
static void scan(lua_State *L, ln_tensor *t, ln_nonfinite *r) {
  if (ln_anomaly_scan(t, r) != LN_OK) lnb_error(L);
}

/* Whether the running op made a NaN or Inf itself: it has tensor
** arguments (creation functions, which only hold values the user gave,
** are not checked) and none of them holds one (a NaN passed along is not
** a new one: its origin was reported, or came from the user's data). */
static bool made_here(lua_State *L, int result) {
  bool tensors = false;
  for (int i = 1; i < result; i++) {
    ln_tensor *a = lnb_test(L, i);
    if (!a) continue;
    ln_nonfinite r;
    scan(L, a, &r);
    if (r.count) return false;
    tensors = true;
  }
  return tensors;
}

/* The result t (on top of the stack) of the running op: raises when it
** holds a NaN or Inf that the op made. */
void lnb_anomaly_check(lua_State *L, ln_tensor *t) {
  if (!ln_anomaly_check_results() || !ln_dtype_is_float(t->dtype)) return;
  ln_nonfinite r;
  scan(L, t, &r);
  if (!r.count || !made_here(L, lua_gettop(L))) return;
  const char *op = push_op_name(L);
  luaL_traceback(L, L, NULL, 0);
  lnb_errorf(L, "detect_anomaly: %s returned %s in its forward output (at "
             "element %I of %I; %I non-finite in all)\n%s", op, r.what,
             (lua_Integer)r.first + 1, (lua_Integer)ln_tensor_numel(t),
             (lua_Integer)r.count, lua_tostring(L, -1));
}

/* ---- custom ops ----------------------------------------------------------- */

typedef struct lua_fn {
  lua_State *L; /* the main thread: a coroutine that recorded may be gone */
  int ref;      /* the backward closure in the registry */
} lua_fn;

static void lua_fn_free(void *p) {
  lua_fn *f = p;
  luaL_unref(f->L, LUA_REGISTRYINDEX, f->ref);
  free(f);
}

/* Runs inside lua_pcall, so that no Lua error (out of memory pushing the
** gradient) can longjmp through the engine: the closure and a light
** userdata of gout are its arguments; the gradients are its results. */
static int call_backward(lua_State *L) {
  ln_tensor *gout = lua_touserdata(L, 2);
  lua_settop(L, 1);
  luann_push_tensor(L, ln_tensor_retain(gout));
  lua_call(L, 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* A Lua error value as text, without running __tostring (which could raise
** in turn). */
static const char *error_text(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
    return lua_tostring(L, idx);
  return lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
}

/* Calls the Lua closure with gout; it returns one gradient (or nil) per
** input. Errors become core errors: no longjmp crosses the engine. */
static int lua_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  lua_fn *f = n->ctx;
  lua_State *L = backward_state ? backward_state : f->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, n->ninputs + 4))
    return ln_error("%s: Lua stack overflow", n->name);
  lua_pushcfunction(L, call_backward);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  lua_pushlightuserdata(L, gout);
  if (lua_pcall(L, 2, n->ninputs, 0) != LUA_OK) {
    ln_error("%s: %s", n->name, error_text(L, -1));
    lua_settop(L, top);
    return LN_ERR;
  }
  int rc = LN_OK;
  for (int i = 0; i < n->ninputs; i++) {
    int idx = top + 1 + i;
    if (lua_isnil(L, idx)) continue;
    ln_tensor *g = lnb_test(L, idx);
    if (!g) {
      rc = ln_error("%s: backward returned a %s for input %d, expected a "
                    "tensor or nil", n->name,
                    luaL_testudata(L, idx, LNB_TENSOR) ? "closed tensor"
                                                       : luaL_typename(L, idx),
                    i + 1);
      break;
    }
    if (ln_node_needs_grad(n, i)) gin[i] = ln_tensor_retain(g);
  }
  lua_settop(L, top);
  return rc;
}

/* The node's name must outlive the node (messages use it after backward
** freed the closure): names are kept as keys of a registry table of their
** own, which no user string can collide with. */
static const char *kept_name(lua_State *L, const char *name) {
  static const char key = 0; /* its address is the table's registry key */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
  }
  lua_pushstring(L, name);
  lua_pushvalue(L, -1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -4);             /* names[name] = true */
  const char *kept = lua_tostring(L, -1);
  lua_pop(L, 2);
  return kept;
}

/* _record_function(out, name, backward_closure, input1, ...): gives out a
** node whose backward calls the closure. Returns out. */
static int l_record_function(lua_State *L) {
  ln_tensor *out = lnb_check(L, 1);
  const char *name = lnb_check_string(L, 2);
  lnb_check_type(L, 3, LUA_TFUNCTION);
  int n = lua_gettop(L) - 3;
  /* any number of inputs: their list lives in a userdata the GC frees,
  ** so no error below can leak it */
  ln_tensor **inputs = lua_newuserdatauv(L, (size_t)n * sizeof *inputs + 1, 0);
  for (int i = 0; i < n; i++) inputs[i] = lnb_test(L, 4 + i);
  if (!ln_any_requires_grad(n, inputs)) {
    lua_settop(L, 1);
    return 1;
  }
  if (out->grad_fn || out->requires_grad)
    return lnb_errorf(L, "Function: forward must return a new tensor without "
                      "history (it runs under no_grad)");
  const char *kept = kept_name(L, name);
  lua_pushvalue(L, 3);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_fn *f = malloc(sizeof *f);
  if (!f) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return lnb_errorf(L, "out of memory");
  }
  f->ref = ref;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  f->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  ln_node *node;
  if (ln_record(&node, out, kept, lua_backward, n, inputs) != LN_OK) {
    lua_fn_free(f);
    return lnb_errorf(L, "%s", ln_error_message());
  }
  if (!node) { /* cannot happen: some input requires grad (checked above) */
    lua_fn_free(f);
    lua_settop(L, 1);
    return 1;
  }
  node->ctx = f;
  node->ctx_free = lua_fn_free;
  if (ln_anomaly_untraced()) { /* named by the Function's own name */
    luaL_traceback(L, L, NULL, 1);
    ln_anomaly_set_origin(NULL, lua_tostring(L, -1));
  }
  lua_settop(L, 1);
  return 1;
}

/* ---- gradient hooks ------------------------------------------------------ */

/* Runs inside lua_pcall: hook(grad) with the closure and a light userdata
** of grad as arguments; leaves its one result. */
static int call_hook(lua_State *L) {
  ln_tensor *grad = lua_touserdata(L, 2);
  lua_settop(L, 1);
  luann_push_tensor(L, ln_tensor_retain(grad));
  lua_call(L, 1, 1);
  return 1;
}

/* The core's side of t:register_hook(fn): fn(grad) returns nil (keep
** grad) or the gradient to use. Errors become core errors. */
static ln_tensor *lua_hook(void *ud, ln_tensor *grad) {
  lua_fn *f = ud;
  lua_State *L = backward_state ? backward_state : f->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) return ln_error("hook: Lua stack overflow"), NULL;
  lua_pushcfunction(L, call_hook);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  lua_pushlightuserdata(L, grad);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    ln_error("hook: %s", error_text(L, -1));
    lua_settop(L, top);
    return NULL;
  }
  ln_tensor *r = lua_isnil(L, -1) ? grad : lnb_test(L, -1);
  if (!r)
    ln_error("hook: returned a %s, expected a tensor or nil",
             luaL_typename(L, -1));
  else
    ln_tensor_retain(r);
  lua_settop(L, top);
  return r;
}

/* Runs inside lua_pcall: hook(t) with the closure and a light userdata of
** t as arguments. */
static int call_post_hook(lua_State *L) {
  ln_tensor *t = lua_touserdata(L, 2);
  lua_settop(L, 1);
  luann_push_tensor(L, ln_tensor_retain(t));
  lua_call(L, 1, 0);
  return 0;
}

/* The core's side of t:register_post_accumulate_grad_hook(fn). */
static int lua_post_hook(void *ud, ln_tensor *t) {
  lua_fn *f = ud;
  lua_State *L = backward_state ? backward_state : f->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) return ln_error("hook: Lua stack overflow");
  lua_pushcfunction(L, call_post_hook);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  lua_pushlightuserdata(L, t);
  int rc = LN_OK;
  if (lua_pcall(L, 2, 0, 0) != LUA_OK)
    rc = ln_error("post-accumulate hook: %s", error_text(L, -1));
  lua_settop(L, top);
  return rc;
}

/* handle:remove(): upvalues are the tensor and the hook's id. */
static int hook_remove(lua_State *L) {
  ln_tensor *t = lnb_test(L, lua_upvalueindex(1));
  if (t) ln_remove_grad_hook(t, (int64_t)lua_tointeger(L, lua_upvalueindex(2)));
  return 0;
}

/* The function at index 2 as a hook's lua_fn, or NULL (out of memory). */
static lua_fn *hook_function(lua_State *L) {
  lnb_check_type(L, 2, LUA_TFUNCTION);
  lua_fn *f = malloc(sizeof *f);
  if (!f) return NULL;
  lua_pushvalue(L, 2);
  f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  f->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  return f;
}

/* The handle of hook id on the tensor at index 1: {remove = fn, id = id}. */
static int push_hook_handle(lua_State *L, int64_t id) {
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, (lua_Integer)id);
  lua_pushcclosure(L, hook_remove, 2);
  lua_setfield(L, -2, "remove");
  lua_pushinteger(L, (lua_Integer)id);
  lua_setfield(L, -2, "id");
  return 1;
}

/*** Registers fn(grad) to run when t's gradient is computed; a tensor it returns
replaces the gradient. Returns a handle with remove().
@param fn a function
@return a handle
@function Tensor:register_hook
*/
/* t:register_hook(fn) returns a handle whose remove() takes it off. */
static int t_register_hook(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  lua_fn *f = hook_function(L);
  if (!f) return lnb_errorf(L, "register_hook: out of memory");
  int64_t id;
  if (ln_add_grad_hook(t, lua_hook, f, lua_fn_free, &id) != LN_OK) {
    lua_fn_free(f);
    return lnb_error(L);
  }
  return push_hook_handle(L, id);
}

/*** Registers fn(t) to run once t.grad holds the whole gradient of a
backward (PyTorch's post-accumulate-grad hook; DistributedDataParallel starts
its all-reduces from it). Returns a handle with remove().
@param fn a function
@return a handle
@function Tensor:register_post_accumulate_grad_hook
*/
/* t:register_post_accumulate_grad_hook(fn): fn(t) once t.grad holds the
** whole gradient of a backward; a handle as register_hook's. */
static int t_register_post_hook(lua_State *L) {
  ln_tensor *t = lnb_check(L, 1);
  lua_fn *f = hook_function(L);
  if (!f) return lnb_errorf(L, "register_post_accumulate_grad_hook: out of memory");
  int64_t id;
  if (ln_add_post_accumulate_hook(t, lua_post_hook, f, lua_fn_free, &id) != LN_OK) {
    lua_fn_free(f);
    return lnb_error(L);
  }
  return push_hook_handle(L, id);
}

const lnb_reg lnb_autograd[] = {
  {"register_hook", t_register_hook, LNB_METHOD},
  {"register_post_accumulate_grad_hook", t_register_post_hook, LNB_METHOD},
  {"_grad", l_grad, LNB_FUNCTION},
  {"backward", t_backward, LNB_BOTH},
  {"requires_grad_", t_requires_grad_, LNB_METHOD},
  {"retain_grad", t_retain_grad, LNB_METHOD},
  {"set_grad_enabled", l_set_grad_enabled, LNB_FUNCTION},
  {"is_grad_enabled", l_is_grad_enabled, LNB_FUNCTION},
  {"set_anomaly_enabled", l_set_anomaly_enabled, LNB_FUNCTION},
  {"is_anomaly_enabled", l_is_anomaly_enabled, LNB_FUNCTION},
  {"_record_function", l_record_function, LNB_FUNCTION},
  {NULL, NULL, 0},
};
