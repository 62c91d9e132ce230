/*
** host.c: a C program that embeds luann, as an application would.
**
**   host [model.lua]
**
** It opens luann into its own lua_State, loads a Lua model, hands it a
** batch of inputs from a C float buffer, copies the class probabilities
** back out, and checks them against the same network computed here in C.
** It also shows that a bad call comes back as a Lua error the host can
** report, not a crash. Exits 0 when every check passes.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "luann.h"

#define N 5      /* batch size */
#define IN 4     /* inputs */
#define HID 8    /* hidden units */
#define OUT 3    /* classes */
#define TOLERANCE 1e-5

typedef struct weights {
  float w1[IN * HID], b1[HID], w2[HID * OUT], b2[OUT];
} weights;

/* Copies model.params[name] out, checking its shape first. The model table
** is at index 1. */
static void get_param(lua_State *L, const char *name, float *buf, int ndim,
                      const int64_t *shape) {
  lua_getfield(L, 1, "params");
  lua_getfield(L, -1, name);
  ln_tensor *t = luann_check_tensor(L, -1);
  int same = t->ndim == ndim;
  for (int d = 0; same && d < ndim; d++)
    same = t->shape[d] == shape[d];
  if (!same)
    luaL_error(L, "model.params.%s has an unexpected shape", name);
  size_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= (size_t)shape[d];
  luann_to_floats(L, -1, buf, n);
  lua_pop(L, 2);
}

/* Calls model.forward with the tensor at the top; copies (N,OUT) out. */
static void forward(lua_State *L, float *probs) {
  lua_getfield(L, 1, "forward");
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  ln_tensor *t = luann_check_tensor(L, -1);
  if (t->ndim != 2 || t->shape[0] != N || t->shape[1] != OUT)
    luaL_error(L, "model.forward returned a tensor of the wrong shape");
  luann_to_floats(L, -1, probs, N * OUT);
  lua_pop(L, 1);
}

/* The network in plain C, in double precision:
** probs = softmax(relu(x w1 + b1) w2 + b2) row by row. */
static void reference(const weights *w, const float *x, double *probs) {
  for (int i = 0; i < N; i++) {
    double h[HID], z[OUT], zmax = -INFINITY, sum = 0;
    for (int j = 0; j < HID; j++) {
      h[j] = w->b1[j];
      for (int k = 0; k < IN; k++)
        h[j] += (double)x[i * IN + k] * w->w1[k * HID + j];
      h[j] = h[j] > 0 ? h[j] : 0;
    }
    for (int c = 0; c < OUT; c++) {
      z[c] = w->b2[c];
      for (int j = 0; j < HID; j++)
        z[c] += h[j] * w->w2[j * OUT + c];
      zmax = z[c] > zmax ? z[c] : zmax;
    }
    for (int c = 0; c < OUT; c++)
      sum += exp(z[c] - zmax);
    for (int c = 0; c < OUT; c++)
      probs[i * OUT + c] = exp(z[c] - zmax) / sum;
  }
}

/* Prints probs and returns the largest difference from want. */
static double compare(const char *label, const float *probs,
                      const double *want) {
  double worst = 0;
  printf("%s:\n", label);
  for (int i = 0; i < N; i++) {
    for (int c = 0; c < OUT; c++) {
      double d = fabs(probs[i * OUT + c] - want[i * OUT + c]);
      worst = d > worst || isnan(d) ? d : worst;
      printf(" %.6f", probs[i * OUT + c]);
    }
    printf("\n");
  }
  printf("  largest difference from the C reference: %.3g\n", worst);
  return worst;
}

/* A call with the wrong input width must fail with a message, and leave
** the state usable. */
static int bad_call_is_an_error(lua_State *L) {
  float x[2 * 5] = {0};
  lua_getfield(L, 1, "forward");
  luann_push_floats(L, x, 2, (int64_t[]){2, 5});
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    lua_pop(L, 1);
    printf("a (2,5) input was accepted\n");
    return 0;
  }
  printf("a (2,5) input is refused: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

/* Everything that talks to Lua runs here, under lua_pcall (see main):
** luann_check_tensor and friends raise Lua errors. Returns a boolean. */
static int run(lua_State *L) {
  const char *path = lua_tostring(L, 1);
  luaL_openlibs(L);
  luaL_requiref(L, "luann", luaopen_luann, 0); /* package.loaded only */
  lua_pop(L, 1);
  if (luaL_dofile(L, path) != LUA_OK)
    return lua_error(L);
  lua_replace(L, 1); /* 1: the model table */
  lua_settop(L, 1);

  weights w;
  get_param(L, "w1", w.w1, 2, (int64_t[]){IN, HID});
  get_param(L, "b1", w.b1, 1, (int64_t[]){HID});
  get_param(L, "w2", w.w2, 2, (int64_t[]){HID, OUT});
  get_param(L, "b2", w.b2, 1, (int64_t[]){OUT});

  float x[N * IN], probs[N * OUT];
  double want[N * OUT];
  for (int i = 0; i < N * IN; i++)
    x[i] = (float)sin(0.7 * i) * 2.0f;
  reference(&w, x, want);

  /* The input as a Lua tensor copied from a float buffer. */
  luann_push_floats(L, x, 2, (int64_t[]){N, IN});
  forward(L, probs);
  int ok = compare("probabilities (input from luann_push_floats)", probs,
                   want) <= TOLERANCE;

  /* The same input made with the core's C API, then handed to Lua. */
  ln_tensor *t = ln_from_buffer(x, 2, (int64_t[]){N, IN}, LN_FLOAT32,
                                ln_device_cpu());
  if (t == NULL)
    return luaL_error(L, "ln_from_buffer: %s", ln_error_message());
  luann_push_tensor(L, t); /* Lua owns t now */
  forward(L, probs);
  ok &= compare("probabilities (input from luann_push_tensor)", probs,
                want) <= TOLERANCE;

  ok &= bad_call_is_an_error(L);
  lua_pushboolean(L, ok);
  return 1;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "model.lua";
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "host: cannot create a Lua state\n");
    return 1;
  }
  lua_pushcfunction(L, run);
  lua_pushstring(L, path);
  int ok = 0;
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
  else
    ok = lua_toboolean(L, -1);
  lua_close(L);
  printf("%s\n", ok ? "embed: ok" : "embed: FAILED");
  return ok ? 0 : 1;
}
