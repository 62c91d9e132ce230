/*
** op_join.c: ops that join a list of tensors (cat, stack) and their
** backward. Positions in messages are 1-based: see index_util.h.
*/
#include <string.h>

#include "backend.h"
#include "index_util.h"
#include "op.h"
#include "shape.h"

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

/* ---- cat, stack --------------------------------------------------------- */

/* PyTorch's legacy rule: 1-D empty tensors are left out of cat. */
static bool cat_skips(const ln_tensor *t) {
  return t->ndim == 1 && t->shape[0] == 0;
}

typedef struct pieces_params {
  int64_t dim;
  bool stacked;              /* stack; else cat */
} pieces_params;

/* A Cat/Stack node's params are pieces_params. Input i is entry i of d out
** along dim when stacked; for cat it is the window of d out after the
** inputs before it, its shapes (which never change) tell where. An input
** cat skipped gets zeros. */
static int pieces_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const pieces_params *p = n->params;
  int dim = (int)p->dim;
  bool stacked = p->stacked;
  int64_t at = 0;
  for (int i = 0; i < n->ninputs; i++) {
    ln_tensor *x = n->inputs[i];
    bool skipped = !stacked && cat_skips(x);
    int64_t len = stacked || skipped ? 0 : x->shape[dim];
    if (ln_node_needs_grad(n, i)) {
      if (skipped)
        gin[i] = ln_zeros(x->ndim, x->shape, gout->dtype, ln_tensor_device(gout));
      else if (stacked)
        gin[i] = ln_select(gout, dim, i);
      else
        gin[i] = ln_narrow(gout, dim, at, len);
      if (!gin[i]) return LN_ERR;
    }
    at += len;
  }
  return LN_OK;
}

/* out, given its Cat or Stack node over all n inputs when one is needed;
** NULL (out released) when recording fails. */
static ln_tensor *record_pieces(ln_tensor *out, const char *name, int dim,
                                bool stacked, int n, ln_tensor **ts) {
  ln_node *node;
  int rc = ln_record(&node, out, name, pieces_backward, n, ts);
  pieces_params p = {dim, stacked};
  if (rc == LN_OK) rc = ln_node_params(node, &p, sizeof p);
  return ln_recorded(out, rc);
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

/* Copies each piece into its window of out. */
static int cat_fill(ln_tensor *out, int n, ln_tensor **ts, int d) {
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    if (cat_skips(ts[i])) continue;
    int64_t len = ts[i]->shape[d];
    ln_tensor *w = ln_narrow_raw(out, d, at, len);
    int rc = w ? LN_BACKEND(out)->copy(w, ts[i]) : LN_ERR;
    ln_tensor_release(w);
    if (rc != LN_OK) return LN_ERR;
    at += len;
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
  if (!out || cat_fill(out, n, ts, d) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return record_pieces(out, "CatBackward", d, false, n, ts);
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
  int rc = out ? LN_OK : LN_ERR;
  for (int i = 0; i < n && rc == LN_OK; i++) {
    ln_tensor *w = select_raw(out, d, i);
    rc = w ? LN_BACKEND(out)->copy(w, ts[i]) : LN_ERR;
    ln_tensor_release(w);
  }
  if (rc != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return record_pieces(out, "StackBackward", d, true, n, ts);
}
