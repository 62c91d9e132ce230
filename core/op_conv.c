/*
** op_conv.c: convolution as composites (the worked example of
** core/README.md). conv2d copies the windows of its padded input into
** columns once (im2col) and multiplies them with the weight in one batched
** GEMM over the groups; conv_transpose2d multiplies first and sums the
** columns back (col2im). Backward comes from those parts, on every
** backend. Stride-1 convolutions of one group and a weight that fits in
** cache (conv2d, so conv1d, and conv_transpose2d) run direct instead
** (core/op_conv_direct.c): no columns, and three ops that are each
** other's gradients.
*/
#include <string.h>

#include "conv_direct.h"
#include "im2col.h"
#include "luann_nn.h"
#include "op.h"
#include "shape.h"

ln_conv_params ln_conv_defaults(void) {
  return (ln_conv_params){.stride = {1, 1}, .dilation = {1, 1}, .groups = 1,
                          .kernel_size = {1, 1}};
}

/* ---- checks ------------------------------------------------------------- */

#define CONV_MAX_PARAM (INT64_C(1) << 20)

static int check_float(const char *op, const char *what, const ln_tensor *t,
                       const ln_tensor *like) {
  if (t->dtype != LN_FLOAT32 && t->dtype != LN_FLOAT64)
    return ln_error("%s: %s must be float32 or float64, got %s", op, what,
                    ln_dtype_name(t->dtype));
  if (like && t->dtype != like->dtype)
    return ln_error("%s: %s is %s but the input is %s", op, what,
                    ln_dtype_name(t->dtype), ln_dtype_name(like->dtype));
  return like ? ln_check_same_device(op, like, t) : LN_OK;
}

static int check_geometry(const char *op, const ln_conv_params *p,
                          bool transposed) {
  for (int i = 0; i < 2; i++) {
    if (p->stride[i] < 1 || p->dilation[i] < 1)
      return ln_error("%s: stride and dilation must be positive, got "
                      "(%lld,%lld) and (%lld,%lld)", op,
                      (long long)p->stride[0], (long long)p->stride[1],
                      (long long)p->dilation[0], (long long)p->dilation[1]);
    if (p->padding[i] < 0 || p->output_padding[i] < 0)
      return ln_error("%s: padding must be >= 0, got (%lld,%lld)", op,
                      (long long)p->padding[0], (long long)p->padding[1]);
    if (transposed && p->output_padding[i] >= p->stride[i] &&
        p->output_padding[i] >= p->dilation[i])
      return ln_error("%s: output_padding (%lld) must be smaller than "
                      "either stride (%lld) or dilation (%lld)", op,
                      (long long)p->output_padding[i],
                      (long long)p->stride[i], (long long)p->dilation[i]);
  }
  if (p->groups < 1)
    return ln_error("%s: groups must be positive, got %lld", op,
                    (long long)p->groups);
  /* far beyond any real layer, and keeps every size computed from them
  ** (spans, padded and transposed sizes) inside int64 */
  const int64_t *all[] = {p->stride, p->padding, p->dilation,
                          p->output_padding, p->kernel_size, p->output_size};
  for (size_t a = 0; a < sizeof all / sizeof all[0]; a++)
    for (int i = 0; i < 2; i++)
      if (all[a][i] > CONV_MAX_PARAM)
        return ln_error("%s: strides, paddings, dilations and sizes must be "
                        "at most 2^20, got %lld", op, (long long)all[a][i]);
  return LN_OK;
}

/* Checks a batched input, its weight (input's dims) and bias against each
** other; the weight's dim 0 counts outputs (inputs when transposed). */
static int check_operands(const char *op, const ln_tensor *x,
                          const ln_tensor *w, const ln_tensor *b,
                          const ln_conv_params *p, bool transposed,
                          int64_t *out_channels) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  if (check_float(op, "input", x, NULL) != LN_OK ||
      check_float(op, "weight", w, x) != LN_OK ||
      (b && check_float(op, "bias", b, x) != LN_OK))
    return LN_ERR;
  if (w->ndim != x->ndim)
    return ln_error("%s: expected a %d-dim weight, got shape %s", op, x->ndim,
                    ln_shape_str(w->ndim, w->shape, s1, sizeof s1));
  int64_t g = p->groups, c = x->shape[1];
  int64_t expects = transposed ? w->shape[0] : w->shape[1] * g;
  if (c != expects)
    return ln_error("%s: input has %lld channels, weight expects %lld "
                    "(weight shape %s%s)", op, (long long)c,
                    (long long)expects,
                    ln_shape_str(w->ndim, w->shape, s1, sizeof s1),
                    g > 1 ? ", groups multiply its channels" : "");
  if (c % g || (!transposed && w->shape[0] % g))
    return ln_error("%s: groups (%lld) must divide the input channels (%lld) "
                    "and the output channels (%lld)", op, (long long)g,
                    (long long)c, (long long)w->shape[transposed ? 1 : 0]);
  *out_channels = transposed ? w->shape[1] * g : w->shape[0];
  if (b && (b->ndim != 1 || b->shape[0] != *out_channels))
    return ln_error("%s: expected a bias of shape (%lld,), got %s", op,
                    (long long)*out_channels,
                    ln_shape_str(b->ndim, b->shape, s2, sizeof s2));
  for (int i = 2; i < w->ndim; i++)
    if (w->shape[i] == 0)
      return ln_error("%s: the kernel is empty (weight shape %s)", op,
                      ln_shape_str(w->ndim, w->shape, s1, sizeof s1));
  return LN_OK;
}

/* The amounts (w before, w after, h before, h after) that pad asks for. */
static int padding_of(const char *op, const ln_conv_params *p,
                      const int64_t *kernel, int64_t pad[4]) {
  for (int i = 0; i < 2; i++) {
    int64_t before = p->padding[i], after = p->padding[i];
    if (p->padding_mode == LN_CONV_PAD_VALID) before = after = 0;
    if (p->padding_mode == LN_CONV_PAD_SAME) {
      if (p->stride[i] != 1)
        return ln_error("%s: padding='same' needs stride 1, got (%lld,%lld)",
                        op, (long long)p->stride[0], (long long)p->stride[1]);
      int64_t total = p->dilation[i] * (kernel[i] - 1);
      before = total / 2;
      after = total - before;
    }
    pad[2 * (1 - i)] = before;
    pad[2 * (1 - i) + 1] = after;
  }
  return LN_OK;
}

/* The windows of x padded as p says (im2col's geometry), or an error
** when the padded input is smaller than the kernel. */
static int conv_geometry(const char *op, const ln_tensor *x,
                         const int64_t *kernel, const ln_conv_params *p,
                         ln_im2col_geometry *g) {
  char s1[LN_SHAPE_STRLEN];
  int64_t pad[4] = {0};
  if (padding_of(op, p, kernel, pad) != LN_OK) return LN_ERR;
  for (int i = 0; i < 2; i++) {
    int64_t before = pad[2 * (1 - i)], after = pad[2 * (1 - i) + 1];
    int64_t n = x->shape[2 + i] + before + after;
    int64_t span = p->dilation[i] * (kernel[i] - 1) + 1;
    if (n < span)
      return ln_error("%s: the padded input %s is smaller than the kernel "
                      "(%lld,%lld) with dilation (%lld,%lld)", op,
                      ln_shape_str(x->ndim, x->shape, s1, sizeof s1),
                      (long long)kernel[0], (long long)kernel[1],
                      (long long)p->dilation[0], (long long)p->dilation[1]);
    g->kernel[i] = kernel[i];
    g->stride[i] = p->stride[i];
    g->pad[i] = before;
    g->dilation[i] = p->dilation[i];
    g->blocks[i] = (n - span) / p->stride[i] + 1;
    g->image[i] = x->shape[2 + i];
    if (g->image[i] == 0)
      return ln_error("%s: the input %s has no pixels", op,
                      ln_shape_str(x->ndim, x->shape, s1, sizeof s1));
  }
  return LN_OK;
}

/* Runs f on a batched view of an unbatched input (ndim == batched - 1). */
typedef ln_tensor *(*conv_fn)(ln_tensor *, ln_tensor *, ln_tensor *,
                              const ln_conv_params *);
static ln_tensor *unbatched(conv_fn f, ln_tensor *x, ln_tensor *w,
                            ln_tensor *b, const ln_conv_params *p) {
  ln_tensor *xb = ln_unsqueeze(x, 0);
  ln_tensor *y = xb ? f(xb, w, b, p) : NULL;
  ln_tensor *r = y ? ln_squeeze(y, 0) : NULL;
  ln_tensor_release(xb);
  ln_tensor_release(y);
  return r;
}

static int check_input_dims(const char *op, const ln_tensor *x, int batched) {
  char s1[LN_SHAPE_STRLEN];
  if (x->ndim != batched && x->ndim != batched - 1)
    return ln_error("%s: expected a %d-dim (batched) or %d-dim input, got "
                    "shape %s", op, batched, batched - 1,
                    ln_shape_str(x->ndim, x->shape, s1, sizeof s1));
  return LN_OK;
}

/* Whether a convolution with weight w and these strides and groups runs
** direct (core/op_conv_direct.c): stride 1, one group, and a weight of at
** most 2^20 elements. Past that (ResNet's 512-channel 3x3 layers) the
** direct kernels stream the whole weight from memory for every few
** pixels, where the columns and a blocked GEMM keep parts of it in cache;
** below it (LeNet, 64- to 256-channel layers) direct runs faster, by 2-8x
** on few channels (measured on one core of an AVX-512 AMD EPYC). */
static bool runs_direct(const ln_tensor *w, const int64_t *stride,
                        int64_t groups) {
  return groups == 1 && stride[0] == 1 && stride[1] == 1 &&
         ln_tensor_numel(w) <= (INT64_C(1) << 20);
}

/* y + bias along dim 1; contiguous either way, as PyTorch's results are
** (a caller's view(N, -1) must work). */
static ln_tensor *add_bias(ln_tensor *y, ln_tensor *b) {
  if (!b) return ln_contiguous(y);
  ln_tensor *bv = ln_view(b, 4, (int64_t[]){1, b->shape[0], 1, 1});
  ln_tensor *r = bv ? ln_add(y, bv) : NULL;
  ln_tensor_release(bv);
  return r;
}

/* ---- conv2d ------------------------------------------------------------- */

/* conv2d, its messages naming op (conv1d runs through it). */
static ln_tensor *conv2d_as(const char *op, ln_tensor *x, ln_tensor *w,
                            ln_tensor *b, const ln_conv_params *p) {
  int64_t o;
  if (check_geometry(op, p, false) != LN_OK ||
      check_operands(op, x, w, b, p, false, &o) != LN_OK)
    return NULL;
  int64_t n = x->shape[0], g = p->groups, cg = x->shape[1] / g, og = o / g;
  int64_t kh = w->shape[2], kw = w->shape[3];
  ln_im2col_geometry geo;
  if (conv_geometry(op, x, &w->shape[2], p, &geo) != LN_OK) return NULL;
  int64_t oh = geo.blocks[0], ow = geo.blocks[1], kk = cg * kh * kw;
  if (runs_direct(w, geo.stride, g)) {
    ln_conv_geometry d = {
      .kernel = {kh, kw}, .pad = {geo.pad[0], geo.pad[1]},
      .dilation = {geo.dilation[0], geo.dilation[1]},
      .in = {geo.image[0], geo.image[1]}, .out = {oh, ow}};
    return ln_conv_direct(x, w, b, &d);
  }
  ln_scope s = {0};
  /* columns (N, G, Cg*kh*kw, OH*OW), the one copy of the input: W @
  ** columns lands in NCHW */
  ln_tensor *cols = LN_TMP(&s, ln_im2col_geometry_run(x, &geo));
  cols = LN_TMP(&s, ln_view(cols, 4, (int64_t[]){n, g, kk, oh * ow}));
  ln_tensor *wm = LN_TMP(&s, ln_reshape(w, 3, (int64_t[]){g, og, kk}));
  ln_tensor *y = LN_TMP(&s, ln_matmul(wm, cols)); /* (N, G, Og, OH*OW) */
  y = LN_TMP(&s, ln_reshape(y, 4, (int64_t[]){n, o, oh, ow}));
  y = LN_TMP(&s, add_bias(y, b));
  return ln_scope_keep(&s, y);
fail:
  return ln_scope_end(&s);
}

ln_tensor *ln_conv2d(ln_tensor *x, ln_tensor *w, ln_tensor *b,
                     const ln_conv_params *p) {
  if (check_input_dims("conv2d", x, 4) != LN_OK) return NULL;
  if (x->ndim == 3) return unbatched(ln_conv2d, x, w, b, p);
  return conv2d_as("conv2d", x, w, b, p);
}

/* conv2d over (N, C, 1, L), with p's w entries and a weight (O, C/g, 1, k);
** the operands are checked as given, so messages show their shapes. */
ln_tensor *ln_conv1d(ln_tensor *x, ln_tensor *w, ln_tensor *b,
                     const ln_conv_params *p) {
  const char *op = "conv1d";
  if (check_input_dims(op, x, 3) != LN_OK) return NULL;
  if (x->ndim == 2) return unbatched(ln_conv1d, x, w, b, p);
  ln_conv_params q = *p;
  q.stride[0] = q.dilation[0] = 1;
  q.padding[0] = q.output_padding[0] = 0;
  int64_t o;
  if (check_geometry(op, &q, false) != LN_OK ||
      check_operands(op, x, w, b, &q, false, &o) != LN_OK)
    return NULL;
  ln_scope s = {0};
  ln_tensor *x2 = LN_TMP(&s, ln_unsqueeze(x, 2));
  ln_tensor *w2 = LN_TMP(&s, ln_unsqueeze(w, 2));
  ln_tensor *y = LN_TMP(&s, conv2d_as(op, x2, w2, b, &q));
  y = LN_TMP(&s, ln_squeeze(y, 2));
  return ln_scope_keep(&s, y);
fail:
  return ln_scope_end(&s);
}

/* ---- conv_transpose2d: columns first, then summed into place ------------ */

ln_tensor *ln_conv_transpose2d(ln_tensor *x, ln_tensor *w, ln_tensor *b,
                               const ln_conv_params *p) {
  const char *op = "conv_transpose2d";
  if (check_input_dims(op, x, 4) != LN_OK) return NULL;
  if (x->ndim == 3) return unbatched(ln_conv_transpose2d, x, w, b, p);
  int64_t o;
  if (check_geometry(op, p, true) != LN_OK ||
      check_operands(op, x, w, b, p, true, &o) != LN_OK)
    return NULL;
  if (p->padding_mode != LN_CONV_PAD_GIVEN)
    return ln_error("%s: padding must be numbers", op), NULL;
  int64_t n = x->shape[0], g = p->groups, cg = x->shape[1] / g, og = o / g;
  int64_t h = x->shape[2], wd = x->shape[3], kh = w->shape[2], kw = w->shape[3];
  int64_t hp = (h - 1) * p->stride[0] + p->dilation[0] * (kh - 1) + 1;
  int64_t wp = (wd - 1) * p->stride[1] + p->dilation[1] * (kw - 1) + 1;
  int64_t oh = hp - 2 * p->padding[0] + p->output_padding[0];
  int64_t ow = wp - 2 * p->padding[1] + p->output_padding[1];
  if (oh < 1 || ow < 1)
    return ln_error("%s: padding (%lld,%lld) leaves no output", op,
                    (long long)p->padding[0], (long long)p->padding[1]), NULL;
  if (runs_direct(w, p->stride, g)) {
    ln_conv_geometry d = {
      .kernel = {kh, kw}, .pad = {p->padding[0], p->padding[1]},
      .dilation = {p->dilation[0], p->dilation[1]}, .in = {oh, ow},
      .out = {h, wd}};
    ln_tensor *y = ln_conv_direct_input(x, w, &d);
    ln_tensor *r = y ? add_bias(y, b) : NULL;
    ln_tensor_release(y);
    return r;
  }
  /* the columns' windows: one per input pixel, in the output image */
  ln_im2col_geometry geo = {
    .kernel = {kh, kw}, .stride = {p->stride[0], p->stride[1]},
    .pad = {p->padding[0], p->padding[1]},
    .dilation = {p->dilation[0], p->dilation[1]}, .blocks = {h, wd},
    .image = {oh, ow}};
  ln_scope s = {0};
  /* columns (N, G, Og*kh*kw, H*W) = W^T @ x per group, summed into place */
  ln_tensor *xv = LN_TMP(&s, ln_reshape(x, 4, (int64_t[]){n, g, cg, h * wd}));
  ln_tensor *wm = LN_TMP(&s, ln_reshape(w, 3, (int64_t[]){g, cg, og * kh * kw}));
  wm = LN_TMP(&s, ln_transpose(wm, 1, 2));
  ln_tensor *cols = LN_TMP(&s, ln_matmul(wm, xv));
  cols = LN_TMP(&s, ln_reshape(cols, 3, (int64_t[]){n, o * kh * kw, h * wd}));
  ln_tensor *y = LN_TMP(&s, ln_col2im_geometry_run(cols, n, o, &geo));
  y = LN_TMP(&s, add_bias(y, b));
  return ln_scope_keep(&s, y);
fail:
  return ln_scope_end(&s);
}

/* ---- F.unfold and F.fold ------------------------------------------------ */

static int check_blocks(const char *op, const ln_tensor *x, int ndim,
                        const ln_conv_params *p) {
  char s1[LN_SHAPE_STRLEN];
  if (x->ndim != ndim)
    return ln_error("%s: expected a %d-dim input, got shape %s", op, ndim,
                    ln_shape_str(x->ndim, x->shape, s1, sizeof s1));
  if (p->kernel_size[0] < 1 || p->kernel_size[1] < 1)
    return ln_error("%s: kernel_size must be positive, got (%lld,%lld)", op,
                    (long long)p->kernel_size[0], (long long)p->kernel_size[1]);
  if (p->padding_mode != LN_CONV_PAD_GIVEN)
    return ln_error("%s: padding must be numbers", op);
  ln_conv_params q = *p;
  q.groups = 1; /* not theirs */
  return check_geometry(op, &q, false) != LN_OK ||
         check_float(op, "input", x, NULL) != LN_OK ? LN_ERR : LN_OK;
}

ln_tensor *ln_im2col(ln_tensor *x, const ln_conv_params *p) {
  if (check_blocks("unfold", x, 4, p) != LN_OK) return NULL;
  ln_im2col_geometry g;
  if (conv_geometry("unfold", x, p->kernel_size, p, &g) != LN_OK) return NULL;
  return ln_im2col_geometry_run(x, &g);
}

ln_tensor *ln_col2im(ln_tensor *x, const ln_conv_params *p) {
  const char *op = "fold";
  char s1[LN_SHAPE_STRLEN];
  if (check_blocks(op, x, 3, p) != LN_OK) return NULL;
  const int64_t *k = p->kernel_size;
  ln_im2col_geometry g;
  for (int i = 0; i < 2; i++) {
    int64_t padded = p->output_size[i] + 2 * p->padding[i];
    int64_t span = p->dilation[i] * (k[i] - 1) + 1;
    if (p->output_size[i] < 1 || padded < span)
      return ln_error("%s: output_size (%lld,%lld) with padding is smaller "
                      "than the kernel's span", op,
                      (long long)p->output_size[0],
                      (long long)p->output_size[1]), NULL;
    g.kernel[i] = k[i];
    g.stride[i] = p->stride[i];
    g.pad[i] = p->padding[i];
    g.dilation[i] = p->dilation[i];
    g.blocks[i] = (padded - span) / p->stride[i] + 1;
    g.image[i] = p->output_size[i];
  }
  int64_t kk = k[0] * k[1];
  if (x->shape[1] % kk || x->shape[2] != g.blocks[0] * g.blocks[1])
    return ln_error("%s: expected an input (N, C*%lld, %lld) for kernel "
                    "(%lld,%lld) and %lldx%lld blocks, got %s", op,
                    (long long)kk, (long long)(g.blocks[0] * g.blocks[1]),
                    (long long)k[0], (long long)k[1], (long long)g.blocks[0],
                    (long long)g.blocks[1],
                    ln_shape_str(x->ndim, x->shape, s1, sizeof s1)), NULL;
  return ln_col2im_geometry_run(x, x->shape[0], x->shape[1] / kk, &g);
}

/* ---- rows --------------------------------------------------------------- */

static const char *const padding_words[] = {"", "valid", "same", NULL};
#define CP(field) LN_P(ln_conv_params, field)

static const ln_param conv2d_params[] = {
  {"stride", LN_PARAM_SIZES, CP(stride), .count = 2, .def = 1},
  {"padding", LN_PARAM_SIZES, CP(padding), .count = 2, .choices = padding_words,
   .choice_at = CP(padding_mode)},
  {"dilation", LN_PARAM_SIZES, CP(dilation), .count = 2, .def = 1},
  {"groups", LN_PARAM_INT, CP(groups), .def = 1},
  {NULL},
};

/* conv1d's numbers are the w entries; conv1d sets the h ones. */
static const ln_param conv1d_params[] = {
  {"stride", LN_PARAM_SIZES, CP(stride[1]), .count = 1, .def = 1},
  {"padding", LN_PARAM_SIZES, CP(padding[1]), .count = 1,
   .choices = padding_words, .choice_at = CP(padding_mode)},
  {"dilation", LN_PARAM_SIZES, CP(dilation[1]), .count = 1, .def = 1},
  {"groups", LN_PARAM_INT, CP(groups), .def = 1},
  {NULL},
};

static const ln_param conv_transpose2d_params[] = {
  {"stride", LN_PARAM_SIZES, CP(stride), .count = 2, .def = 1},
  {"padding", LN_PARAM_SIZES, CP(padding), .count = 2},
  {"output_padding", LN_PARAM_SIZES, CP(output_padding), .count = 2},
  {"groups", LN_PARAM_INT, CP(groups), .def = 1},
  {"dilation", LN_PARAM_SIZES, CP(dilation), .count = 2, .def = 1},
  {NULL},
};

static const ln_param im2col_params[] = {
  {"kernel_size", LN_PARAM_SIZES, CP(kernel_size), .count = 2, .def = 1},
  {"dilation", LN_PARAM_SIZES, CP(dilation), .count = 2, .def = 1},
  {"padding", LN_PARAM_SIZES, CP(padding), .count = 2},
  {"stride", LN_PARAM_SIZES, CP(stride), .count = 2, .def = 1},
  {NULL},
};

static const ln_param col2im_params[] = {
  {"output_size", LN_PARAM_SIZES, CP(output_size), .count = 2},
  {"kernel_size", LN_PARAM_SIZES, CP(kernel_size), .count = 2, .def = 1},
  {"dilation", LN_PARAM_SIZES, CP(dilation), .count = 2, .def = 1},
  {"padding", LN_PARAM_SIZES, CP(padding), .count = 2},
  {"stride", LN_PARAM_SIZES, CP(stride), .count = 2, .def = 1},
  {NULL},
};

static const char *const conv_inputs[] = {"input", "weight", "bias", NULL};
static const char *const block_inputs[] = {"input", NULL};

static int run_conv2d(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_conv2d(in[0], in[1], in[2], p)) ? LN_OK : LN_ERR;
}
static int run_conv1d(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_conv1d(in[0], in[1], in[2], p)) ? LN_OK : LN_ERR;
}
static int run_conv_transpose2d(ln_tensor *const *in, const void *p,
                                ln_tensor **out) {
  return (out[0] = ln_conv_transpose2d(in[0], in[1], in[2], p)) ? LN_OK
                                                                : LN_ERR;
}
static int run_im2col(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_im2col(in[0], p)) ? LN_OK : LN_ERR;
}
static int run_col2im(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_col2im(in[0], p)) ? LN_OK : LN_ERR;
}

#define CONV_ROW(op, ins, required, list)                                   \
  LN_OP_ROW(op) = {.name = #op, .inputs = ins, .nrequired = required,        \
                   .params = list, .params_size = sizeof(ln_conv_params),   \
                   .where = LN_OP_FUNCTION, .run = run_##op}

CONV_ROW(conv2d, conv_inputs, 2, conv2d_params);
CONV_ROW(conv1d, conv_inputs, 2, conv1d_params);
CONV_ROW(conv_transpose2d, conv_inputs, 2, conv_transpose2d_params);
CONV_ROW(im2col, block_inputs, 1, im2col_params);
CONV_ROW(col2im, block_inputs, 1, col2im_params);
