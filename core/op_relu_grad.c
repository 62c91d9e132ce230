/*
** op_relu_grad.c: ReLU's backward, g where y > 0 else 0, as one primitive
** kernel (CPU here, OpenCL in kernels/relu_grad.cl). Through the generic
** ops it took three passes and two temporaries (a float64 comparison into
** a bool mask, a zero, a where): a fifth of a LeNet-5 training step. Not
** recorded: under create_graph relu_backward keeps its recorded path.
*/
#include "cpu.h"
#include "op.h"
#include "relu_grad.h"
#include "shape.h"

/* Elements below which a parallel region costs more than it saves. */
#define RELU_GRAD_PARALLEL (INT64_C(1) << 20)

/* out = g & (y > 0): whole vectors of the baseline's 16 bytes by masks (a
** select the compiler would not make of the branch), the rest one by one. */
#define RELU_GRAD(T, IT)                                                      \
  static void relu_grad_##T(T *restrict out, const T *restrict g,             \
                            const T *restrict y, int64_t n) {                 \
    typedef T vt __attribute__((vector_size(16), aligned(sizeof(T))));        \
    typedef IT vm __attribute__((vector_size(16)));                           \
    enum { L = 16 / sizeof(T) };                                              \
    int64_t whole = n / L;                                                    \
    int nt = n > RELU_GRAD_PARALLEL ? ln_cpu_threads_now() : 1;               \
    CPU_FOR(nt, v, whole, {                                                   \
      vt yv = *(const vt *)(y + v * L), gv = *(const vt *)(g + v * L);        \
      *(vt *)(out + v * L) = (vt)((vm)gv & (yv > 0));                         \
    });                                                                       \
    for (int64_t i = whole * L; i < n; i++) out[i] = y[i] > 0 ? g[i] : 0;     \
  }

RELU_GRAD(float, int32_t)
RELU_GRAD(double, int64_t)

/* out = in[0] where in[1] > 0, all contiguous. */
static int cpu_relu_grad(const ln_kernel_args *a) {
  const ln_tensor *o = a->out[0], *g = a->in[0], *y = a->in[1];
  int64_t n = ln_tensor_numel(o);
  if (o->dtype == LN_FLOAT32)
    relu_grad_float(ln_tensor_data(o), ln_tensor_data(g), ln_tensor_data(y), n);
  else
    relu_grad_double(ln_tensor_data(o), ln_tensor_data(g), ln_tensor_data(y), n);
  return LN_OK;
}

static const ln_kernel relu_grad_kernel = {
  .name = "relu_backward", .cpu = cpu_relu_grad, .opencl = "relu_grad",
};

bool ln_relu_grad_takes(const ln_tensor *g, const ln_tensor *y) {
  return (g->dtype == LN_FLOAT32 || g->dtype == LN_FLOAT64) &&
         g->dtype == y->dtype && ln_same_shape(g, y) &&
         ln_device_equal(ln_tensor_device(g), ln_tensor_device(y));
}

ln_tensor *ln_relu_grad(ln_tensor *g, ln_tensor *y) {
  ln_scope s = {0};
  ln_tensor *gc = LN_TMP(&s, ln_contiguous(g));
  ln_tensor *yc = LN_TMP(&s, ln_contiguous(y));
  ln_tensor *out = LN_TMP(&s, ln_empty(g->ndim, g->shape, g->dtype,
                                       ln_tensor_device(g)));
  const ln_tensor *ins[2] = {gc, yc};
  ln_kernel_args a = {.out = &out, .nout = 1, .in = ins, .nin = 2,
                      .work = ln_tensor_numel(out)};
  if (a.work && ln_kernel_run(&relu_grad_kernel, &a) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}
