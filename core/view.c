/*
** view.c: ops that return a new header over the same storage (views),
** each with its backward.
*/
#include <string.h>

#include "backend.h"
#include "op.h"
#include "shape.h"

/* ---- backward functions ------------------------------------------------- */

/* view, reshape, flatten, squeeze, unsqueeze: the gradient takes the
** input's shape back. */
static int reshape_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  gin[0] = ln_reshape(gout, x->ndim, x->shape);
  return gin[0] ? LN_OK : LN_ERR;
}

/* permute: the dims taken, in order. */
typedef struct permute_params {
  int64_t ndim;
  int64_t dims[LN_MAX_DIMS];
} permute_params;

static int permute_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const permute_params *p = n->params;
  int inverse[LN_MAX_DIMS];
  for (int i = 0; i < p->ndim; i++) inverse[p->dims[i]] = i;
  gin[0] = ln_permute(gout, inverse);
  return gin[0] ? LN_OK : LN_ERR;
}

static int expand_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = n->inputs[0];
  gin[0] = ln_sum_to(gout, x->ndim, x->shape);
  return gin[0] ? LN_OK : LN_ERR;
}

/* slice and select: the window of the input they view. */
typedef struct window_params {
  int64_t dim, start, stop, step;
  bool select;               /* the dim is dropped (select) */
} window_params;

/* window_backward under create_graph: gout padded with zeros to the
** input's shape, by recorded ops (a copy into zeros would drop gout's
** history). */
static int window_backward_recorded(ln_node *n, ln_tensor *gout,
                                    ln_tensor **gin) {
  const window_params *p = n->params;
  ln_tensor *x = n->inputs[0];
  int dim = (int)p->dim;
  if (p->step != 1)
    return ln_error("%s: double backward is not supported for a step of "
                    "%lld", n->name, (long long)p->step);
  int64_t pad[2 * LN_MAX_DIMS] = {0}, stop = p->select ? p->start + 1 : p->stop;
  int at = 2 * (x->ndim - 1 - dim);
  pad[at] = p->start;
  pad[at + 1] = x->shape[dim] - stop;
  ln_scope s = {0};
  ln_tensor *g = p->select ? LN_TMP(&s, ln_unsqueeze(gout, dim)) : gout;
  LN_GRAD(&s, gin[0], ln_pad(g, 2 * (x->ndim - dim), pad, LN_PAD_CONSTANT, 0));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* slice and select: zeros of the input's shape with gout written into the
** same window. */
static int window_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  if (ln_creating_graph()) return window_backward_recorded(n, gout, gin);
  const window_params *p = n->params;
  ln_tensor *x = n->inputs[0];
  int dim = (int)p->dim;
  ln_scope s = {0};
  ln_tensor *g = LN_TMP(&s, ln_zeros(x->ndim, x->shape, gout->dtype,
                                     ln_tensor_device(gout)));
  ln_tensor *w = LN_TMP(&s, p->select ? ln_select(g, dim, p->start)
                                      : ln_slice(g, dim, p->start, p->stop,
                                                 p->step));
  if (ln_copy_(w, gout) != LN_OK) goto fail;
  gin[0] = ln_tensor_retain(g);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- views -------------------------------------------------------------- */

/* Records a view's node (*node, NULL when none), and returns r; the view
** is then marked so that in-place writes to it are refused
** (ln_check_inplace). NULL when r is NULL or recording failed. */
static ln_tensor *record_view(ln_node **node, ln_tensor *r, ln_tensor *t,
                              const char *name, ln_backward_fn bw) {
  *node = NULL;
  if (!r) return NULL;
  int rc = ln_record(node, r, name, bw, 1, &t);
  if (*node) r->grad_view = true;
  return ln_recorded(r, rc);
}

/* r with p (size bytes) copied into its node n (NULL: none); NULL when
** r is NULL or the copy fails (r released). */
static ln_tensor *record_params(ln_node *n, ln_tensor *r, const void *p,
                                size_t size) {
  return r ? ln_recorded(r, ln_node_params(n, p, size)) : NULL;
}

static ln_tensor *record_reshape(ln_tensor *r, ln_tensor *t, const char *name) {
  ln_node *n;
  return record_view(&n, r, t, name, reshape_backward);
}

/* Resolves one -1 in shape against numel; errors name both shapes. */
static int infer_shape(const char *op, const ln_tensor *t, int ndim,
                       const int64_t *in, int64_t *out) {
  int infer = -1;
  int64_t known = 1;
  bool overflow = false; /* sizes whose product wraps around int64 */
  if (ndim > LN_MAX_DIMS)
    return ln_error("%s: tensors have at most %d dims", op, LN_MAX_DIMS);
  for (int i = 0; i < ndim; i++) {
    out[i] = in[i];
    if (in[i] == -1) {
      if (infer >= 0) return ln_error("%s: only one dim can be -1", op);
      infer = i;
    } else if (in[i] < 0) {
      return ln_error("%s: invalid size %lld", op, (long long)in[i]);
    } else {
      overflow |= __builtin_mul_overflow(known, in[i], &known);
    }
  }
  int64_t numel = ln_tensor_numel(t);
  if (!overflow && infer >= 0 && known != 0 && numel % known == 0)
    out[infer] = numel / known;
  if (overflow || (infer >= 0 && (known == 0 || numel % known)) ||
      ln_shape_numel(ndim, out) != numel) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    return ln_error("%s: shape %s is invalid for a tensor of shape %s (%lld "
                    "elements)", op, ln_shape_str(ndim, in, s1, sizeof s1),
                    ln_shape_str(t->ndim, t->shape, s2, sizeof s2),
                    (long long)numel);
  }
  return LN_OK;
}

/* Strides for viewing t as shape without a copy, if possible (as in
** PyTorch's computeStride): groups of t's dims that are contiguous with
** each other can be split or merged. */
static bool view_strides(const ln_tensor *t, int ndim, const int64_t *shape,
                         int64_t *stride) {
  if (ln_tensor_numel(t) == 0 || t->ndim == 0) {
    ln_contiguous_strides(ndim, shape, stride);
    return true;
  }
  int view_d = ndim - 1;
  int64_t chunk = 1, base_stride = t->stride[t->ndim - 1];
  for (int d = t->ndim - 1; d >= 0; d--) {
    chunk *= t->shape[d];
    /* the chunk's own numel and base stride, not dim d's stride: a size-1
    ** dim inside a chunk may carry any stride */
    if (d == 0 || (t->shape[d - 1] != 1 &&
                   t->stride[d - 1] != chunk * base_stride)) {
      int64_t numel = 1;
      while (view_d >= 0 && (numel < chunk || shape[view_d] == 1)) {
        stride[view_d] = numel * base_stride;
        numel *= shape[view_d];
        view_d--;
      }
      if (numel != chunk) return false;
      if (d > 0) {
        chunk = 1;
        base_stride = t->stride[d - 1];
      }
    }
  }
  return view_d == -1;
}

ln_tensor *ln_view(ln_tensor *t, int ndim, const int64_t *shape) {
  int64_t s[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  if (infer_shape("view", t, ndim, shape, s) != LN_OK) return NULL;
  if (!view_strides(t, ndim, s, stride))
    return ln_error("view: the tensor's strides are not compatible with the "
                    "new shape; use reshape (or contiguous() first)"),
           NULL;
  return record_reshape(ln_view_raw(t, t->offset, ndim, s, stride), t,
                        "ViewBackward");
}

ln_tensor *ln_reshape(ln_tensor *t, int ndim, const int64_t *shape) {
  int64_t s[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  if (infer_shape("reshape", t, ndim, shape, s) != LN_OK) return NULL;
  if (view_strides(t, ndim, s, stride))
    return record_reshape(ln_view_raw(t, t->offset, ndim, s, stride), t,
                          "ViewBackward");
  ln_tensor *c = ln_contiguous(t);
  if (!c) return NULL;
  ln_contiguous_strides(ndim, s, stride);
  ln_tensor *r = record_reshape(ln_view_raw(c, c->offset, ndim, s, stride), c,
                                "ViewBackward");
  ln_tensor_release(c);
  return r;
}

ln_tensor *ln_permute(ln_tensor *t, const int *dims) {
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  bool seen[LN_MAX_DIMS] = {0};
  int d[LN_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) {
    if (ln_wrap_dim("permute", dims[i], t->ndim, false, &d[i]) != LN_OK)
      return NULL;
    if (seen[d[i]])
      return ln_error("permute: dim %d appears twice", d[i] + 1), NULL;
    seen[d[i]] = true;
    shape[i] = t->shape[d[i]];
    stride[i] = t->stride[d[i]];
  }
  ln_tensor *r = ln_view_raw(t, t->offset, t->ndim, shape, stride);
  ln_node *n;
  r = record_view(&n, r, t, "PermuteBackward", permute_backward);
  permute_params p = {t->ndim, {0}};
  for (int i = 0; i < t->ndim; i++) p.dims[i] = d[i];
  return record_params(n, r, &p, sizeof p);
}

ln_tensor *ln_transpose(ln_tensor *t, int d0, int d1) {
  int a, b, dims[LN_MAX_DIMS];
  if (ln_wrap_dim("transpose", d0, t->ndim, false, &a) != LN_OK ||
      ln_wrap_dim("transpose", d1, t->ndim, false, &b) != LN_OK)
    return NULL;
  for (int i = 0; i < t->ndim; i++) dims[i] = i;
  if (t->ndim) {
    dims[a] = b;
    dims[b] = a;
  }
  return ln_permute(t, dims);
}

ln_tensor *ln_expand(ln_tensor *t, int ndim, const int64_t *shape) {
  int64_t s[LN_MAX_DIMS];
  int lead = ndim - t->ndim;
  if (ndim > LN_MAX_DIMS || lead < 0) {
    char s1[LN_SHAPE_STRLEN];
    return ln_error("expand: the number of sizes (%d) must be at least the "
                    "tensor's dims, %s", ndim,
                    ln_shape_str(t->ndim, t->shape, s1, sizeof s1)),
           NULL;
  }
  double total = 1;
  for (int i = 0; i < ndim; i++) {
    s[i] = shape[i] == -1 && i >= lead ? t->shape[i - lead] : shape[i];
    total *= (double)s[i];
    if (s[i] < 0)
      return ln_error("expand: invalid size %lld in dim %d", (long long)shape[i],
                      i + 1), NULL;
  }
  if (total > (double)LN_MAX_NUMEL) {
    char s1[LN_SHAPE_STRLEN];
    return ln_error("expand: shape %s has %.0f elements, too many (at most "
                    "2^40)", ln_shape_str(ndim, s, s1, sizeof s1), total), NULL;
  }
  if (ln_check_sizes("expand", ndim, s) != LN_OK) return NULL;
  ln_tensor *r = ln_expand_raw(t, ndim, s);
  ln_node *n;
  return record_view(&n, r, t, "ExpandBackward", expand_backward);
}

ln_tensor *ln_slice(ln_tensor *t, int dim, int64_t start, int64_t stop,
                    int64_t step) {
  int d;
  if (ln_wrap_dim("slice", dim, t->ndim, false, &d) != LN_OK) return NULL;
  if (t->ndim == 0) return ln_error("slice: cannot slice a 0-dim tensor"), NULL;
  int64_t size = t->shape[d];
  if (step <= 0) return ln_error("slice: step must be positive"), NULL;
  if (start < 0 || start > size || stop < start || stop > size)
    return ln_error("slice: range [%lld, %lld) out of bounds for dim %d of "
                    "size %lld", (long long)start + 1, (long long)stop + 1,
                    d + 1, (long long)size),
           NULL;
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  memcpy(stride, t->stride, sizeof stride);
  /* ceil((stop - start) / step) without overflow for any step; a single
  ** element needs no stride, so a huge step cannot overflow it either */
  shape[d] = stop == start ? 0 : (stop - start - 1) / step + 1;
  stride[d] = shape[d] > 1 ? t->stride[d] * step : t->stride[d];
  ln_tensor *r = ln_view_raw(t, t->offset + start * t->stride[d], t->ndim,
                             shape, stride);
  ln_node *n;
  r = record_view(&n, r, t, "SliceBackward", window_backward);
  window_params p = {d, start, stop, step, false};
  return record_params(n, r, &p, sizeof p);
}

ln_tensor *ln_narrow(ln_tensor *t, int dim, int64_t start, int64_t length) {
  int d;
  if (length < 0) return ln_error("narrow: length must be >= 0"), NULL;
  if (ln_wrap_dim("narrow", dim, t->ndim, false, &d) != LN_OK) return NULL;
  if (t->ndim == 0) return ln_error("narrow: cannot narrow a 0-dim tensor"), NULL;
  int64_t size = t->shape[d];
  if (start < 0 || start > size || length > size - start) /* no overflow */
    return ln_error("narrow: start %lld and length %lld are out of range for "
                    "dim %d of size %lld", (long long)(start < 0 ? start : start + 1),
                    (long long)length, d + 1, (long long)size),
           NULL;
  return ln_slice(t, d, start, start + length, 1);
}

ln_tensor *ln_select(ln_tensor *t, int dim, int64_t index) {
  int d;
  if (t->ndim == 0)
    return ln_error("select: cannot index a 0-dim tensor"), NULL;
  if (ln_wrap_dim("select", dim, t->ndim, false, &d) != LN_OK) return NULL;
  int64_t size = t->shape[d];
  if (index < -size || index >= size)
    return ln_error("index %lld is out of range for dim %d of size %lld",
                    (long long)(index < 0 ? index : index + 1), d + 1,
                    (long long)size),
           NULL;
  if (index < 0) index += size;
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  for (int i = 0, j = 0; i < t->ndim; i++) {
    if (i == d) continue;
    shape[j] = t->shape[i];
    stride[j++] = t->stride[i];
  }
  ln_tensor *r = ln_view_raw(t, t->offset + index * t->stride[d], t->ndim - 1,
                             shape, stride);
  ln_node *n;
  r = record_view(&n, r, t, "SelectBackward", window_backward);
  window_params p = {d, index, index + 1, 1, true};
  return record_params(n, r, &p, sizeof p);
}

ln_tensor *ln_squeeze(ln_tensor *t, int dim) {
  int64_t shape[LN_MAX_DIMS];
  int d = -1, n = 0;
  if (dim != -1 && ln_wrap_dim("squeeze", dim, t->ndim, false, &d) != LN_OK)
    return NULL;
  for (int i = 0; i < t->ndim; i++)
    if (!(t->shape[i] == 1 && (d < 0 || d == i))) shape[n++] = t->shape[i];
  return ln_reshape(t, n, shape);
}

ln_tensor *ln_unsqueeze(ln_tensor *t, int dim) {
  int d;
  if (ln_wrap_dim("unsqueeze", dim, t->ndim, true, &d) != LN_OK) return NULL;
  if (t->ndim == LN_MAX_DIMS)
    return ln_error("unsqueeze: tensors have at most %d dims", LN_MAX_DIMS), NULL;
  int64_t shape[LN_MAX_DIMS];
  for (int i = 0, j = 0; i <= t->ndim; i++)
    shape[i] = i == d ? 1 : t->shape[j++];
  return ln_reshape(t, t->ndim + 1, shape);
}

ln_tensor *ln_flatten(ln_tensor *t, int start_dim, int end_dim) {
  if (t->ndim == 0) {
    int64_t one = 1;
    return ln_reshape(t, 1, &one);
  }
  int s, e;
  if (ln_wrap_dim("flatten", start_dim, t->ndim, false, &s) != LN_OK ||
      ln_wrap_dim("flatten", end_dim, t->ndim, false, &e) != LN_OK)
    return NULL;
  if (s > e) return ln_error("flatten: start_dim must not come after end_dim"), NULL;
  int64_t shape[LN_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < s; i++) shape[n++] = t->shape[i];
  shape[n++] = ln_shape_numel(e - s + 1, t->shape + s);
  for (int i = e + 1; i < t->ndim; i++) shape[n++] = t->shape[i];
  return ln_reshape(t, n, shape);
}
