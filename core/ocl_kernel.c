/*
** ocl_kernel.c: launching a primitive op's OpenCL kernel from its row
** (core/op.h), with the arguments every such kernel takes: for each output
** then each input, its buffer and its view_t (common.cl), then the op's
** parameter struct by value. The program is the one of out[0]'s dtype.
*/
#include <string.h>

#include "ocl.h"
#include "op.h"

/* common.cl's view_t: a tensor's offset, dims, sizes and strides. */
typedef struct ocl_view {
  cl_long offset, ndim;
  cl_long size[OCL_MAX_DIMS];
  cl_long st[OCL_MAX_DIMS];
} ocl_view;

static void arg_tensor(ocl_call *c, const ln_tensor *t) {
  ocl_view v;
  memset(&v, 0, sizeof v);
  v.offset = t->offset;
  v.ndim = t->ndim;
  for (int d = 0; d < t->ndim; d++) {
    v.size[d] = t->shape[d];
    v.st[d] = t->stride[d];
  }
  ocl_arg_mem(c, t);
  ocl_arg(c, sizeof v, &v);
}

int ocl_kernel(const ln_kernel *k, const ln_kernel_args *a) {
  if (!k->opencl) return LN_NO_KERNEL;
  ocl_device *d = ocl_device_of(a->out[0]->storage);
  ln_dtype dt = a->out[0]->dtype;
  ocl_call c;
  if (ocl_check_dtype(d, dt, k->name) != LN_OK ||
      ocl_begin(&c, d, dt, k->opencl) != LN_OK)
    return LN_ERR;
  for (int i = 0; i < a->nout; i++) arg_tensor(&c, a->out[i]);
  for (int i = 0; i < a->nin; i++) arg_tensor(&c, a->in[i]);
  if (a->params_size) ocl_arg(&c, a->params_size, a->params);
  if (k->error_flag) {
    ocl_arg_buf(&c, d->flag);
    d->flag_pending = true;
  }
  return ocl_run(&c, a->work);
}
