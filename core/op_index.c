/*
** op_index.c: indexing ops (gather, scatter, scatter_add, index_select,
** index_add, index_fill, masked_fill, masked_select, cat, stack, sort,
** topk, one_hot) and their backward functions.
**
** Dims and index values are 0-based here, as everywhere in the core, but
** error messages print them 1-based (index + 1, dim + 1; likewise the
** position of a tensor in a cat/stack list): users read these messages in
** Lua, where the bindings turned their 1-based numbers into ours, so the
** numbers match what they typed. "gather: index 7 is out of range for
** dim 2 of size 5" is about a 0-based index 6 in dim 1. Sizes and counts
** (k of topk, num_classes) are not positions and print as they are.
**
** 0-dim tensors behave as 1-element 1-D ones (PyTorch does the same): the
** front ends hand kernels 1-D views of them.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "backend.h"
#include "shape.h"

/* ---- helpers ------------------------------------------------------------ */

/* A contiguous copy without history. */
static ln_tensor *copy_raw(ln_tensor *t) {
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
  if (r && LN_BACKEND(r)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

/* t itself (retained) or, for a 0-dim t, a 1-element 1-D view of it. */
static ln_tensor *as_1d(ln_tensor *t) {
  if (t->ndim > 0) return ln_tensor_retain(t);
  int64_t one = 1, stride = 1;
  return ln_view_raw(t, t->offset, 1, &one, &stride);
}

/* The window [start, start + len) of t along dim, without history. */
static ln_tensor *narrow_raw(ln_tensor *t, int dim, int64_t start,
                             int64_t len) {
  int64_t shape[LN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[dim] = len;
  return ln_view_raw(t, t->offset + start * t->stride[dim], t->ndim, shape,
                     t->stride);
}

/* Entry i of t along dim (that dim dropped), without history. */
static ln_tensor *select_raw(ln_tensor *t, int dim, int64_t i) {
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  for (int d = 0, k = 0; d < t->ndim; d++) {
    if (d == dim) continue;
    shape[k] = t->shape[d];
    stride[k++] = t->stride[d];
  }
  return ln_view_raw(t, t->offset + i * t->stride[dim], t->ndim - 1, shape,
                     stride);
}

static int check_index(const char *op, const ln_tensor *a,
                       const ln_tensor *index) {
  if (index->dtype != LN_INT64)
    return ln_error("%s: index must be an int64 tensor, got %s", op,
                    ln_dtype_name(index->dtype));
  return ln_check_same_device(op, a, index);
}

/* Replaces the op name in front of the last error message with op: a
** kernel names itself (scatter_add), the user called another op
** (scatter_add_, index_fill). */
static int retag_error(const char *op) {
  char msg[512];
  const char *m = ln_error_message(), *colon = strstr(m, ": ");
  snprintf(msg, sizeof msg, "%s", colon ? colon + 2 : m);
  return ln_error("%s: %s", op, msg);
}

/* Zeros of shape with g written into its leading corner: the gradient of
** a src larger than the index that read it. */
static ln_tensor *pad_to(ln_tensor *g, int ndim, const int64_t *shape) {
  ln_tensor *z = ln_zeros(ndim, shape, g->dtype, ln_tensor_device(g));
  ln_tensor *w = z ? ln_view_raw(z, 0, g->ndim, g->shape, z->stride) : NULL;
  int rc = w ? LN_BACKEND(z)->copy(w, g) : LN_ERR;
  ln_tensor_release(w);
  if (rc != LN_OK) {
    ln_tensor_release(z);
    return NULL;
  }
  return z;
}

/* ---- gather ------------------------------------------------------------- */

/* index and a (both >= 1-D) as gather wants them: same dims, and index no
** larger than a outside dim. */
static int check_gather(const ln_tensor *a, int dim, const ln_tensor *index) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  ln_shape_str(index->ndim, index->shape, s1, sizeof s1);
  ln_shape_str(a->ndim, a->shape, s2, sizeof s2);
  if (index->ndim != a->ndim)
    return ln_error("gather: index of shape %s and input of shape %s must "
                    "have the same number of dims", s1, s2);
  for (int d = 0; d < a->ndim; d++)
    if (d != dim && index->shape[d] > a->shape[d])
      return ln_error("gather: index of shape %s does not fit input of shape "
                      "%s outside dim %d", s1, s2, dim + 1);
  return LN_OK;
}

/* out (index's shape) filled by the backend; no history. */
static ln_tensor *gather_raw(ln_tensor *a, int dim, ln_tensor *index) {
  ln_tensor *a1 = as_1d(a), *i1 = as_1d(index), *out = NULL, *o1 = NULL;
  if (a1 && i1 && check_gather(a1, dim, i1) == LN_OK)
    out = ln_empty(index->ndim, index->shape, a->dtype, ln_tensor_device(a));
  if (out && ln_tensor_numel(out) > 0) {
    o1 = as_1d(out);
    if (!o1 || LN_BACKEND(a)->gather(o1, a1, dim, i1) != LN_OK) {
      ln_tensor_release(out);
      out = NULL;
    }
  }
  ln_tensor_release(o1);
  ln_tensor_release(a1);
  ln_tensor_release(i1);
  return out;
}

static int scatter_into(const char *op, ln_tensor *out, int dim,
                        ln_tensor *index, ln_tensor *src, bool accumulate);

/* d a = scatter_add(zeros, dim, index, d out) */
static int gather_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || scatter_into("gather", g, (int)n->ints[0], index, gout, true) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

/* out[i][j][k] = a[i][index[i][j][k]][k] (dim 1) */
ln_tensor *ln_gather(ln_tensor *a, int dim, ln_tensor *index) {
  int d;
  if (check_index("gather", a, index) != LN_OK ||
      ln_wrap_dim("gather", dim, a->ndim, false, &d) != LN_OK)
    return NULL;
  ln_tensor *out = gather_raw(a, d, index);
  ln_node *n = out ? ln_record(out, "GatherBackward", gather_backward, 1, &a) : NULL;
  if (n) {
    n->ints[0] = d;
    n->nints = 1;
    ln_node_save(n, index);
  }
  return out;
}

/* ---- scatter, scatter_add ----------------------------------------------- */

/* out, index and src (all >= 1-D) as scatter wants them: same dims, index
** no larger than src, nor than out outside dim. */
static int check_scatter(const char *op, const ln_tensor *out, int dim,
                         const ln_tensor *index, const ln_tensor *src) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN], s3[LN_SHAPE_STRLEN];
  ln_shape_str(index->ndim, index->shape, s1, sizeof s1);
  ln_shape_str(out->ndim, out->shape, s2, sizeof s2);
  ln_shape_str(src->ndim, src->shape, s3, sizeof s3);
  if (index->ndim != out->ndim || src->ndim != out->ndim)
    return ln_error("%s: index of shape %s, input of shape %s and src of "
                    "shape %s must have the same number of dims", op, s1, s2,
                    s3);
  for (int d = 0; d < out->ndim; d++) {
    if (index->shape[d] > src->shape[d])
      return ln_error("%s: index of shape %s does not fit src of shape %s",
                      op, s1, s3);
    if (d != dim && index->shape[d] > out->shape[d])
      return ln_error("%s: index of shape %s does not fit input of shape %s "
                      "outside dim %d", op, s1, s2, dim + 1);
  }
  return LN_OK;
}

/* out[index] (+)= src along dim, in place on out (contiguous, no history);
** src takes out's dtype, and a 0-dim src is broadcast to index's shape. */
static int scatter_into(const char *op, ln_tensor *out, int dim,
                        ln_tensor *index, ln_tensor *src, bool accumulate) {
  if (check_index(op, out, index) != LN_OK ||
      ln_check_same_device(op, out, src) != LN_OK)
    return LN_ERR;
  ln_tensor *o1 = as_1d(out), *i1 = as_1d(index), *s1 = NULL;
  ln_tensor *cast = ln_cast_raw(src, out->dtype);
  int rc = o1 && i1 && cast ? LN_OK : LN_ERR;
  if (rc == LN_OK) {
    s1 = src->ndim == 0 ? ln_expand_raw(cast, i1->ndim, i1->shape) : as_1d(cast);
    rc = s1 ? check_scatter(op, o1, dim, i1, s1) : LN_ERR;
  }
  if (rc == LN_OK && ln_tensor_numel(i1) > 0 &&
      LN_BACKEND(out)->scatter(o1, dim, i1, s1, accumulate) != LN_OK)
    rc = retag_error(op);
  ln_tensor_release(o1);
  ln_tensor_release(i1);
  ln_tensor_release(s1);
  ln_tensor_release(cast);
  return rc;
}

/* d a = d out with the written positions zeroed (scatter) or d out
** (scatter_add); d src = gather(d out, dim, index), zero-padded to src. */
static int scatter_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *src = n->inputs[1];
  int dim = (int)n->ints[0];
  bool accumulate = n->scalars[0] != 0;
  if (!index) return LN_ERR;
  if (ln_node_needs_grad(n, 0)) {
    gin[0] = accumulate ? ln_tensor_retain(gout) : copy_raw(gout);
    ln_tensor *zero = accumulate ? NULL : ln_scalar(0, gout->dtype, ln_tensor_device(gout));
    if (!gin[0] || (!accumulate && (!zero || scatter_into("scatter", gin[0], dim, index, zero, false) != LN_OK))) {
      ln_tensor_release(zero);
      return LN_ERR;
    }
    ln_tensor_release(zero);
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *g = gather_raw(gout, dim, index);
    if (g && src->ndim > 0 && !ln_same_shape(g, src)) {
      ln_tensor *padded = pad_to(g, src->ndim, src->shape);
      ln_tensor_release(g);
      g = padded;
    }
    if (!g) return LN_ERR;
    gin[1] = g;
  }
  return LN_OK;
}

static ln_node *record_scatter(ln_tensor *out, int ninputs,
                               ln_tensor *const *inputs, int dim,
                               ln_tensor *index, bool accumulate) {
  const char *name = accumulate ? "ScatterAddBackward" : "ScatterBackward";
  ln_node *n = ln_record(out, name, scatter_backward, ninputs, inputs);
  if (n) {
    n->ints[0] = dim;
    n->nints = 1;
    n->scalars[0] = accumulate;
    ln_node_save(n, index);
  }
  return n;
}

static ln_tensor *scatter_op(const char *op, ln_tensor *a, int dim,
                             ln_tensor *index, ln_tensor *src,
                             bool accumulate) {
  int d;
  if (ln_wrap_dim(op, dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *out = copy_raw(a);
  if (!out || scatter_into(op, out, d, index, src, accumulate) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  record_scatter(out, 2, (ln_tensor *[]){a, src}, d, index, accumulate);
  return out;
}

/* Writes a fresh result of a's shape back into a (an in-place op). */
static int write_back(ln_tensor *a, ln_tensor *result) {
  int rc = result ? LN_BACKEND(a)->copy(a, result) : LN_ERR;
  ln_tensor_release(result);
  return rc;
}

/* scatter into a itself: straight into a when it is contiguous, else
** through a contiguous copy (kernels write contiguous outputs). */
static int scatter_inplace(const char *op, ln_tensor *a, int dim,
                           ln_tensor *index, ln_tensor *src, bool accumulate) {
  int d;
  if (ln_check_inplace(a) != LN_OK ||
      ln_wrap_dim(op, dim, a->ndim, false, &d) != LN_OK)
    return LN_ERR;
  if (ln_tensor_is_contiguous(a)) {
    if (scatter_into(op, a, d, index, src, accumulate) != LN_OK) return LN_ERR;
  } else {
    ln_tensor *tmp = copy_raw(a);
    if (!tmp || scatter_into(op, tmp, d, index, src, accumulate) != LN_OK) {
      ln_tensor_release(tmp);
      return LN_ERR;
    }
    if (write_back(a, tmp) != LN_OK) return LN_ERR;
  }
  ln_bump_version(a);
  bool rec = ln_any_requires_grad(2, (ln_tensor *[]){a, src});
  const char *name = accumulate ? "ScatterAddBackward" : "ScatterBackward";
  if (rec && ln_record_inplace(a, name, scatter_backward, 1, &src) != LN_OK)
    return LN_ERR;
  if (rec) { /* the node ln_record_inplace made is a's grad_fn now */
    a->grad_fn->ints[0] = d;
    a->grad_fn->nints = 1;
    a->grad_fn->scalars[0] = accumulate;
    ln_node_save(a->grad_fn, index);
  }
  return LN_OK;
}

/* out = a; out[i][index[i][j][k]][k] = src[i][j][k] (dim 1) */
ln_tensor *ln_scatter(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src) {
  return scatter_op("scatter", a, dim, index, src, false);
}

/* out = a; out[i][index[i][j][k]][k] += src[i][j][k] (dim 1) */
ln_tensor *ln_scatter_add(ln_tensor *a, int dim, ln_tensor *index,
                          ln_tensor *src) {
  return scatter_op("scatter_add", a, dim, index, src, true);
}

int ln_scatter_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src) {
  return scatter_inplace("scatter_", a, dim, index, src, false);
}

int ln_scatter_add_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src) {
  return scatter_inplace("scatter_add_", a, dim, index, src, true);
}

/* ---- index_select, index_add -------------------------------------------- */

static int check_vector_index(const char *op, const ln_tensor *a,
                              const ln_tensor *index) {
  if (check_index(op, a, index) != LN_OK) return LN_ERR;
  if (index->ndim > 1) {
    char s[LN_SHAPE_STRLEN];
    return ln_error("%s: index must be 1-D, got shape %s", op,
                    ln_shape_str(index->ndim, index->shape, s, sizeof s));
  }
  return LN_OK;
}

static ln_tensor *index_select_raw(ln_tensor *a, int dim, ln_tensor *index) {
  int64_t n = ln_tensor_numel(index), shape[LN_MAX_DIMS];
  if (a->ndim == 0 && n != 1)
    return ln_error("index_select: a 0-dim tensor takes one index, got %lld",
                    (long long)n), NULL;
  memcpy(shape, a->shape, sizeof shape);
  if (a->ndim > 0) shape[dim] = n;
  ln_tensor *out = ln_empty(a->ndim, shape, a->dtype, ln_tensor_device(a));
  ln_tensor *a1 = as_1d(a), *i1 = as_1d(index), *o1 = out ? as_1d(out) : NULL;
  int rc = a1 && i1 && o1 ? LN_OK : LN_ERR;
  if (rc == LN_OK && ln_tensor_numel(out) > 0)
    rc = LN_BACKEND(a)->index_select(o1, a1, dim, i1);
  ln_tensor_release(a1);
  ln_tensor_release(i1);
  ln_tensor_release(o1);
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* src against out for index_add along dim (both >= 1-D): the same shape
** but in dim, where src has one entry per index. */
static int check_index_add(const char *op, const ln_tensor *out, int dim,
                           int64_t n, const ln_tensor *src) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  ln_shape_str(src->ndim, src->shape, s1, sizeof s1);
  ln_shape_str(out->ndim, out->shape, s2, sizeof s2);
  if (src->ndim != out->ndim)
    return ln_error("%s: src of shape %s and input of shape %s must have the "
                    "same number of dims", op, s1, s2);
  for (int d = 0; d < out->ndim; d++) {
    if (d == dim && src->shape[d] != n)
      return ln_error("%s: src of shape %s has %lld entries in dim %d, but "
                      "index has %lld", op, s1, (long long)src->shape[d],
                      d + 1, (long long)n);
    if (d != dim && src->shape[d] != out->shape[d])
      return ln_error("%s: src of shape %s does not match input of shape %s "
                      "outside dim %d", op, s1, s2, dim + 1);
  }
  return LN_OK;
}

/* out (contiguous, no history) index_add along dim: out[.., index[j], ..]
** += alpha * src[.., j, ..]; src takes out's dtype. */
static int index_add_into(const char *op, ln_tensor *out, int dim,
                          ln_tensor *index, ln_tensor *src, double alpha) {
  if (check_vector_index(op, out, index) != LN_OK ||
      ln_check_same_device(op, out, src) != LN_OK)
    return LN_ERR;
  if (!ln_dtype_is_float(out->dtype) && alpha != floor(alpha))
    return ln_error("%s: alpha must be an integer for %s tensors, got %g", op,
                    ln_dtype_name(out->dtype), alpha);
  int64_t n = ln_tensor_numel(index);
  ln_tensor *o1 = as_1d(out), *i1 = as_1d(index), *cast = ln_cast_raw(src, out->dtype);
  ln_tensor *s = cast ? as_1d(cast) : NULL;
  int rc = o1 && i1 && s ? check_index_add(op, o1, dim, n, s) : LN_ERR;
  if (rc == LN_OK && n > 0 && ln_tensor_numel(s) > 0 &&
      LN_BACKEND(out)->index_add(o1, dim, i1, s, alpha) != LN_OK)
    rc = retag_error(op);
  ln_tensor_release(o1);
  ln_tensor_release(i1);
  ln_tensor_release(s);
  ln_tensor_release(cast);
  return rc;
}

/* d a = index_add(zeros, dim, index, d out) */
static int index_select_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || index_add_into("index_select", g, (int)n->ints[0], index, gout, 1) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

/* out = a[.., index[j], ..] along dim */
ln_tensor *ln_index_select(ln_tensor *a, int dim, ln_tensor *index) {
  int d;
  if (check_vector_index("index_select", a, index) != LN_OK ||
      ln_wrap_dim("index_select", dim, a->ndim, false, &d) != LN_OK)
    return NULL;
  ln_tensor *out = index_select_raw(a, d, index);
  ln_node *n = out ? ln_record(out, "IndexSelectBackward", index_select_backward, 1, &a) : NULL;
  if (n) {
    n->ints[0] = d;
    n->nints = 1;
    ln_node_save(n, index);
  }
  return out;
}

/* d a = d out; d src = alpha * index_select(d out, dim, index) */
static int index_add_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0);
  double alpha = n->scalars[0];
  if (!index) return LN_ERR;
  if (ln_node_needs_grad(n, 0) && !(gin[0] = ln_tensor_retain(gout)))
    return LN_ERR;
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *g = index_select_raw(gout, (int)n->ints[0], index);
    if (g && alpha != 1) {
      ln_tensor *scaled = ln_binary_scalar(LN_BINARY_MUL, g, alpha);
      ln_tensor_release(g);
      g = scaled;
    }
    if (!g) return LN_ERR;
    gin[1] = g;
  }
  return LN_OK;
}

static void setup_index_add_node(ln_node *n, int dim, ln_tensor *index,
                                 double alpha) {
  n->ints[0] = dim;
  n->nints = 1;
  n->scalars[0] = alpha;
  ln_node_save(n, index);
}

/* out = a; out[.., index[j], ..] += alpha * src[.., j, ..] along dim */
ln_tensor *ln_index_add(ln_tensor *a, int dim, ln_tensor *index,
                        ln_tensor *src, double alpha) {
  int d;
  if (ln_wrap_dim("index_add", dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *out = copy_raw(a);
  if (!out || index_add_into("index_add", out, d, index, src, alpha) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  ln_node *n = ln_record(out, "IndexAddBackward", index_add_backward, 2,
                         (ln_tensor *[]){a, src});
  if (n) setup_index_add_node(n, d, index, alpha);
  return out;
}

int ln_index_add_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src,
                  double alpha) {
  int d;
  if (ln_check_inplace(a) != LN_OK ||
      ln_wrap_dim("index_add_", dim, a->ndim, false, &d) != LN_OK)
    return LN_ERR;
  ln_tensor *tmp = ln_tensor_is_contiguous(a) ? ln_tensor_retain(a) : copy_raw(a);
  int rc = tmp ? index_add_into("index_add_", tmp, d, index, src, alpha) : LN_ERR;
  if (rc == LN_OK && tmp != a) rc = write_back(a, ln_tensor_retain(tmp));
  ln_tensor_release(tmp);
  if (rc != LN_OK) return LN_ERR;
  ln_bump_version(a);
  if (!ln_any_requires_grad(2, (ln_tensor *[]){a, src})) return LN_OK;
  if (ln_record_inplace(a, "IndexAddBackward", index_add_backward, 1, &src) != LN_OK)
    return LN_ERR;
  setup_index_add_node(a->grad_fn, d, index, alpha);
  return LN_OK;
}

/* ---- masked_fill, index_fill -------------------------------------------- */

static int check_mask(const char *op, const ln_tensor *a,
                      const ln_tensor *mask) {
  if (mask->dtype != LN_BOOL && mask->dtype != LN_UINT8)
    return ln_error("%s: mask must be a bool tensor, got %s", op,
                    ln_dtype_name(mask->dtype));
  return ln_check_same_device(op, a, mask);
}

/* where(mask, value, a) over the broadcast shape of a and mask; no history. */
static ln_tensor *masked_fill_raw(const char *op, ln_tensor *a,
                                  ln_tensor *mask, double value) {
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  if (check_mask(op, a, mask) != LN_OK ||
      ln_broadcast_shapes(op, a->ndim, a->shape, mask->ndim, mask->shape,
                          &ndim, shape) != LN_OK)
    return NULL;
  ln_device dev = ln_tensor_device(a);
  ln_tensor *m = ln_cast_raw(mask, LN_BOOL), *v = ln_scalar(value, a->dtype, dev);
  ln_tensor *me = m ? ln_expand_raw(m, ndim, shape) : NULL;
  ln_tensor *ve = v ? ln_expand_raw(v, ndim, shape) : NULL;
  ln_tensor *ae = ln_expand_raw(a, ndim, shape);
  ln_tensor *out = me && ve && ae ? ln_empty(ndim, shape, a->dtype, dev) : NULL;
  if (out && LN_BACKEND(out)->where(out, me, ve, ae) != LN_OK) {
    ln_tensor_release(out);
    out = NULL;
  }
  ln_tensor_release(m);
  ln_tensor_release(v);
  ln_tensor_release(me);
  ln_tensor_release(ve);
  ln_tensor_release(ae);
  return out;
}

/* d a = d out with zeros where mask (summed back to a's shape) */
static int masked_fill_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *mask = ln_node_saved(n, 0);
  if (!mask) return LN_ERR;
  gin[0] = masked_fill_raw("masked_fill", gout, mask, 0);
  return gin[0] ? LN_OK : LN_ERR;
}

static ln_tensor *masked_fill_op(const char *op, const char *name,
                                 ln_tensor *a, ln_tensor *mask, double value) {
  ln_tensor *out = masked_fill_raw(op, a, mask, value);
  ln_node *n = out ? ln_record(out, name, masked_fill_backward, 1, &a) : NULL;
  if (n) ln_node_save(n, mask);
  return out;
}

/* The in-place form: mask must broadcast to a's own shape. */
static int masked_fill_inplace(const char *op, const char *name, ln_tensor *a,
                               ln_tensor *mask, double value) {
  if (ln_check_inplace(a) != LN_OK) return LN_ERR;
  ln_tensor *r = masked_fill_raw(op, a, mask, value);
  if (!r) return LN_ERR;
  if (!ln_same_shape(r, a)) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    ln_tensor_release(r);
    return ln_error("%s: mask of shape %s cannot be broadcast to the "
                    "tensor's shape %s", op,
                    ln_shape_str(mask->ndim, mask->shape, s1, sizeof s1),
                    ln_shape_str(a->ndim, a->shape, s2, sizeof s2));
  }
  if (write_back(a, r) != LN_OK) return LN_ERR;
  ln_bump_version(a);
  if (!ln_any_requires_grad(1, &a)) return LN_OK;
  if (ln_record_inplace(a, name, masked_fill_backward, 0, NULL) != LN_OK)
    return LN_ERR;
  ln_node_save(a->grad_fn, mask);
  return LN_OK;
}

/* out = mask ? value : a (broadcast) */
ln_tensor *ln_masked_fill(ln_tensor *a, ln_tensor *mask, double value) {
  return masked_fill_op("masked_fill", "MaskedFillBackward", a, mask, value);
}

int ln_masked_fill_(ln_tensor *a, ln_tensor *mask, double value) {
  return masked_fill_inplace("masked_fill_", "MaskedFillBackward", a, mask,
                             value);
}

/* A bool mask shaped (1,..,size of dim,..,1), true at the entries index
** names: index_fill is a masked_fill with it. The mask is built by an
** index_add of ones, whose kernel checks the indices. */
static ln_tensor *index_mask(const char *op, ln_tensor *a, int dim,
                             ln_tensor *index) {
  int64_t shape[LN_MAX_DIMS], ones_shape[LN_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) {
    shape[d] = d == dim ? a->shape[d] : 1;
    ones_shape[d] = d == dim ? ln_tensor_numel(index) : 1;
  }
  ln_device dev = ln_tensor_device(a);
  ln_tensor *counts = ln_zeros(a->ndim, shape, LN_INT64, dev);
  ln_tensor *one = ln_scalar(1, LN_INT64, dev);
  ln_tensor *ones = one ? ln_expand_raw(one, a->ndim, ones_shape) : NULL;
  int rc = counts && ones ? check_vector_index(op, a, index) : LN_ERR;
  if (rc == LN_OK) rc = index_add_into(op, counts, dim, index, ones, 1);
  ln_tensor *mask = rc == LN_OK ? ln_cast_raw(counts, LN_BOOL) : NULL;
  ln_tensor_release(counts);
  ln_tensor_release(one);
  ln_tensor_release(ones);
  return mask;
}

/* out = a; out[.., index[j], ..] = value along dim */
ln_tensor *ln_index_fill(ln_tensor *a, int dim, ln_tensor *index,
                         double value) {
  int d;
  if (ln_wrap_dim("index_fill", dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *mask = index_mask("index_fill", a, d, index);
  ln_tensor *out = mask ? masked_fill_op("index_fill", "IndexFillBackward", a, mask, value) : NULL;
  ln_tensor_release(mask);
  return out;
}

int ln_index_fill_(ln_tensor *a, int dim, ln_tensor *index, double value) {
  int d;
  if (ln_wrap_dim("index_fill_", dim, a->ndim, false, &d) != LN_OK)
    return LN_ERR;
  ln_tensor *mask = index_mask("index_fill_", a, d, index);
  int rc = mask ? masked_fill_inplace("index_fill_", "IndexFillBackward", a,
                                      mask, value)
                : LN_ERR;
  ln_tensor_release(mask);
  return rc;
}

/* ---- masked_select ------------------------------------------------------ */

/* How many elements of mask are true, read on the host (the output size
** must be known before the kernel runs). */
static int count_true(const ln_tensor *mask, int64_t *count) {
  int64_t n = ln_tensor_numel(mask);
  uint8_t *host = malloc(n ? (size_t)n : 1);
  if (!host) return ln_error("masked_select: out of memory reading the mask");
  int rc = ln_to_buffer(mask, host, LN_UINT8);
  *count = 0;
  for (int64_t i = 0; rc == LN_OK && i < n; i++) *count += host[i] != 0;
  free(host);
  return rc;
}

static ln_tensor *masked_select_raw(ln_tensor *a, ln_tensor *mask, int *ndim,
                                    int64_t *shape) {
  int64_t count = 0;
  if (check_mask("masked_select", a, mask) != LN_OK ||
      ln_broadcast_shapes("masked_select", a->ndim, a->shape, mask->ndim,
                          mask->shape, ndim, shape) != LN_OK ||
      count_true(mask, &count) != LN_OK)
    return NULL;
  int64_t mn = ln_tensor_numel(mask), total = mn ? count * (ln_shape_numel(*ndim, shape) / mn) : 0;
  ln_tensor *out = ln_empty(1, &total, a->dtype, ln_tensor_device(a));
  if (!out || total == 0) return out;
  ln_tensor *m = ln_cast_raw(mask, LN_BOOL);
  ln_tensor *me = m ? ln_expand_raw(m, *ndim, shape) : NULL;
  ln_tensor *ae = ln_expand_raw(a, *ndim, shape);
  int rc = me && ae ? LN_BACKEND(a)->masked_select(out, ae, me) : LN_ERR;
  ln_tensor_release(m);
  ln_tensor_release(me);
  ln_tensor_release(ae);
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* d a = zeros of the broadcast shape with d out put back where mask; the
** positions come from masked_select over an arange. ints = {ndim, shape}. */
static int masked_select_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *mask = ln_node_saved(n, 0);
  if (!mask) return LN_ERR;
  int ndim = (int)n->ints[0], pndim;
  const int64_t *shape = n->ints + 1;
  int64_t numel = ln_shape_numel(ndim, shape), stride[LN_MAX_DIMS], pshape[LN_MAX_DIMS];
  ln_device dev = ln_tensor_device(gout);
  ln_contiguous_strides(ndim, shape, stride);
  ln_tensor *range = ln_arange(0, (double)numel, 1, LN_INT64, dev);
  ln_tensor *rv = range ? ln_view_raw(range, 0, ndim, shape, stride) : NULL;
  ln_tensor *pos = rv ? masked_select_raw(rv, mask, &pndim, pshape) : NULL;
  ln_tensor *g = pos ? ln_zeros(1, &numel, gout->dtype, dev) : NULL;
  int rc = g ? scatter_into("masked_select", g, 0, pos, gout, false) : LN_ERR;
  if (rc == LN_OK) gin[0] = ln_view_raw(g, 0, ndim, shape, stride);
  ln_tensor_release(range);
  ln_tensor_release(rv);
  ln_tensor_release(pos);
  ln_tensor_release(g);
  return rc == LN_OK && gin[0] ? LN_OK : LN_ERR;
}

/* out = the elements of a (broadcast with mask) where mask, as a 1-D tensor */
ln_tensor *ln_masked_select(ln_tensor *a, ln_tensor *mask) {
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  ln_tensor *out = masked_select_raw(a, mask, &ndim, shape);
  ln_node *n = out ? ln_record(out, "MaskedSelectBackward", masked_select_backward, 1, &a) : NULL;
  if (n) {
    n->ints[0] = ndim;
    memcpy(n->ints + 1, shape, (size_t)ndim * sizeof *shape);
    n->nints = ndim + 1;
    ln_node_save(n, mask);
  }
  return out;
}

/* ---- cat, stack --------------------------------------------------------- */

_Static_assert(2 + 2 * LN_NODE_MAX_INPUTS <= 2 * LN_MAX_DIMS,
               "a Cat/Stack node's ints hold dim, mode and 2 per input");
_Static_assert(1 + LN_MAX_DIMS <= 2 * LN_MAX_DIMS,
               "a MaskedSelect node's ints hold ndim and a shape");

/* A Cat/Stack node's ints: {dim, stacked, begin_0, len_0, begin_1, ...}:
** input i is entry begin_i of d out along dim when stacked, else the
** window [begin_i, begin_i + len_i); len -1 marks an input cat skipped. */
static int pieces_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  int dim = (int)n->ints[0];
  for (int i = 0; i < n->ninputs; i++) {
    if (!ln_node_needs_grad(n, i)) continue;
    int64_t begin = n->ints[2 + 2 * i], len = n->ints[3 + 2 * i];
    ln_tensor *x = n->inputs[i];
    if (len < 0)
      gin[i] = ln_zeros(x->ndim, x->shape, gout->dtype, ln_tensor_device(gout));
    else if (n->ints[1])
      gin[i] = ln_select(gout, dim, begin);
    else
      gin[i] = ln_narrow(gout, dim, begin, len);
    if (!gin[i]) return LN_ERR;
  }
  return LN_OK;
}

typedef struct pieces {
  const char *name;
  int dim;
  bool stacked;
  const int64_t *begin, *len; /* in the coordinates of the first out */
} pieces;

static int64_t piece_end(const pieces *p, int i) {
  return p->begin[i] + (p->stacked ? 1 : p->len[i] < 0 ? 0 : p->len[i]);
}

/* Gives out (which starts at `base` along dim) its node over ts[0..n),
** pieces k.. of p. A node holds at most LN_NODE_MAX_INPUTS inputs, so a
** longer list becomes a tree: each group of inputs gets a node on a view
** of its window of out, and out's node takes those views as its inputs. */
static int record_pieces(ln_tensor *out, const pieces *p, int k, int n,
                         ln_tensor **ts, int64_t base) {
  if (!ln_any_requires_grad(n, ts)) return LN_OK;
  if (n <= LN_NODE_MAX_INPUTS) {
    ln_node *node = ln_record(out, p->name, pieces_backward, n, ts);
    if (!node) return ln_error("%s: out of memory recording history", p->name);
    node->ints[0] = p->dim;
    node->ints[1] = p->stacked;
    for (int i = 0; i < n; i++) {
      node->ints[2 + 2 * i] = p->begin[k + i] - base;
      node->ints[3 + 2 * i] = p->stacked ? 1 : p->len[k + i];
    }
    node->nints = 2 + 2 * n;
    return LN_OK;
  }
  ln_tensor *views[LN_NODE_MAX_INPUTS] = {0};
  int64_t vbegin[LN_NODE_MAX_INPUTS], vlen[LN_NODE_MAX_INPUTS];
  int per = (n + LN_NODE_MAX_INPUTS - 1) / LN_NODE_MAX_INPUTS, ng = 0;
  int rc = LN_OK;
  for (int g = 0; g < n && rc == LN_OK; g += per, ng++) {
    int m = n - g < per ? n - g : per;
    int64_t from = p->begin[k + g], to = piece_end(p, k + g + m - 1);
    vbegin[ng] = from;
    vlen[ng] = to - from;
    views[ng] = narrow_raw(out, p->dim, from - base, to - from);
    rc = views[ng] ? record_pieces(views[ng], p, k + g, m, ts + g, from) : LN_ERR;
  }
  if (rc == LN_OK) {
    pieces top = {p->name, p->dim, false, vbegin, vlen};
    rc = record_pieces(out, &top, 0, ng, views, base);
  }
  for (int i = 0; i < ng; i++) ln_tensor_release(views[i]);
  return rc;
}

/* PyTorch's legacy rule: 1-D empty tensors are left out of cat. */
static bool cat_skips(const ln_tensor *t) {
  return t->ndim == 1 && t->shape[0] == 0;
}

/* The shape of cat's result along dim d of ref, after checking the list. */
static int cat_shape(int n, ln_tensor **ts, const ln_tensor *ref, int d,
                     int64_t *shape) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  int rpos = 0;
  while (ts[rpos] != ref) rpos++;
  memcpy(shape, ref->shape, sizeof ref->shape);
  shape[d] = 0;
  for (int i = 0; i < n; i++) {
    const ln_tensor *t = ts[i];
    if (cat_skips(t)) continue;
    bool ok = t->ndim == ref->ndim;
    for (int k = 0; ok && k < t->ndim; k++)
      ok = k == d || t->shape[k] == ref->shape[k];
    if (!ok)
      return ln_error("cat: tensors must have the same shape except in dim "
                      "%d, got %s at position %d and %s at position %d", d + 1,
                      ln_shape_str(ref->ndim, ref->shape, s1, sizeof s1),
                      rpos + 1, ln_shape_str(t->ndim, t->shape, s2, sizeof s2),
                      i + 1);
    if (__builtin_add_overflow(shape[d], t->shape[d], &shape[d]))
      return ln_error("cat: the sizes of dim %d add up past 2^63", d + 1);
  }
  return ln_check_sizes("cat", ref->ndim, shape);
}

/* Checks devices, rejects 0-dim entries and promotes dtypes of a list. */
static int check_list(const char *op, int n, ln_tensor **ts, ln_dtype *dt) {
  if (n <= 0) return ln_error("%s: expected a non-empty list of tensors", op);
  *dt = ts[0]->dtype;
  for (int i = 0; i < n; i++) {
    if (ln_check_same_device(op, ts[0], ts[i]) != LN_OK) return LN_ERR;
    *dt = ln_dtype_promote(*dt, ts[i]->dtype);
  }
  return LN_OK;
}

/* Copies each piece into its window of out, recording begin/len. */
static int cat_fill(ln_tensor *out, int n, ln_tensor **ts, int d,
                    int64_t *begin, int64_t *len) {
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    begin[i] = at;
    len[i] = -1;
    if (cat_skips(ts[i])) continue;
    len[i] = ts[i]->shape[d];
    ln_tensor *w = narrow_raw(out, d, at, len[i]);
    int rc = w ? LN_BACKEND(out)->copy(w, ts[i]) : LN_ERR;
    ln_tensor_release(w);
    if (rc != LN_OK) return LN_ERR;
    at += len[i];
  }
  return LN_OK;
}

/* out = [ts[0], ts[1], ...] joined along dim */
ln_tensor *ln_cat(int n, ln_tensor **ts, int dim) {
  ln_dtype dt;
  if (check_list("cat", n, ts, &dt) != LN_OK) return NULL;
  const ln_tensor *ref = NULL;
  for (int i = 0; i < n; i++) {
    if (ts[i]->ndim == 0)
      return ln_error("cat: zero-dimensional tensor (at position %d) cannot "
                      "be concatenated", i + 1), NULL;
    if (!ref && !cat_skips(ts[i])) ref = ts[i];
  }
  if (!ref) return ln_empty(1, (int64_t[]){0}, dt, ln_tensor_device(ts[0]));
  int d;
  int64_t shape[LN_MAX_DIMS];
  if (ln_wrap_dim("cat", dim, ref->ndim, false, &d) != LN_OK ||
      cat_shape(n, ts, ref, d, shape) != LN_OK)
    return NULL;
  ln_tensor *out = ln_empty(ref->ndim, shape, dt, ln_tensor_device(ref));
  int64_t *begin = malloc(2 * (size_t)n * sizeof *begin);
  int rc = out && begin ? cat_fill(out, n, ts, d, begin, begin + n) : LN_ERR;
  if (!begin) ln_error("cat: out of memory");
  if (rc == LN_OK) {
    pieces p = {"CatBackward", d, false, begin, begin + n};
    rc = record_pieces(out, &p, 0, n, ts, 0);
  }
  free(begin);
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* out[.., i, ..] = ts[i], a new dim at dim */
ln_tensor *ln_stack(int n, ln_tensor **ts, int dim) {
  ln_dtype dt;
  int d;
  if (check_list("stack", n, ts, &dt) != LN_OK ||
      ln_wrap_dim("stack", dim, ts[0]->ndim, true, &d) != LN_OK)
    return NULL;
  if (ts[0]->ndim == LN_MAX_DIMS)
    return ln_error("stack: tensors have at most %d dims", LN_MAX_DIMS), NULL;
  for (int i = 1; i < n; i++)
    if (!ln_same_shape(ts[0], ts[i])) {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      return ln_error("stack: tensors must have the same shape, got %s at "
                      "position 1 and %s at position %d",
                      ln_shape_str(ts[0]->ndim, ts[0]->shape, s1, sizeof s1),
                      ln_shape_str(ts[i]->ndim, ts[i]->shape, s2, sizeof s2),
                      i + 1), NULL;
    }
  int64_t shape[LN_MAX_DIMS];
  for (int i = 0, j = 0; i <= ts[0]->ndim; i++)
    shape[i] = i == d ? n : ts[0]->shape[j++];
  ln_tensor *out = ln_empty(ts[0]->ndim + 1, shape, dt, ln_tensor_device(ts[0]));
  int64_t *begin = malloc((size_t)n * sizeof *begin);
  int rc = out && begin ? LN_OK : LN_ERR;
  if (!begin) ln_error("stack: out of memory");
  for (int i = 0; i < n && rc == LN_OK; i++) {
    ln_tensor *w = select_raw(out, d, i);
    rc = w ? LN_BACKEND(out)->copy(w, ts[i]) : LN_ERR;
    ln_tensor_release(w);
    begin[i] = i;
  }
  if (rc == LN_OK) {
    pieces p = {"StackBackward", d, true, begin, begin};
    rc = record_pieces(out, &p, 0, n, ts, 0);
  }
  free(begin);
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* ---- sort, topk --------------------------------------------------------- */

/* Sorted values and their int64 positions along dim; no history. */
static int sort_raw(ln_tensor *a, int dim, bool descending, ln_tensor **values,
                    ln_tensor **indices) {
  ln_device dev = ln_tensor_device(a);
  ln_tensor *v = ln_empty(a->ndim, a->shape, a->dtype, dev);
  ln_tensor *ix = ln_empty(a->ndim, a->shape, LN_INT64, dev);
  ln_tensor *a1 = as_1d(a), *v1 = v ? as_1d(v) : NULL, *i1 = ix ? as_1d(ix) : NULL;
  int rc = a1 && v1 && i1 ? LN_OK : LN_ERR;
  if (rc == LN_OK) rc = LN_BACKEND(a)->sort(v1, i1, a1, dim, descending);
  ln_tensor_release(a1);
  ln_tensor_release(v1);
  ln_tensor_release(i1);
  if (rc != LN_OK) {
    ln_tensor_release(v);
    ln_tensor_release(ix);
    return LN_ERR;
  }
  *values = v;
  *indices = ix;
  return LN_OK;
}

/* d a = zeros with d values scattered back through the indices (sort and
** topk: the indices along dim are distinct). */
static int sort_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || scatter_into(n->name, g, (int)n->ints[0], index, gout, false) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

static void record_sort(const char *name, ln_tensor *a, int dim,
                        ln_tensor *values, ln_tensor *indices) {
  ln_node *n = ln_record(values, name, sort_backward, 1, &a);
  if (n) {
    n->ints[0] = dim;
    n->nints = 1;
    ln_node_save(n, indices);
  }
}

/* values, indices = a sorted along dim (stable; NaN above all numbers) */
int ln_sort(ln_tensor *a, int dim, bool descending, ln_tensor **values,
            ln_tensor **indices) {
  int d;
  *values = *indices = NULL;
  if (ln_wrap_dim("sort", dim, a->ndim, false, &d) != LN_OK ||
      sort_raw(a, d, descending, values, indices) != LN_OK)
    return LN_ERR;
  record_sort("SortBackward", a, d, *values, *indices);
  return LN_OK;
}

/* values, indices = the k largest (smallest) entries along dim, in order:
** a sort, then its first k (`sorted` false is served sorted too). */
int ln_topk(ln_tensor *a, int64_t k, int dim, bool largest, bool sorted,
            ln_tensor **values, ln_tensor **indices) {
  int d;
  (void)sorted;
  *values = *indices = NULL;
  if (ln_wrap_dim("topk", dim, a->ndim, false, &d) != LN_OK) return LN_ERR;
  int64_t size = a->ndim ? a->shape[d] : 1;
  if (k < 0 || k > size)
    return ln_error("topk: k %lld is out of range for dim %d of size %lld",
                    (long long)k, d + 1, (long long)size);
  ln_tensor *sv, *si;
  if (sort_raw(a, d, largest, &sv, &si) != LN_OK) return LN_ERR;
  if (a->ndim == 0) { /* as PyTorch: the 0-dim value itself */
    *values = sv;
    *indices = si;
  } else {
    ln_tensor *wv = narrow_raw(sv, d, 0, k), *wi = narrow_raw(si, d, 0, k);
    *values = wv ? copy_raw(wv) : NULL;
    *indices = wi ? copy_raw(wi) : NULL;
    ln_tensor_release(wv);
    ln_tensor_release(wi);
    ln_tensor_release(sv);
    ln_tensor_release(si);
  }
  if (!*values || !*indices) {
    ln_tensor_release(*values);
    ln_tensor_release(*indices);
    *values = *indices = NULL;
    return LN_ERR;
  }
  record_sort("TopkBackward", a, d, *values, *indices);
  return LN_OK;
}

/* ---- one_hot ------------------------------------------------------------ */

/* Reads the class values on the host: infers num_classes (< 0) as max + 1
** and checks every value against it. */
static int check_classes(const ln_tensor *index, int64_t *num_classes) {
  int64_t n = ln_tensor_numel(index);
  if (n == 0 && *num_classes < 0)
    return ln_error("one_hot: cannot infer the number of classes of an "
                    "empty tensor");
  int64_t *host = malloc(n ? (size_t)n * sizeof *host : 1);
  if (!host) return ln_error("one_hot: out of memory reading the index");
  int rc = ln_to_buffer(index, host, LN_INT64);
  if (rc == LN_OK && *num_classes < 0) {
    int64_t max = host[0];
    for (int64_t i = 1; i < n; i++) max = host[i] > max ? host[i] : max;
    /* max + 1 classes, unless that overflows: then a class is out of range
    ** below anyway, whatever the count */
    *num_classes = max < INT64_MAX ? max + 1 : 0;
  }
  /* the values are the user's 1-based classes shifted in wrapping int64
  ** (mininteger became maxinteger); the message shifts them back alike */
  for (int64_t i = 0; rc == LN_OK && i < n; i++)
    if (host[i] < 0 || host[i] >= *num_classes)
      rc = ln_error("one_hot: class %lld is out of range for %lld classes",
                    (long long)(int64_t)((uint64_t)host[i] + 1),
                    (long long)*num_classes);
  free(host);
  return rc;
}

/* out[..., c] = 1 if index[...] == c else 0; int64, one more dim */
ln_tensor *ln_one_hot(ln_tensor *index, int64_t num_classes) {
  if (index->dtype != LN_INT64)
    return ln_error("one_hot: index must be an int64 tensor, got %s",
                    ln_dtype_name(index->dtype)), NULL;
  if (index->ndim == LN_MAX_DIMS)
    return ln_error("one_hot: tensors have at most %d dims", LN_MAX_DIMS), NULL;
  if (check_classes(index, &num_classes) != LN_OK) return NULL;
  int nd = index->ndim;
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  memcpy(shape, index->shape, sizeof index->shape);
  memcpy(stride, index->stride, sizeof index->stride);
  shape[nd] = num_classes;
  ln_device dev = ln_tensor_device(index);
  ln_tensor *out = ln_zeros(nd + 1, shape, LN_INT64, dev);
  shape[nd] = 1;
  stride[nd] = 1;
  ln_tensor *iv = ln_view_raw(index, index->offset, nd + 1, shape, stride);
  ln_tensor *one = ln_scalar(1, LN_INT64, dev);
  int rc = out && iv && one ? scatter_into("one_hot", out, nd, iv, one, false) : LN_ERR;
  ln_tensor_release(iv);
  ln_tensor_release(one);
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}
