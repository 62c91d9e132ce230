/*
** op_pool.c: max_pool2d_with_indices, a primitive op: one CPU and one
** OpenCL kernel (kernels/pool.cl) that scan each window once for its
** maximum and where it was. The composite (pad, unfold, max over a
** reshaped copy) copied the input three times and made max pooling a
** fifth of a LeNet-5 step; this kernel reads it once, and windows that
** lie inside the image (no padding, no dilation: LeNet's 2x2) skip the
** bounds checks. The backward is a primitive too: each plane of the
** input's gradient zeroed, then the output's gradient added at the places
** the forward picked (the generic zeros + scatter_add took three passes).
*/
#include <string.h>

#include "cpu.h"
#include "op.h"
#include "shape.h"

/* The op's parameters as Lua gives them. */
typedef struct pool_params {
  int64_t kernel_size[2], stride[2], padding[2], dilation[2];
  bool ceil_mode;
  bool return_indices;       /* false: the values only (F.max_pool2d's
                                default), no 1-based copy for Lua */
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
  {"return_indices", LN_PARAM_BOOL, PP(return_indices), .def = 1},
  {NULL},
};

/* ---- the CPU kernels: out and idx (0-based plane positions) per window -- */

/* Work (window elements) below which a parallel region costs more than
** it saves: about 100 us of one core. */
#define POOL_PARALLEL (INT64_C(1) << 20)

/* Threads for work: one below POOL_PARALLEL, else those the others' load
** leaves us (core/cpu_load.c). */
static int pool_threads(int64_t work) {
  return work > POOL_PARALLEL ? ln_cpu_threads_now() : 1;
}

/* Whether every window lies inside the image: no padding, no dilation,
** the last window ending at or before the edge. */
static bool windows_inside(const pool_geometry *p, int64_t h, int64_t w) {
  return p->padding[0] == 0 && p->padding[1] == 0 && p->dilation[0] == 1 &&
         p->dilation[1] == 1 && (p->out[0] - 1) * p->stride[0] + p->kernel_size[0] <= h &&
         (p->out[1] - 1) * p->stride[1] + p->kernel_size[1] <= w;
}

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v4fu __attribute__((vector_size(16), aligned(4), may_alias));

/* The windows' first maxima so far, best and at, updated with the values
** v at the positions pos: v wins where it is larger, or a NaN (NaN stays). */
#define POOL_STEP(best, at, v, pos)                                           \
  do {                                                                        \
    v4i take_ = ((v) > (best)) | (((v) != (v)) & ((best) == (best)));         \
    (best) = (v4f)(((v4i)(v) & take_) | ((v4i)(best) & ~take_));              \
    (at) = ((pos) & take_) | ((at) & ~take_);                                 \
  } while (0)

/* Row i of the 2x2, stride-2 windows of a float plane whose rows are
** contiguous and hold every window (xr: the row's top left), four windows
** at a time with SSE2 vectors, the last four ending at the row's end
** (overlapping the ones before); returns how many it did. LeNet's pools. */
static int64_t max_pool_2x2_row(float *out, int64_t *idx, const float *xr,
                                int64_t s2, int64_t top, int64_t w,
                                int64_t ow) {
  if ((top + 2) * w > INT32_MAX || ow < 4) return 0;
  const float *xr1 = xr + s2;
  const v4i even = {0, 2, 4, 6};
  for (int64_t next = 0, j; next < ow; next = j + 4) {
    j = next + 4 <= ow ? next : ow - 4;
    v4f a0 = *(const v4fu *)(xr + 2 * j), a1 = *(const v4fu *)(xr + 2 * j + 4);
    v4f b0 = *(const v4fu *)(xr1 + 2 * j), b1 = *(const v4fu *)(xr1 + 2 * j + 4);
    v4i pos = (int32_t)(top * w + 2 * j) + even;
    v4f best = __builtin_shufflevector(a0, a1, 0, 2, 4, 6);
    v4i at = pos;
    POOL_STEP(best, at, __builtin_shufflevector(a0, a1, 1, 3, 5, 7), pos + 1);
    POOL_STEP(best, at, __builtin_shufflevector(b0, b1, 0, 2, 4, 6), pos + (int32_t)w);
    POOL_STEP(best, at, __builtin_shufflevector(b0, b1, 1, 3, 5, 7), pos + (int32_t)w + 1);
    *(v4fu *)(out + j) = best;
    for (int l = 0; l < 4; l++) idx[j + l] = at[l];
  }
  return ow;
}

/* The first maximum of each window; a NaN wins and stays, as in PyTorch.
** Windows inside the image skip the bounds checks (and 2x2 windows of
** float rows take max_pool_2x2_row). */
#define MAX_POOL(T, IS_FLOAT)                                                 \
  static void max_pool_plane_##T(T *out, int64_t *idx, const T *xp,           \
                                 const ln_tensor *xt, const pool_geometry *p, \
                                 bool inside) {                               \
    int64_t h = xt->shape[2], w = xt->shape[3];                               \
    int64_t s2 = xt->stride[2], s3 = xt->stride[3];                           \
    int64_t oh = p->out[0], ow = p->out[1];                                   \
    int64_t kh = p->kernel_size[0], kw = p->kernel_size[1];                   \
    bool by4 = IS_FLOAT && inside && s3 == 1 && kh == 2 && kw == 2 &&         \
               p->stride[0] == 2 && p->stride[1] == 2;                        \
    for (int64_t i = 0; i < oh; i++) {                                        \
      int64_t j0 = by4 ? max_pool_2x2_row((float *)(void *)(out + i * ow),    \
                                          idx + i * ow,                       \
                                          (const float *)(const void *)(xp +  \
                                            2 * i * s2),                      \
                                          s2, 2 * i, w, ow)                   \
                       : 0;                                                   \
      for (int64_t j = j0; j < ow; j++) {                                     \
        int64_t top = i * p->stride[0] - p->padding[0];                       \
        int64_t left = j * p->stride[1] - p->padding[1];                      \
        T best = 0;                                                           \
        int64_t at = -1;                                                      \
        if (inside) {                                                         \
          best = xp[top * s2 + left * s3];                                    \
          at = top * w + left;                                                \
          for (int64_t a = 0; a < kh; a++)                                    \
            for (int64_t b = 0; b < kw; b++) {                                \
              T v = xp[(top + a) * s2 + (left + b) * s3];                     \
              if (v > best || (v != v && best == best)) {                     \
                best = v;                                                     \
                at = (top + a) * w + left + b;                                \
              }                                                               \
            }                                                                 \
        } else {                                                              \
          for (int64_t a = 0; a < kh; a++) {                                  \
            int64_t r = top + a * p->dilation[0];                             \
            if (r < 0 || r >= h) continue;                                    \
            for (int64_t b = 0; b < kw; b++) {                                \
              int64_t col = left + b * p->dilation[1];                        \
              if (col < 0 || col >= w) continue;                              \
              T v = xp[r * s2 + col * s3];                                    \
              if (at < 0 || v > best || (v != v && best == best)) {           \
                best = v;                                                     \
                at = r * w + col;                                             \
              }                                                               \
            }                                                                 \
          }                                                                   \
        }                                                                     \
        out[i * ow + j] = best;                                               \
        idx[i * ow + j] = at;                                                 \
      }                                                                       \
    }                                                                         \
  }                                                                           \
                                                                              \
  static void max_pool_##T(T *out, int64_t *idx, const T *x,                  \
                           const ln_tensor *xt, const pool_geometry *p) {     \
    int64_t nc = xt->shape[0] * xt->shape[1], c1 = xt->shape[1];              \
    int64_t plane = p->out[0] * p->out[1];                                    \
    bool inside = windows_inside(p, xt->shape[2], xt->shape[3]);              \
    int64_t work = nc * plane * p->kernel_size[0] * p->kernel_size[1];        \
    int nt = pool_threads(work);                                              \
    CPU_FOR(nt, pl, nc, {                                                     \
      max_pool_plane_##T(out + pl * plane, idx + pl * plane,                  \
                         x + (pl / c1) * xt->stride[0] +                      \
                           (pl % c1) * xt->stride[1],                         \
                         xt, p, inside);                                      \
    });                                                                       \
  }

MAX_POOL(float, true)
MAX_POOL(double, false)

/* dx[n][c] = zeros, plus g[n][c][i][j] at idx[n][c][i][j] (0-based plane
** positions) for every output; g has any strides, dx and idx are fresh. */
#define MAX_POOL_BACKWARD(T)                                                  \
  static void max_pool_backward_##T(T *dx, const ln_tensor *dt, const T *g,   \
                                    const ln_tensor *gt, const int64_t *idx) {\
    int64_t nc = dt->shape[0] * dt->shape[1], c1 = dt->shape[1];              \
    int64_t in = dt->shape[2] * dt->shape[3];                                 \
    int64_t oh = gt->shape[2], ow = gt->shape[3];                             \
    int nt = pool_threads(nc * (in + oh * ow));                               \
    CPU_FOR(nt, pl, nc, {                                                     \
      T *d = dx + pl * in;                                                    \
      const T *gp = g + (pl / c1) * gt->stride[0] + (pl % c1) * gt->stride[1];\
      const int64_t *ip = idx + pl * oh * ow;                                 \
      memset(d, 0, (size_t)in * sizeof *d);                                   \
      for (int64_t i = 0; i < oh; i++)                                        \
        for (int64_t j = 0; j < ow; j++)                                      \
          d[ip[i * ow + j]] += gp[i * gt->stride[2] + j * gt->stride[3]];     \
    });                                                                       \
  }

MAX_POOL_BACKWARD(float)
MAX_POOL_BACKWARD(double)

static int cpu_max_pool(const ln_kernel_args *a) {
  const ln_tensor *o = a->out[0], *x = a->in[0];
  int64_t *idx = ln_tensor_data(a->out[1]);
  if (o->dtype == LN_FLOAT32)
    max_pool_float(ln_tensor_data(o), idx, ln_tensor_data(x), x, a->params);
  else
    max_pool_double(ln_tensor_data(o), idx, ln_tensor_data(x), x, a->params);
  return LN_OK;
}

static int cpu_max_pool_backward(const ln_kernel_args *a) {
  const ln_tensor *dx = a->out[0], *g = a->in[0];
  const int64_t *idx = ln_tensor_data(a->in[1]);
  if (dx->dtype == LN_FLOAT32)
    max_pool_backward_float(ln_tensor_data(dx), dx, ln_tensor_data(g), g, idx);
  else
    max_pool_backward_double(ln_tensor_data(dx), dx, ln_tensor_data(g), g, idx);
  return LN_OK;
}

static const ln_kernel max_pool_kernel = {
  .name = "max_pool2d", .cpu = cpu_max_pool, .opencl = "max_pool2d",
};
static const ln_kernel max_pool_backward_kernel = {
  .name = "max_pool2d_backward", .cpu = cpu_max_pool_backward,
  .opencl = "max_pool2d_backward",
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

/* dx = zeros, with g added at the places the forward picked. The node
** keeps the geometry, for the OpenCL kernel's search of the windows. */
static int max_pool_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  ln_tensor *idx = ln_node_saved(n, 0);
  if (!idx) return LN_ERR;
  ln_tensor *dx = ln_empty(x->ndim, x->shape, gout->dtype, ln_tensor_device(gout));
  if (!dx) return LN_ERR;
  const ln_tensor *ins[2] = {gout, idx};
  ln_kernel_args a = {.out = &dx, .nout = 1, .in = ins, .nin = 2,
                      .params = n->params, .params_size = sizeof(pool_geometry),
                      .work = ln_tensor_numel(dx)};
  if (a.work && ln_kernel_run(&max_pool_backward_kernel, &a) != LN_OK) {
    ln_tensor_release(dx);
    return LN_ERR;
  }
  gin[0] = dx;
  return LN_OK;
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
      ln_node_params(node, &p, sizeof p) != LN_OK || ln_node_save(node, idx) != LN_OK)
    goto fail;
  out[0] = ln_tensor_retain(vals);
  out[1] = q->return_indices ? ln_tensor_retain(idx) : NULL;
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
