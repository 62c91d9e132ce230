/*
** lnn.c: the fused training ops the Lua library (luann.nn, luann.optim) is
** built on:
**
**   luann._sgd_step(param, grad, buf_or_nil, settings)
**   luann._adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq_or_nil,
**                    settings)
**   luann._rmsprop_step(param, grad, square_avg, momentum_buf_or_nil,
**                       grad_avg_or_nil, settings)
**   luann._adagrad_step(param, grad, sum, settings)
**   luann._cross_entropy(input, target, weight_or_nil, ignore_index_or_nil,
**                        label_smoothing, reduction)
**   luann._nll_loss(input, target, weight_or_nil, ignore_index_or_nil,
**                   reduction)
**
** The steps update param and its state in place, outside autograd, and
** return nothing; settings are a table of torch.optim's names. Class
** targets and ignore_index are 1-based, as everywhere in Lua.
*/
#include <stdio.h>
#include <string.h>

#include "lbase.h"
#include "luann_nn.h"

/* ---- settings tables ----------------------------------------------------- */

/* Pushes field key of the settings table at idx; true when it is set. */
static bool get_setting(lua_State *L, int idx, const char *key) {
  if (lua_getfield(L, idx, key) != LUA_TNIL) return true;
  lua_pop(L, 1);
  return false;
}

static double number_setting(lua_State *L, int idx, const char *op,
                             const char *key, double def) {
  if (!get_setting(L, idx, key)) return def;
  if (lua_type(L, -1) != LUA_TNUMBER)
    lnb_errorf(L, "%s: setting '%s' must be a number, got %s", op, key,
               luaL_typename(L, -1));
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static double required_number(lua_State *L, int idx, const char *op,
                              const char *key) {
  if (!get_setting(L, idx, key))
    lnb_errorf(L, "%s: setting '%s' is required", op, key);
  lua_pop(L, 1);
  return number_setting(L, idx, op, key, 0);
}

static bool bool_setting(lua_State *L, int idx, const char *op,
                         const char *key, bool def) {
  if (!get_setting(L, idx, key)) return def;
  if (!lua_isboolean(L, -1))
    lnb_errorf(L, "%s: setting '%s' must be a boolean, got %s", op, key,
               luaL_typename(L, -1));
  bool v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int64_t step_setting(lua_State *L, int idx, const char *op) {
  lua_getfield(L, idx, "step");
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok)
    lnb_errorf(L, "%s: setting 'step' must be an integer (the step count "
               "from 1), got %s", op, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

/* A state tensor argument, or NULL for nil. */
static ln_tensor *opt_tensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lnb_check(L, idx);
}

/* ---- optimizer steps ----------------------------------------------------- */

static int l_sgd_step(lua_State *L) {
  const char *op = "sgd_step";
  ln_tensor *param = lnb_check(L, 1), *grad = lnb_check(L, 2);
  ln_tensor *buf = opt_tensor(L, 3);
  lnb_check_type(L, 4, LUA_TTABLE);
  ln_optim_step s = {0};
  s.lr = required_number(L, 4, op, "lr");
  s.momentum = number_setting(L, 4, op, "momentum", 0);
  s.dampening = number_setting(L, 4, op, "dampening", 0);
  s.weight_decay = number_setting(L, 4, op, "weight_decay", 0);
  s.nesterov = bool_setting(L, 4, op, "nesterov", false);
  s.first_step = bool_setting(L, 4, op, "first_step", false);
  if (ln_sgd_step(param, grad, buf, &s) != LN_OK) return lnb_error(L);
  return 0;
}

static int l_adam_step(lua_State *L) {
  const char *op = "adam_step";
  ln_tensor *param = lnb_check(L, 1), *grad = lnb_check(L, 2);
  ln_tensor *m = lnb_check(L, 3), *v = lnb_check(L, 4), *vmax = opt_tensor(L, 5);
  lnb_check_type(L, 6, LUA_TTABLE);
  ln_optim_step s = {0};
  s.lr = required_number(L, 6, op, "lr");
  s.beta1 = number_setting(L, 6, op, "beta1", 0.9);
  s.beta2 = number_setting(L, 6, op, "beta2", 0.999);
  s.eps = number_setting(L, 6, op, "eps", 1e-8);
  s.weight_decay = number_setting(L, 6, op, "weight_decay", 0);
  s.step = step_setting(L, 6, op);
  s.decoupled = bool_setting(L, 6, op, "decoupled", false);
  s.amsgrad = bool_setting(L, 6, op, "amsgrad", false);
  if (ln_adam_step(param, grad, m, v, vmax, &s) != LN_OK) return lnb_error(L);
  return 0;
}

static int l_rmsprop_step(lua_State *L) {
  const char *op = "rmsprop_step";
  ln_tensor *param = lnb_check(L, 1), *grad = lnb_check(L, 2);
  ln_tensor *sq = lnb_check(L, 3), *buf = opt_tensor(L, 4);
  ln_tensor *ga = opt_tensor(L, 5);
  lnb_check_type(L, 6, LUA_TTABLE);
  ln_optim_step s = {0};
  s.lr = required_number(L, 6, op, "lr");
  s.beta2 = number_setting(L, 6, op, "alpha", 0.99);
  s.eps = number_setting(L, 6, op, "eps", 1e-8);
  s.weight_decay = number_setting(L, 6, op, "weight_decay", 0);
  s.momentum = number_setting(L, 6, op, "momentum", 0);
  s.centered = bool_setting(L, 6, op, "centered", false);
  if (ln_rmsprop_step(param, grad, sq, buf, ga, &s) != LN_OK) return lnb_error(L);
  return 0;
}

/* initial_accumulator_value is what `sum` was created with (the caller
** makes it); it is checked here for the sake of a clear error only. */
static int l_adagrad_step(lua_State *L) {
  const char *op = "adagrad_step";
  ln_tensor *param = lnb_check(L, 1), *grad = lnb_check(L, 2);
  ln_tensor *sum = lnb_check(L, 3);
  lnb_check_type(L, 4, LUA_TTABLE);
  ln_optim_step s = {0};
  s.lr = required_number(L, 4, op, "lr");
  s.lr_decay = number_setting(L, 4, op, "lr_decay", 0);
  s.weight_decay = number_setting(L, 4, op, "weight_decay", 0);
  s.eps = number_setting(L, 4, op, "eps", 1e-10);
  s.step = step_setting(L, 4, op);
  double init = number_setting(L, 4, op, "initial_accumulator_value", 0);
  if (!(init >= 0)) {
    char num[32];
    snprintf(num, sizeof num, "%g", init);
    return lnb_errorf(L, "%s: invalid initial_accumulator_value value: %s", op,
                      num);
  }
  if (ln_adagrad_step(param, grad, sum, &s) != LN_OK) return lnb_error(L);
  return 0;
}

/* ---- losses --------------------------------------------------------------- */

/* weight (nil or tensor), ignore_index (nil or integer) at idx, idx+1. */
static void loss_common(lua_State *L, int idx, ln_loss_options *o) {
  memset(o, 0, sizeof *o);
  o->weight = opt_tensor(L, idx);
  if (!lua_isnoneornil(L, idx + 1)) {
    o->has_ignore_index = true;
    o->ignore_index = lnb_check_integer(L, idx + 1);
  }
  o->target_base = 1;
}

static void reduction_arg(lua_State *L, int idx, const char *op,
                          ln_loss_options *o) {
  const char *name = lnb_opt_string(L, idx, "mean");
  if (ln_reduction_parse(op, name, &o->reduction) != LN_OK) lnb_error(L);
}

static int l_cross_entropy(lua_State *L) {
  ln_tensor *input = lnb_check(L, 1), *target = lnb_check(L, 2);
  ln_loss_options o;
  loss_common(L, 3, &o);
  o.label_smoothing = lnb_opt_number(L, 5, 0);
  reduction_arg(L, 6, "cross_entropy", &o);
  return lnb_push(L, ln_cross_entropy(input, target, &o));
}

static int l_nll_loss(lua_State *L) {
  ln_tensor *input = lnb_check(L, 1), *target = lnb_check(L, 2);
  ln_loss_options o;
  loss_common(L, 3, &o);
  reduction_arg(L, 5, "nll_loss", &o);
  return lnb_push(L, ln_nll_loss(input, target, &o));
}

const lnb_reg lnb_nn[] = {
  {"_sgd_step", l_sgd_step, LNB_FUNCTION},
  {"_adam_step", l_adam_step, LNB_FUNCTION},
  {"_rmsprop_step", l_rmsprop_step, LNB_FUNCTION},
  {"_adagrad_step", l_adagrad_step, LNB_FUNCTION},
  {"_cross_entropy", l_cross_entropy, LNB_FUNCTION},
  {"_nll_loss", l_nll_loss, LNB_FUNCTION},
  {NULL, NULL, 0},
};
