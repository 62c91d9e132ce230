/*
** op_optim.c: front ends of the fused optimizer updates: they check the
** tensors and settings, call the backend's kernel, and bump the version of
** everything written (so autograd notices a saved tensor that changed).
** They record nothing: an update is not part of any graph.
*/
#include <math.h>

#include "autograd.h"
#include "backend.h"
#include "luann_nn.h"
#include "shape.h"

static int check_param(const char *op, ln_tensor *param, ln_tensor *grad) {
  if (param->dtype != LN_FLOAT32 && param->dtype != LN_FLOAT64)
    return ln_error("%s: param must be float32 or float64, got %s", op,
                    ln_dtype_name(param->dtype));
  if (!ln_tensor_is_contiguous(param))
    return ln_error("%s: param must be contiguous", op);
  if (grad->dtype != param->dtype)
    return ln_error("%s: grad is %s but param is %s", op,
                    ln_dtype_name(grad->dtype), ln_dtype_name(param->dtype));
  if (!ln_same_shape(grad, param)) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    return ln_error("%s: grad shape %s does not match param shape %s", op,
                    ln_shape_str(grad->ndim, grad->shape, s1, sizeof s1),
                    ln_shape_str(param->ndim, param->shape, s2, sizeof s2));
  }
  return ln_check_same_device(op, param, grad);
}

/* A state tensor is written in place: it must match param exactly. */
static int check_state(const char *op, const char *name, ln_tensor *param,
                       ln_tensor *t) {
  if (!t) return ln_error("%s: %s is required with these settings", op, name);
  if (t->dtype != param->dtype)
    return ln_error("%s: %s is %s but param is %s", op, name,
                    ln_dtype_name(t->dtype), ln_dtype_name(param->dtype));
  if (!ln_same_shape(t, param)) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    return ln_error("%s: %s shape %s does not match param shape %s", op, name,
                    ln_shape_str(t->ndim, t->shape, s1, sizeof s1),
                    ln_shape_str(param->ndim, param->shape, s2, sizeof s2));
  }
  if (!ln_tensor_is_contiguous(t))
    return ln_error("%s: %s must be contiguous", op, name);
  if (t->storage == param->storage)
    return ln_error("%s: %s shares memory with param", op, name);
  return ln_check_same_device(op, param, t);
}

static int check_setting(const char *op, const char *name, double v, double lo,
                         double hi, bool hi_open) {
  if (isnan(v) || v < lo || v > hi || (hi_open && v == hi))
    return ln_error("%s: invalid %s: %g", op, name, v);
  return LN_OK;
}

static int check_common(const char *op, const ln_optim_step *s) {
  if (check_setting(op, "learning rate", s->lr, 0, INFINITY, true) != LN_OK)
    return LN_ERR;
  return check_setting(op, "weight_decay value", s->weight_decay, 0, INFINITY, true);
}

/* grad as a contiguous tensor (a copy when strided), outside autograd. */
static ln_tensor *contiguous_grad(ln_tensor *grad) {
  bool was = ln_set_grad_enabled(false);
  ln_tensor *g = ln_contiguous(grad);
  ln_set_grad_enabled(was);
  return g;
}

static void bump(ln_tensor *a, ln_tensor *b, ln_tensor *c, ln_tensor *d) {
  ln_tensor *ts[4] = {a, b, c, d};
  for (int i = 0; i < 4; i++)
    if (ts[i]) ln_bump_version(ts[i]);
}

static int not_supported(const char *op, const ln_tensor *t) {
  char dev[32];
  ln_device_name(ln_tensor_device(t), dev, sizeof dev);
  return ln_error("%s: not supported on %s", op, dev);
}

int ln_sgd_step(ln_tensor *param, ln_tensor *grad, ln_tensor *buf,
                const ln_optim_step *s) {
  const char *op = "sgd_step";
  if (check_param(op, param, grad) != LN_OK || check_common(op, s) != LN_OK ||
      check_setting(op, "momentum value", s->momentum, 0, INFINITY, true) != LN_OK ||
      check_setting(op, "dampening value", s->dampening, -INFINITY, INFINITY, true) != LN_OK)
    return LN_ERR;
  if (s->nesterov && (s->momentum <= 0 || s->dampening != 0))
    return ln_error("%s: Nesterov momentum requires a momentum and zero "
                    "dampening", op);
  if (s->momentum != 0 && check_state(op, "the momentum buffer", param, buf) != LN_OK)
    return LN_ERR;
  if (!LN_BACKEND(param)->sgd_step) return not_supported(op, param);
  ln_tensor *g = contiguous_grad(grad);
  if (!g) return LN_ERR;
  ln_tensor *b = s->momentum != 0 ? buf : NULL;
  int rc = LN_BACKEND(param)->sgd_step(param, g, b, s);
  ln_tensor_release(g);
  if (rc == LN_OK) bump(param, b, NULL, NULL);
  return rc;
}

static int check_betas(const char *op, const ln_optim_step *s) {
  if (check_setting(op, "beta parameter at index 0", s->beta1, 0, 1, true) != LN_OK ||
      check_setting(op, "beta parameter at index 1", s->beta2, 0, 1, true) != LN_OK ||
      check_setting(op, "epsilon value", s->eps, 0, INFINITY, true) != LN_OK)
    return LN_ERR;
  if (s->step < 1)
    return ln_error("%s: step must be >= 1, got %lld", op, (long long)s->step);
  return LN_OK;
}

int ln_adam_step(ln_tensor *param, ln_tensor *grad, ln_tensor *m,
                 ln_tensor *v, ln_tensor *vmax, const ln_optim_step *s) {
  const char *op = "adam_step";
  if (check_param(op, param, grad) != LN_OK || check_common(op, s) != LN_OK ||
      check_betas(op, s) != LN_OK || check_state(op, "exp_avg", param, m) != LN_OK ||
      check_state(op, "exp_avg_sq", param, v) != LN_OK ||
      (s->amsgrad && check_state(op, "max_exp_avg_sq", param, vmax) != LN_OK))
    return LN_ERR;
  if (m->storage == v->storage ||
      (s->amsgrad && (vmax->storage == m->storage || vmax->storage == v->storage)))
    return ln_error("%s: the state tensors must not share memory", op);
  if (!LN_BACKEND(param)->adam_step) return not_supported(op, param);
  ln_tensor *g = contiguous_grad(grad);
  if (!g) return LN_ERR;
  ln_tensor *vm = s->amsgrad ? vmax : NULL;
  int rc = LN_BACKEND(param)->adam_step(param, g, m, v, vm, s);
  ln_tensor_release(g);
  if (rc == LN_OK) bump(param, m, v, vm);
  return rc;
}

int ln_rmsprop_step(ln_tensor *param, ln_tensor *grad, ln_tensor *square_avg,
                    ln_tensor *buf, ln_tensor *grad_avg,
                    const ln_optim_step *s) {
  const char *op = "rmsprop_step";
  if (check_param(op, param, grad) != LN_OK || check_common(op, s) != LN_OK ||
      check_setting(op, "alpha value", s->beta2, 0, INFINITY, true) != LN_OK ||
      check_setting(op, "epsilon value", s->eps, 0, INFINITY, true) != LN_OK ||
      check_setting(op, "momentum value", s->momentum, 0, INFINITY, true) != LN_OK ||
      check_state(op, "square_avg", param, square_avg) != LN_OK ||
      (s->momentum > 0 && check_state(op, "the momentum buffer", param, buf) != LN_OK) ||
      (s->centered && check_state(op, "grad_avg", param, grad_avg) != LN_OK))
    return LN_ERR;
  ln_tensor *b = s->momentum > 0 ? buf : NULL, *ga = s->centered ? grad_avg : NULL;
  if ((b && (b->storage == square_avg->storage || (ga && b->storage == ga->storage))) ||
      (ga && ga->storage == square_avg->storage))
    return ln_error("%s: the state tensors must not share memory", op);
  if (!LN_BACKEND(param)->rmsprop_step) return not_supported(op, param);
  ln_tensor *g = contiguous_grad(grad);
  if (!g) return LN_ERR;
  int rc = LN_BACKEND(param)->rmsprop_step(param, g, square_avg, b, ga, s);
  ln_tensor_release(g);
  if (rc == LN_OK) bump(param, square_avg, b, ga);
  return rc;
}

int ln_adagrad_step(ln_tensor *param, ln_tensor *grad, ln_tensor *sum,
                    const ln_optim_step *s) {
  const char *op = "adagrad_step";
  if (check_param(op, param, grad) != LN_OK || check_common(op, s) != LN_OK ||
      check_setting(op, "lr_decay value", s->lr_decay, 0, INFINITY, true) != LN_OK ||
      check_setting(op, "epsilon value", s->eps, 0, INFINITY, true) != LN_OK ||
      check_state(op, "sum", param, sum) != LN_OK)
    return LN_ERR;
  if (s->step < 1)
    return ln_error("%s: step must be >= 1, got %lld", op, (long long)s->step);
  if (!LN_BACKEND(param)->adagrad_step) return not_supported(op, param);
  ln_tensor *g = contiguous_grad(grad);
  if (!g) return LN_ERR;
  int rc = LN_BACKEND(param)->adagrad_step(param, g, sum, s);
  ln_tensor_release(g);
  if (rc == LN_OK) bump(param, sum, NULL, NULL);
  return rc;
}
