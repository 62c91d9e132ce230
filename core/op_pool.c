/*
** op_pool.c: max_pool2d_with_indices, a primitive op: one CPU and one
** OpenCL kernel (kernels/pool.cl) that scan each window once for its
** maximum and where it was. The composite (pad, unfold, max over a
** reshaped copy) copied the input three times and made max pooling a
** fifth of a LeNet-5 step; this kernel reads it once. The backward is a
** scatter_add of the gradient to those places, so it runs on every backend
** and records like any op.
*/
#include "op.h"
#include "shape.h"

/* The op's parameters as Lua gives them. */
typedef struct pool_params {
  int64_t kernel_size[2], stride[2], padding[2], dilation[2];
  bool ceil_mode;
} pool_params;

/* What the kernels get (longs only, as kernels/pool.cl declares it): the
** window geometry and the output's H and W. */
typedef struct pool_geometry {
  int64_t kernel_size[2], stride[2], padding[2], dilation[2];
  int64_t out[2];
} pool_geometry;

#define PP(f) LN_P(pool_params, f)

static const ln_param pool_param_list[] = {
  {"kernel_size", LN_PARAM_SIZES, PP(kernel_size), .count = 2, .required = true},
  {"stride", LN_PARAM_SIZES, PP(stride), .count = 2, .def = 0}, /* 0: kernel_size */
  {"padding", LN_PARAM_SIZES, PP(padding), .count = 2, .def = 0},
  {"dilation", LN_PARAM_SIZES, PP(dilation), .count = 2, .def = 1},
  {"ceil_mode", LN_PARAM_BOOL, PP(ceil_mode), .def = 0},
  {NULL},
};

/* ---- the CPU kernel: out and idx (0-based plane positions) per window ---- */

#define MAX_POOL(T)                                                           \
  static void max_pool_##T(T *out, int64_t *idx, const T *x,                  \
                           const ln_tensor *xt, const pool_geometry *p) {       \
    int64_t nc = xt->shape[0] * xt->shape[1], c1 = xt->shape[1];              \
    int64_t h = xt->shape[2], w = xt->shape[3];                               \
    int64_t oh = p->out[0], ow = p->out[1];                                   \
    _Pragma("omp parallel for if (nc * oh * ow > 16384)")                     \
    for (int64_t plane = 0; plane < nc; plane++) {                            \
      const T *xp = x + (plane / c1) * xt->stride[0] +                        \
                    (plane % c1) * xt->stride[1];                             \
      for (int64_t i = 0; i < oh; i++) {                                      \
        for (int64_t j = 0; j < ow; j++) {                                    \
          int64_t top = i * p->stride[0] - p->padding[0];                     \
          int64_t left = j * p->stride[1] - p->padding[1];                    \
          T best = 0;                                                         \
          int64_t at = -1;                                                    \
          for (int64_t a = 0; a < p->kernel_size[0]; a++) {                   \
            int64_t r = top + a * p->dilation[0];                             \
            if (r < 0 || r >= h) continue;                                    \
            for (int64_t b = 0; b < p->kernel_size[1]; b++) {                 \
              int64_t col = left + b * p->dilation[1];                        \
              if (col < 0 || col >= w) continue;                              \
              T v = xp[r * xt->stride[2] + col * xt->stride[3]];              \
              /* the first maximum; a NaN wins and stays, as in PyTorch */    \
              if (at < 0 || v > best || (v != v && best == best)) {           \
                best = v;                                                     \
                at = r * w + col;                                             \
              }                                                               \
            }                                                                 \
          }                                                                   \
          out[(plane * oh + i) * ow + j] = best;                              \
          idx[(plane * oh + i) * ow + j] = at;                                \
        }                                                                     \
      }                                                                       \
    }                                                                         \
  }

MAX_POOL(float)
MAX_POOL(double)

static int cpu_max_pool(const ln_kernel_args *a) {
  const ln_tensor *o = a->out[0], *x = a->in[0];
  int64_t *idx = ln_tensor_data(a->out[1]);
  if (o->dtype == LN_FLOAT32)
    max_pool_float(ln_tensor_data(o), idx, ln_tensor_data(x), x, a->params);
  else
    max_pool_double(ln_tensor_data(o), idx, ln_tensor_data(x), x, a->params);
  return LN_OK;
}

static const ln_kernel max_pool_kernel = {
  .name = "max_pool2d", .cpu = cpu_max_pool, .opencl = "max_pool2d",
};

/* ---- front end ----------------------------------------------------------- */

/* PyTorch's output size along one dim, or an error naming the sizes. */
static int out_size(int64_t len, int64_t k, int64_t s, int64_t pad, int64_t d,
                    bool ceil, int64_t *n) {
  if (k < 1 || s < 1 || d < 1 || pad < 0 || k > (1 << 20) || s > (1 << 20) ||
      d > (1 << 20) || pad > (1 << 20))
    return ln_error("max_pool2d: kernel_size, stride and dilation must be "
                    "positive and padding non-negative (at most 2^20)");
  int64_t eff = d * (k - 1) + 1;
  if (2 * pad > eff)
    return ln_error("max_pool2d: padding %lld must be at most half of the "
                    "kernel (%lld with dilation)", (long long)pad,
                    (long long)eff);
  int64_t span = len + 2 * pad - eff;
  if (span < 0)
    return ln_error("max_pool2d: the kernel (%lld with dilation) is larger "
                    "than the padded input (%lld)", (long long)eff,
                    (long long)(len + 2 * pad));
  *n = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (*n - 1) * s >= len + pad) (*n)--; /* the last window starts
                                                   inside input or left pad */
  return LN_OK;
}

/* dx = zeros, with g added at the places the forward picked. */
static int max_pool_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  ln_tensor *idx = ln_node_saved(n, 0);
  if (!idx) return LN_ERR;
  int64_t planes = x->shape[0] * x->shape[1];
  int64_t flat_in[2] = {planes, x->shape[2] * x->shape[3]};
  int64_t flat_out[2] = {planes, gout->shape[2] * gout->shape[3]};
  ln_scope s = {0};
  ln_tensor *dx = LN_TMP(&s, ln_zeros(2, flat_in, gout->dtype, ln_tensor_device(gout)));
  ln_tensor *i2 = LN_TMP(&s, ln_reshape(idx, 2, flat_out));
  ln_tensor *g2 = LN_TMP(&s, ln_reshape(gout, 2, flat_out));
  if (ln_scatter_add_(dx, 1, i2, g2) != LN_OK) goto fail;
  LN_GRAD(&s, gin[0], ln_reshape(dx, x->ndim, x->shape));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int run_max_pool(ln_tensor *const *in, const void *params,
                        ln_tensor **out) {
  ln_tensor *x = in[0];
  const pool_params *q = params;
  pool_geometry p;
  char s1[LN_SHAPE_STRLEN];
  if (x->ndim != 4)
    return ln_error("max_pool2d: expected a 4-dim input (N, C, H, W), got "
                    "shape %s", ln_shape_str(x->ndim, x->shape, s1, sizeof s1));
  if (x->dtype != LN_FLOAT32 && x->dtype != LN_FLOAT64)
    return ln_error("max_pool2d: expected a float32 or float64 input, got %s",
                    ln_dtype_name(x->dtype));
  for (int i = 0; i < 2; i++) {
    p.kernel_size[i] = q->kernel_size[i];
    p.stride[i] = q->stride[i] ? q->stride[i] : q->kernel_size[i];
    p.padding[i] = q->padding[i];
    p.dilation[i] = q->dilation[i];
    if (out_size(x->shape[2 + i], p.kernel_size[i], p.stride[i],
                 p.padding[i], p.dilation[i], q->ceil_mode, &p.out[i]) != LN_OK)
      return LN_ERR;
  }
  int64_t shape[4] = {x->shape[0], x->shape[1], p.out[0], p.out[1]};
  ln_scope s = {0};
  ln_tensor *vals = LN_TMP(&s, ln_empty(4, shape, x->dtype, ln_tensor_device(x)));
  ln_tensor *idx = LN_TMP(&s, ln_empty(4, shape, LN_INT64, ln_tensor_device(x)));
  ln_tensor *outs[2] = {vals, idx};
  const ln_tensor *ins[1] = {x};
  ln_kernel_args a = {.out = outs, .nout = 2, .in = ins, .nin = 1,
                      .params = &p, .params_size = sizeof p,
                      .work = ln_tensor_numel(vals)};
  if (ln_tensor_numel(vals) && ln_kernel_run(&max_pool_kernel, &a) != LN_OK)
    goto fail;
  ln_node *node;
  if (ln_record(&node, vals, "MaxPool2DBackward", max_pool_backward, 1, &x) != LN_OK ||
      ln_node_save(node, idx) != LN_OK)
    goto fail;
  out[0] = ln_tensor_retain(vals);
  out[1] = ln_tensor_retain(idx);
  out[2] = NULL;
  ln_scope_end(&s);
  return LN_OK;
fail:
  ln_scope_end(&s);
  return LN_ERR;
}

LN_OP_ROW(max_pool2d_with_indices) = {
  .name = "max_pool2d_with_indices",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = pool_param_list,
  .params_size = sizeof(pool_params),
  .where = LN_OP_FUNCTION,
  .index_outputs = 1u << 1,
  .run = run_max_pool,
};
