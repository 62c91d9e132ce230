/*
** op_unfold.c: unfold, the sliding windows of one dim as a strided view
** (PyTorch's Tensor.unfold, with a dilation), and its backward, the
** primitive unfold_backward that sums each window back where it came from.
** Convolution and pooling compose from these and pad (op_pad.c).
*/
#include <omp.h>
#include <string.h>

#include "backend.h"
#include "cpu.h"
#include "op.h"
#include "shape.h"

typedef struct unfold_params {
  int64_t dim, size, step, dilation;
} unfold_params;

static const ln_param unfold_param_list[] = {
  {"dimension", LN_PARAM_DIM, LN_P(unfold_params, dim)},
  {"size", LN_PARAM_INT, LN_P(unfold_params, size)},
  {"step", LN_PARAM_INT, LN_P(unfold_params, step), .def = 1},
  {"dilation", LN_PARAM_INT, LN_P(unfold_params, dilation), .def = 1},
  {NULL},
};

/* How many windows of `size` elements, `dilation` apart, fit in n with
** starts `step` apart; errors name the op and the sizes. */
static int count_windows(const char *op, int64_t n, const unfold_params *p,
                         int64_t *count) {
  if (p->size < 1 || p->step < 1 || p->dilation < 1)
    return ln_error("%s: size, step and dilation must be positive, got %lld, "
                    "%lld and %lld", op, (long long)p->size,
                    (long long)p->step, (long long)p->dilation);
  if (n < 1 || p->size - 1 > (n - 1) / p->dilation) /* span > n, no overflow */
    return ln_error("%s: a window of size %lld (dilation %lld) does not fit "
                    "in dim %lld of size %lld", op, (long long)p->size,
                    (long long)p->dilation, (long long)p->dim + 1,
                    (long long)n);
  *count = (n - p->dilation * (p->size - 1) - 1) / p->step + 1;
  return LN_OK;
}

/* ---- unfold_backward: out[.., i, ..] = sum of g over the windows that
** hold element i ---------------------------------------------------------- */

/* The CPU kernel: each output element gathers the window entries that
** read it, so threads never write the same element. out is contiguous,
** of the unfolded tensor's shape; g has any strides, out's shape with
** dim's size the window count, and the window dim last. */
/* out (contiguous, the unfolded tensor's shape) from g (any strides; out's
** shape with dim's size the window count, and the window dim last). */
#define UNFOLD_BACKWARD(T)                                                    \
  static void unfold_backward_##T(T *out, const ln_tensor *o,                 \
                                  const T *g, const ln_tensor *gt,            \
                                  const unfold_params *p) {                   \
    int dim = (int)p->dim, nd = o->ndim;                                      \
    int64_t numel = ln_tensor_numel(o), nwin = gt->shape[dim];                \
    int64_t kstride = gt->stride[nd];                                         \
    CPU_FOR(numel > 32768 ? omp_get_max_threads() : 1, e, numel, {            \
      int64_t rest = e, base = 0, i = 0;                             \
      for (int d = nd - 1; d >= 0; d--) {                                     \
        int64_t c = rest % o->shape[d];                                       \
        rest /= o->shape[d];                                                  \
        if (d == dim) i = c;                                                  \
        else base += c * gt->stride[d];                                       \
      }                                                                       \
      double s = 0;                                                           \
      for (int64_t k = 0; k < p->size; k++) {                                 \
        int64_t j = i - k * p->dilation;                                      \
        if (j < 0) break;                                                     \
        if (j % p->step || j / p->step >= nwin) continue;                     \
        s += g[base + (j / p->step) * gt->stride[dim] + k * kstride];         \
      }                                                                       \
      out[e] = (T)s;                                                          \
    });                                                                       \
  }

UNFOLD_BACKWARD(float)
UNFOLD_BACKWARD(double)

static int cpu_unfold_backward(const ln_kernel_args *a) {
  const ln_tensor *o = a->out[0], *g = a->in[0];
  if (o->dtype == LN_FLOAT32)
    unfold_backward_float(ln_tensor_data(o), o, ln_tensor_data(g) , g,
                          a->params);
  else
    unfold_backward_double(ln_tensor_data(o), o, ln_tensor_data(g), g,
                           a->params);
  return LN_OK;
}

static ln_tensor *unfold_backward(ln_tensor *g, int ndim,
                                  const int64_t *shape, const unfold_params *p);

ln_tensor *ln_unfold_backward(ln_tensor *g, int ndim, const int64_t *shape,
                              int dim, int64_t size, int64_t step,
                              int64_t dilation) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  unfold_params p = {dim, size, step, dilation};
  int64_t count;
  if (ndim < 1 || ndim >= LN_MAX_DIMS || dim < 0 || dim >= ndim)
    return ln_error("unfold_backward: dim %d is out of range for %d dims",
                    dim + 1, ndim), NULL;
  if (ln_check_sizes("unfold_backward", ndim, shape) != LN_OK ||
      count_windows("unfold_backward", shape[dim], &p, &count) != LN_OK)
    return NULL;
  bool ok = g->ndim == ndim + 1 && g->shape[ndim] == size;
  for (int d = 0; ok && d < ndim; d++)
    ok = g->shape[d] == (d == dim ? count : shape[d]);
  if (!ok)
    return ln_error("unfold_backward: the gradient has shape %s, the "
                    "windows of %s are not that shape",
                    ln_shape_str(g->ndim, g->shape, s1, sizeof s1),
                    ln_shape_str(ndim, shape, s2, sizeof s2)), NULL;
  return unfold_backward(g, ndim, shape, &p);
}

static const ln_kernel unfold_backward_kernel = {
  .name = "unfold_backward",
  .cpu = cpu_unfold_backward,
  .opencl = "unfold_backward",
};

/* The gradient of unfold_backward is unfold of its own gradient. */
static int unfold_backward_backward(ln_node *n, ln_tensor *gout,
                                    ln_tensor **gin) {
  const unfold_params *p = n->params;
  gin[0] = ln_unfold(gout, (int)p->dim, p->size, p->step, p->dilation);
  return gin[0] ? LN_OK : LN_ERR;
}

static ln_tensor *unfold_backward(ln_tensor *g, int ndim, const int64_t *shape,
                                  const unfold_params *p) {
  if (g->dtype != LN_FLOAT32 && g->dtype != LN_FLOAT64)
    return ln_error("unfold_backward: expected a float32 or float64 "
                    "gradient, got %s", ln_dtype_name(g->dtype)), NULL;
  ln_tensor *out = ln_empty(ndim, shape, g->dtype, ln_tensor_device(g));
  if (!out) return NULL;
  const ln_tensor *in[] = {g};
  ln_kernel_args a = {.out = &out, .nout = 1, .in = in, .nin = 1,
                      .params = p, .params_size = sizeof *p,
                      .work = ln_tensor_numel(out)};
  if (ln_kernel_run(&unfold_backward_kernel, &a) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  ln_node *node;
  int rc = ln_record(&node, out, "UnfoldBackwardBackward",
                     unfold_backward_backward, 1, &g);
  if (rc == LN_OK) rc = ln_node_params(node, p, sizeof *p);
  return ln_recorded(out, rc);
}

/* ---- unfold ------------------------------------------------------------- */

static int unfold_grad(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  gin[0] = unfold_backward(gout, x->ndim, x->shape, n->params);
  return gin[0] ? LN_OK : LN_ERR;
}

ln_tensor *ln_unfold(ln_tensor *t, int dim, int64_t size, int64_t step,
                     int64_t dilation) {
  int d;
  if (t->ndim == 0)
    return ln_error("unfold: cannot unfold a 0-dim tensor"), NULL;
  if (ln_wrap_dim("unfold", dim, t->ndim, false, &d) != LN_OK) return NULL;
  if (t->ndim == LN_MAX_DIMS)
    return ln_error("unfold: tensors have at most %d dims", LN_MAX_DIMS), NULL;
  unfold_params p = {d, size, step, dilation};
  int64_t count;
  if (count_windows("unfold", t->shape[d], &p, &count) != LN_OK) return NULL;
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  memcpy(stride, t->stride, sizeof stride);
  shape[d] = count;
  /* a stride a single window or element never takes could overflow */
  stride[d] = count > 1 ? t->stride[d] * step : t->stride[d];
  shape[t->ndim] = size;
  stride[t->ndim] = size > 1 ? t->stride[d] * dilation : t->stride[d];
  ln_tensor *r = ln_view_raw(t, t->offset, t->ndim + 1, shape, stride);
  if (!r) return NULL;
  ln_node *node;
  int rc = ln_record(&node, r, "UnfoldBackward", unfold_grad, 1, &t);
  if (rc == LN_OK) rc = ln_node_params(node, &p, sizeof p);
  if (node) r->grad_view = true; /* in-place writes would miss t */
  return ln_recorded(r, rc);
}

static int run_unfold(ln_tensor *const *in, const void *params,
                      ln_tensor **out) {
  const unfold_params *p = params;
  out[0] = ln_unfold(in[0], (int)p->dim, p->size, p->step, p->dilation);
  return out[0] ? LN_OK : LN_ERR;
}

LN_OP_ROW(unfold) = {
  .name = "unfold",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = unfold_param_list,
  .params_size = sizeof(unfold_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD,
  .run = run_unfold,
};
