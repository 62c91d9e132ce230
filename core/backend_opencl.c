/*
** backend_opencl.c: the OpenCL backend's table. Its entries live in
** ocl_*.c, one concern per file (see ocl.h); core/device.c registers it
** as "opencl" when luann is built with OPENCL=1.
*/
#include "ocl.h"

const ln_backend ln_backend_opencl = {
  .name = "opencl",
  .storage_alloc = ocl_storage_alloc,
  .storage_free = ocl_storage_free,
  .write = ocl_write,
  .read = ocl_read,
  .copy = ocl_copy,
  .fill = ocl_fill,
  .unary = ocl_unary,
  .binary = ocl_binary,
  .clamp = ocl_clamp,
  .leaky_relu = ocl_leaky_relu,
  .where = ocl_where,
  .reduce = ocl_reduce,
  .softmax = ocl_softmax,
  .gemm = ocl_gemm,
  .gather = ocl_gather,
  .scatter = ocl_scatter,
  .index_select = ocl_index_select,
  .index_add = ocl_index_add,
  .masked_select = ocl_masked_select,
  .sort = ocl_sort,
  .sgd_step = ocl_sgd_step,
  .adam_step = ocl_adam_step,
  .rmsprop_step = ocl_rmsprop_step,
  .adagrad_step = ocl_adagrad_step,
  .kernel = ocl_kernel,
};
