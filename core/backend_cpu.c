/*
** backend_cpu.c: the CPU backend's table. Its entries live in cpu_*.c,
** one op family per file.
*/
#include "cpu.h"
#include "op.h"

/* A primitive op's CPU kernel is named in its row. */
static int cpu_kernel(const ln_kernel *k, const ln_kernel_args *a) {
  return k->cpu ? k->cpu(a) : LN_NO_KERNEL;
}

const ln_backend ln_backend_cpu = {
  .name = "cpu",
  .storage_alloc = cpu_storage_alloc,
  .storage_free = cpu_storage_free,
  .write = cpu_write,
  .read = cpu_read,
  .copy = cpu_copy,
  .fill = cpu_fill,
  .unary = cpu_unary,
  .binary = cpu_binary,
  .clamp = cpu_clamp,
  .leaky_relu = cpu_leaky_relu,
  .where = cpu_where,
  .reduce = cpu_reduce,
  .softmax = cpu_softmax,
  .gemm = cpu_gemm,
  .gather = cpu_gather,
  .scatter = cpu_scatter,
  .index_select = cpu_index_select,
  .index_add = cpu_index_add,
  .masked_select = cpu_masked_select,
  .sort = cpu_sort,
  .sgd_step = cpu_sgd_step,
  .adam_step = cpu_adam_step,
  .rmsprop_step = cpu_rmsprop_step,
  .adagrad_step = cpu_adagrad_step,
  .kernel = cpu_kernel,
};
