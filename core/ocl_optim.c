/*
** ocl_optim.c: fused optimizer updates on OpenCL (kernels/optim.cl): SGD,
** Adam/AdamW, RMSprop and Adagrad, one kernel each, every tensor updated
** in place in one pass. The front end has checked that the tensors are
** contiguous, of the param's float dtype and shape; the scalar factors are
** computed here in double, as core/cpu_optim.c does.
*/
#include <math.h>

#include "ocl.h"

/* The device of param, checked for its dtype; NULL after ln_error. */
static ocl_device *optim_device(const ln_tensor *param, const char *op) {
  if (!ln_dtype_is_float(param->dtype))
    return ln_error("%s: the OpenCL kernel takes float tensors, got %s", op,
                    ln_dtype_name(param->dtype)), NULL;
  ocl_device *d = ocl_device_of(param->storage);
  if (d && ocl_check_dtype(d, param->dtype, op) != LN_OK) return NULL;
  return d;
}

/* A tensor argument as (buffer, element offset); a missing one passes
** param's buffer, which the kernel then leaves alone. */
static void tensor_arg(ocl_call *c, const ln_tensor *t, const ln_tensor *param) {
  ocl_arg_mem(c, t ? t : param);
  ocl_arg_long(c, t ? t->offset : 0);
}

int ocl_sgd_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *buf,
                 const ln_optim_step *s) {
  ocl_device *d = optim_device(param, "sgd_step");
  ocl_call c;
  if (!d || ocl_begin(&c, d, param->dtype, "sgd_step") != LN_OK) return LN_ERR;
  ln_dtype dt = param->dtype;
  bool use_buf = s->momentum != 0 && buf;
  int64_t n = ln_tensor_numel(param);
  ocl_arg_long(&c, n);
  ocl_arg_real(&c, dt, s->weight_decay);
  ocl_arg_real(&c, dt, s->momentum);
  ocl_arg_real(&c, dt, 1 - s->dampening);
  ocl_arg_real(&c, dt, -s->lr);
  ocl_arg_int(&c, use_buf);
  ocl_arg_int(&c, s->first_step);
  ocl_arg_int(&c, s->nesterov);
  tensor_arg(&c, param, param);
  tensor_arg(&c, grad, param);
  tensor_arg(&c, use_buf ? buf : NULL, param);
  return ocl_run(&c, n);
}

int ocl_adam_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *m,
                  ln_tensor *v, ln_tensor *vmax, const ln_optim_step *s) {
  ocl_device *d = optim_device(param, "adam_step");
  ocl_call c;
  if (!d || ocl_begin(&c, d, param->dtype, "adam_step") != LN_OK) return LN_ERR;
  ln_dtype dt = param->dtype;
  int64_t n = ln_tensor_numel(param);
  double t = (double)s->step;
  ocl_arg_long(&c, n);
  ocl_arg_real(&c, dt, s->decoupled ? 0 : s->weight_decay);
  ocl_arg_real(&c, dt, s->decoupled ? 1 - s->lr * s->weight_decay : 1);
  ocl_arg_real(&c, dt, s->beta1);
  ocl_arg_real(&c, dt, 1 - s->beta1);
  ocl_arg_real(&c, dt, s->beta2);
  ocl_arg_real(&c, dt, 1 - s->beta2);
  ocl_arg_real(&c, dt, sqrt(1 - pow(s->beta2, t)));
  ocl_arg_real(&c, dt, -(s->lr / (1 - pow(s->beta1, t))));
  ocl_arg_real(&c, dt, s->eps);
  ocl_arg_int(&c, s->decoupled && s->lr * s->weight_decay != 0);
  ocl_arg_int(&c, vmax != NULL);
  tensor_arg(&c, param, param);
  tensor_arg(&c, grad, param);
  tensor_arg(&c, m, param);
  tensor_arg(&c, v, param);
  tensor_arg(&c, vmax, param);
  return ocl_run(&c, n);
}

int ocl_rmsprop_step(ln_tensor *param, const ln_tensor *grad,
                     ln_tensor *square_avg, ln_tensor *buf,
                     ln_tensor *grad_avg, const ln_optim_step *s) {
  ocl_device *d = optim_device(param, "rmsprop_step");
  ocl_call c;
  if (!d || ocl_begin(&c, d, param->dtype, "rmsprop_step") != LN_OK)
    return LN_ERR;
  ln_dtype dt = param->dtype;
  bool use_buf = s->momentum > 0 && buf, centered = s->centered && grad_avg;
  int64_t n = ln_tensor_numel(param);
  ocl_arg_long(&c, n);
  ocl_arg_real(&c, dt, s->weight_decay);
  ocl_arg_real(&c, dt, s->beta2);
  ocl_arg_real(&c, dt, 1 - s->beta2);
  ocl_arg_real(&c, dt, s->eps);
  ocl_arg_real(&c, dt, s->momentum);
  ocl_arg_real(&c, dt, -s->lr);
  ocl_arg_int(&c, use_buf);
  ocl_arg_int(&c, centered);
  tensor_arg(&c, param, param);
  tensor_arg(&c, grad, param);
  tensor_arg(&c, square_avg, param);
  tensor_arg(&c, use_buf ? buf : NULL, param);
  tensor_arg(&c, centered ? grad_avg : NULL, param);
  return ocl_run(&c, n);
}

int ocl_adagrad_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *sum,
                     const ln_optim_step *s) {
  ocl_device *d = optim_device(param, "adagrad_step");
  ocl_call c;
  if (!d || ocl_begin(&c, d, param->dtype, "adagrad_step") != LN_OK)
    return LN_ERR;
  ln_dtype dt = param->dtype;
  int64_t n = ln_tensor_numel(param);
  ocl_arg_long(&c, n);
  ocl_arg_real(&c, dt, s->weight_decay);
  ocl_arg_real(&c, dt, s->eps);
  ocl_arg_real(&c, dt, -(s->lr / (1 + (double)(s->step - 1) * s->lr_decay)));
  tensor_arg(&c, param, param);
  tensor_arg(&c, grad, param);
  tensor_arg(&c, sum, param);
  return ocl_run(&c, n);
}
