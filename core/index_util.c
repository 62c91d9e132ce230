/*
** index_util.c: the index helpers shared by the op families: contiguous
** copies and views without history, index checks, and the scatter and
** index_add writes that several ops and backward functions reuse.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "index_util.h"
#include "shape.h"

/* A contiguous copy without history. */
ln_tensor *ln_copy_raw(ln_tensor *t) {
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
  if (r && LN_BACKEND(r)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

/* t itself (retained) or, for a 0-dim t, a 1-element 1-D view of it. */
ln_tensor *ln_as_1d(ln_tensor *t) {
  if (t->ndim > 0) return ln_tensor_retain(t);
  int64_t one = 1, stride = 1;
  return ln_view_raw(t, t->offset, 1, &one, &stride);
}

/* The window [start, start + len) of t along dim, without history. */
ln_tensor *ln_narrow_raw(ln_tensor *t, int dim, int64_t start,
                         int64_t len) {
  int64_t shape[LN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[dim] = len;
  return ln_view_raw(t, t->offset + start * t->stride[dim], t->ndim, shape,
                     t->stride);
}

int ln_check_index(const char *op, const ln_tensor *a,
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

/* Writes a fresh result of a's shape back into a (an in-place op). */
int ln_write_back(ln_tensor *a, ln_tensor *result) {
  int rc = result ? LN_BACKEND(a)->copy(a, result) : LN_ERR;
  ln_tensor_release(result);
  return rc;
}

int ln_check_vector_index(const char *op, const ln_tensor *a,
                          const ln_tensor *index) {
  if (ln_check_index(op, a, index) != LN_OK) return LN_ERR;
  if (index->ndim > 1) {
    char s[LN_SHAPE_STRLEN];
    return ln_error("%s: index must be 1-D, got shape %s", op,
                    ln_shape_str(index->ndim, index->shape, s, sizeof s));
  }
  return LN_OK;
}

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
int ln_scatter_into(const char *op, ln_tensor *out, int dim,
                    ln_tensor *index, ln_tensor *src, bool accumulate) {
  if (ln_check_index(op, out, index) != LN_OK ||
      ln_check_same_device(op, out, src) != LN_OK)
    return LN_ERR;
  ln_tensor *o1 = ln_as_1d(out), *i1 = ln_as_1d(index), *s1 = NULL;
  ln_tensor *cast = ln_cast_raw(src, out->dtype);
  int rc = o1 && i1 && cast ? LN_OK : LN_ERR;
  if (rc == LN_OK) {
    s1 = src->ndim == 0 ? ln_expand_raw(cast, i1->ndim, i1->shape) : ln_as_1d(cast);
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
int ln_index_add_into(const char *op, ln_tensor *out, int dim,
                      ln_tensor *index, ln_tensor *src, double alpha) {
  if (ln_check_vector_index(op, out, index) != LN_OK ||
      ln_check_same_device(op, out, src) != LN_OK)
    return LN_ERR;
  if (!ln_dtype_is_float(out->dtype) && alpha != floor(alpha))
    return ln_error("%s: alpha must be an integer for %s tensors, got %g", op,
                    ln_dtype_name(out->dtype), alpha);
  int64_t n = ln_tensor_numel(index);
  ln_tensor *o1 = ln_as_1d(out), *i1 = ln_as_1d(index), *cast = ln_cast_raw(src, out->dtype);
  ln_tensor *s = cast ? ln_as_1d(cast) : NULL;
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
