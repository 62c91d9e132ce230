/*
** op_im2col.c: the primitive pair under convolution. im2col copies the
** windows of a padded (N, C, H, W) input into columns (N, C*kh*kw, OH*OW)
** in one pass; col2im sums columns back into an image. Each is the other's
** backward (they are adjoint linear maps), so double backward comes free.
** conv2d, F.unfold, F.fold and conv_transpose2d (core/op_conv.c) run on
** them; before, pad + two unfolds + a permuting copy made the columns, and
** unfold_backward twice (a division per element and window) took them
** back: the hot spot of a LeNet-5 step.
*/
#include <string.h>

#include "im2col.h"
#include "cpu.h"
#include "op.h"
#include "shape.h"

/* ---- CPU kernels ---------------------------------------------------------- */

/* Elements below which a parallel region costs more than it saves (about
** 100 us of one core's copying). */
#define IM2COL_PARALLEL (INT64_C(1) << 18)

/* Threads for work: one below IM2COL_PARALLEL, else those the others'
** load leaves us (core/cpu_load.c). */
static int im2col_threads(int64_t work) {
  return work > IM2COL_PARALLEL ? ln_cpu_threads_now() : 1;
}

/* The window columns j in [*lo, *hi) of a row whose column j reads image
** column j*s + c0, that lie inside an image w wide (the rest read zeros). */
static void inside_cols(int64_t c0, int64_t s, int64_t w, int64_t ow,
                        int64_t *lo, int64_t *hi) {
  int64_t a = c0 >= 0 ? 0 : (-c0 + s - 1) / s;
  int64_t b = w - c0 > 0 ? (w - c0 + s - 1) / s : 0;
  *lo = a < ow ? a : ow;
  *hi = b < *lo ? *lo : b < ow ? b : ow;
}

/* cols[n][(c*kh + a)*kw + b][i*ow + j] = x[n][c][i*sh - ph + a*dh][j*sw - pw + b*dw]
** (zero outside the image); the columns inside it without a test each. */
#define IM2COL(T)                                                             \
  static void im2col_##T(T *cols, const T *x, const ln_tensor *xt,            \
                         const ln_im2col_geometry *g) {                       \
    int64_t n = xt->shape[0], c = xt->shape[1];                               \
    int64_t kh = g->kernel[0], kw = g->kernel[1];                             \
    int64_t oh = g->blocks[0], ow = g->blocks[1];                             \
    int64_t h = g->image[0], w = g->image[1], rows = n * c * kh * kw;         \
    int nt = im2col_threads(rows * oh * ow);                                  \
    CPU_FOR(nt, row, rows, {                                                  \
      int64_t b = row % kw, a = (row / kw) % kh, ci = (row / (kw * kh)) % c;  \
      int64_t ni = row / (kw * kh * c);                                       \
      const T *xp = x + ni * xt->stride[0] + ci * xt->stride[1];              \
      int64_t s2 = xt->stride[2], s3 = xt->stride[3], sw = g->stride[1];      \
      int64_t c0 = b * g->dilation[1] - g->pad[1], lo, hi;                    \
      inside_cols(c0, sw, w, ow, &lo, &hi);                                   \
      T *out = cols + row * oh * ow;                                          \
      for (int64_t i = 0; i < oh; i++) {                                      \
        int64_t r = i * g->stride[0] - g->pad[0] + a * g->dilation[0];        \
        T *o = out + i * ow;                                                  \
        if (r < 0 || r >= h) {                                                \
          for (int64_t j = 0; j < ow; j++) o[j] = 0;                          \
          continue;                                                           \
        }                                                                     \
        const T *xr = xp + r * s2;                                            \
        for (int64_t j = 0; j < lo; j++) o[j] = 0;                            \
        if (sw == 1 && s3 == 1 && hi > lo) {                                  \
          memcpy(o + lo, xr + lo + c0, (size_t)(hi - lo) * sizeof *o);        \
        } else {                                                              \
          for (int64_t j = lo; j < hi; j++) o[j] = xr[(j * sw + c0) * s3];    \
        }                                                                     \
        for (int64_t j = hi; j < ow; j++) o[j] = 0;                           \
      }                                                                       \
    });                                                                       \
  }

/* x[n][c] += every column entry that im2col took from it: each thread owns
** whole (n, c) planes, so the adds never race and need no division; the
** columns inside the image without a test each. */
#define COL2IM(T)                                                             \
  static void col2im_##T(T *x, const ln_tensor *xt, const T *cols,            \
                         const ln_tensor *ct, const ln_im2col_geometry *g) {  \
    int64_t planes = xt->shape[0] * xt->shape[1], c = xt->shape[1];           \
    int64_t kh = g->kernel[0], kw = g->kernel[1];                             \
    int64_t oh = g->blocks[0], ow = g->blocks[1];                             \
    int64_t h = g->image[0], w = g->image[1], sw = g->stride[1];              \
    int64_t cs0 = ct->stride[0], cs1 = ct->stride[1], cs2 = ct->stride[2];    \
    int nt = im2col_threads(planes * oh * ow * kh * kw);                      \
    CPU_FOR(nt, plane, planes, {                                              \
      T *xp = x + plane * h * w;                                              \
      memset(xp, 0, (size_t)(h * w) * sizeof *xp);                           \
      int64_t ni = plane / c, ci = plane % c;                                 \
      for (int64_t a = 0; a < kh; a++) {                                      \
        for (int64_t b = 0; b < kw; b++) {                                    \
          const T *src = cols + ni * cs0 + ((ci * kh + a) * kw + b) * cs1;    \
          int64_t c0 = b * g->dilation[1] - g->pad[1], lo, hi;                \
          inside_cols(c0, sw, w, ow, &lo, &hi);                               \
          for (int64_t i = 0; i < oh; i++) {                                  \
            int64_t r = i * g->stride[0] - g->pad[0] + a * g->dilation[0];    \
            if (r < 0 || r >= h) continue;                                    \
            T *xr = xp + r * w;                                               \
            const T *sr = src + i * ow * cs2;                                 \
            for (int64_t j = lo; j < hi; j++) xr[j * sw + c0] += sr[j * cs2]; \
          }                                                                   \
        }                                                                     \
      }                                                                       \
    });                                                                       \
  }

IM2COL(float)
IM2COL(double)
COL2IM(float)
COL2IM(double)

static int cpu_im2col(const ln_kernel_args *k) {
  const ln_tensor *o = k->out[0], *x = k->in[0];
  if (o->dtype == LN_FLOAT32)
    im2col_float(ln_tensor_data(o), ln_tensor_data(x), x, k->params);
  else
    im2col_double(ln_tensor_data(o), ln_tensor_data(x), x, k->params);
  return LN_OK;
}

static int cpu_col2im(const ln_kernel_args *k) {
  const ln_tensor *o = k->out[0], *c = k->in[0];
  if (o->dtype == LN_FLOAT32)
    col2im_float(ln_tensor_data(o), o, ln_tensor_data(c), c, k->params);
  else
    col2im_double(ln_tensor_data(o), o, ln_tensor_data(c), c, k->params);
  return LN_OK;
}

static const ln_kernel im2col_kernel = {
  .name = "im2col", .cpu = cpu_im2col, .opencl = "im2col",
};
static const ln_kernel col2im_kernel = {
  .name = "col2im", .cpu = cpu_col2im, .opencl = "col2im",
};

/* ---- front ends, each the other's backward -------------------------------- */

static int im2col_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin);
static int col2im_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin);

/* Runs kernel k into a fresh out of shape, then records name on it. */
static ln_tensor *run_recorded(const ln_kernel *k, ln_tensor *in, int ndim,
                               const int64_t *shape,
                               const ln_im2col_geometry *g, const char *name,
                               ln_backward_fn bw) {
  if (in->dtype != LN_FLOAT32 && in->dtype != LN_FLOAT64)
    return ln_error("%s: expected float32 or float64, got %s", k->name,
                    ln_dtype_name(in->dtype)), NULL;
  ln_tensor *out = ln_empty(ndim, shape, in->dtype, ln_tensor_device(in));
  if (!out) return NULL;
  const ln_tensor *ins[1] = {in};
  ln_kernel_args a = {.out = &out, .nout = 1, .in = ins, .nin = 1,
                      .params = g, .params_size = sizeof *g,
                      .work = ln_tensor_numel(out)};
  if (a.work && ln_kernel_run(k, &a) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  ln_node *node;
  int rc = ln_record(&node, out, name, bw, 1, &in);
  if (rc == LN_OK) rc = ln_node_params(node, g, sizeof *g);
  return ln_recorded(out, rc);
}

/* The callers (op_conv.c) checked the sizes (at most 2^20 each); these
** are the kernels' own needs. Windows past the image read zeros. */
static int check_geometry(const char *op, const ln_im2col_geometry *g) {
  for (int i = 0; i < 2; i++)
    if (g->kernel[i] < 1 || g->stride[i] < 1 || g->dilation[i] < 1 ||
        g->blocks[i] < 1 || g->image[i] < 1 || g->pad[i] < 0)
      return ln_error("%s: bad window geometry", op);
  return LN_OK;
}

ln_tensor *ln_im2col_geometry_run(ln_tensor *x, const ln_im2col_geometry *g) {
  if (check_geometry("im2col", g) != LN_OK) return NULL;
  int64_t shape[3] = {x->shape[0], x->shape[1] * g->kernel[0] * g->kernel[1],
                      g->blocks[0] * g->blocks[1]};
  if (ln_check_sizes("im2col", 3, shape) != LN_OK) return NULL;
  return run_recorded(&im2col_kernel, x, 3, shape, g, "Im2colBackward",
                      im2col_backward);
}

ln_tensor *ln_col2im_geometry_run(ln_tensor *cols, int64_t n, int64_t c,
                                  const ln_im2col_geometry *g) {
  if (check_geometry("col2im", g) != LN_OK) return NULL;
  int64_t shape[4] = {n, c, g->image[0], g->image[1]};
  if (ln_check_sizes("col2im", 4, shape) != LN_OK) return NULL;
  return run_recorded(&col2im_kernel, cols, 4, shape, g, "Col2imBackward",
                      col2im_backward);
}

static int im2col_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  gin[0] = ln_col2im_geometry_run(gout, x->shape[0], x->shape[1], n->params);
  return gin[0] ? LN_OK : LN_ERR;
}

static int col2im_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  gin[0] = ln_im2col_geometry_run(gout, n->params);
  return gin[0] ? LN_OK : LN_ERR;
}
