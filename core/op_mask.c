/*
** op_mask.c: ops that select or fill through a mask (masked_fill,
** index_fill, masked_select) and their backward functions, and nonzero
** (where a tensor is not 0). Positions in messages are 1-based: see
** index_util.h.
*/
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "index_util.h"
#include "op.h"
#include "shape.h"

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
  ln_scope s = {0};
  ln_tensor *m = LN_TMP(&s, ln_cast_raw(mask, LN_BOOL));
  ln_tensor *v = LN_TMP(&s, ln_scalar(value, a->dtype, dev));
  ln_tensor *me = LN_TMP(&s, ln_expand_raw(m, ndim, shape));
  ln_tensor *ve = LN_TMP(&s, ln_expand_raw(v, ndim, shape));
  ln_tensor *ae = LN_TMP(&s, ln_expand_raw(a, ndim, shape));
  ln_tensor *out = LN_TMP(&s, ln_empty(ndim, shape, a->dtype, dev));
  if (LN_BACKEND(out)->where(out, me, ve, ae) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
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
  if (!out) return NULL;
  ln_node *n;
  int rc = ln_record(&n, out, name, masked_fill_backward, 1, &a);
  if (n) rc = ln_node_save(n, mask);
  return ln_recorded(out, rc);
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
  if (ln_write_back(a, r) != LN_OK) return LN_ERR;
  ln_bump_version(a);
  if (!ln_any_requires_grad(1, &a)) return LN_OK;
  if (ln_record_inplace(a, name, masked_fill_backward, 0, NULL) != LN_OK)
    return LN_ERR;
  return ln_node_save(a->grad_fn, mask);
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
  ln_scope s = {0};
  ln_tensor *counts = LN_TMP(&s, ln_zeros(a->ndim, shape, LN_INT64, dev));
  ln_tensor *one = LN_TMP(&s, ln_scalar(1, LN_INT64, dev));
  ln_tensor *ones = LN_TMP(&s, ln_expand_raw(one, a->ndim, ones_shape));
  if (ln_check_vector_index(op, a, index) != LN_OK ||
      ln_index_add_into(op, counts, dim, index, ones, 1) != LN_OK)
    goto fail;
  return ln_scope_keep(&s, LN_TMP(&s, ln_cast_raw(counts, LN_BOOL)));
fail:
  return ln_scope_end(&s);
}

/* out = a; out[.., index[j], ..] = value along dim */
ln_tensor *ln_index_fill(ln_tensor *a, int dim, ln_tensor *index,
                         double value) {
  int d;
  if (ln_wrap_dim("index_fill", dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *mask = index_mask("index_fill", a, d, index);
  ln_tensor *out = mask ? masked_fill_op("index_fill", "IndexFillBackward", a,
                                         mask, value)
                        : NULL;
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

/* The broadcast shape of a and mask, which the gradient takes. */
typedef struct masked_select_params {
  int64_t ndim;
  int64_t shape[LN_MAX_DIMS];
} masked_select_params;

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
  ln_scope s = {0};
  ln_tensor *out = LN_TMP(&s, ln_empty(1, &total, a->dtype, ln_tensor_device(a)));
  if (total == 0) return ln_scope_keep(&s, out);
  ln_tensor *m = LN_TMP(&s, ln_cast_raw(mask, LN_BOOL));
  ln_tensor *me = LN_TMP(&s, ln_expand_raw(m, *ndim, shape));
  ln_tensor *ae = LN_TMP(&s, ln_expand_raw(a, *ndim, shape));
  if (LN_BACKEND(a)->masked_select(out, ae, me) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* d a = zeros of the broadcast shape with d out put back where mask; the
** positions come from masked_select over an arange. */
static int masked_select_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *mask = ln_node_saved(n, 0);
  if (!mask) return LN_ERR;
  const masked_select_params *p = n->params;
  int ndim = (int)p->ndim, pndim;
  const int64_t *shape = p->shape;
  int64_t numel = ln_shape_numel(ndim, shape), stride[LN_MAX_DIMS], pshape[LN_MAX_DIMS];
  ln_device dev = ln_tensor_device(gout);
  ln_contiguous_strides(ndim, shape, stride);
  ln_scope s = {0};
  ln_tensor *range = LN_TMP(&s, ln_arange(0, (double)numel, 1, LN_INT64, dev));
  ln_tensor *rv = LN_TMP(&s, ln_view_raw(range, 0, ndim, shape, stride));
  ln_tensor *pos = LN_TMP(&s, masked_select_raw(rv, mask, &pndim, pshape));
  ln_tensor *g = LN_TMP(&s, ln_zeros(1, &numel, gout->dtype, dev));
  if (ln_scatter_into("masked_select", g, 0, pos, gout, false) != LN_OK)
    goto fail;
  LN_GRAD(&s, gin[0], ln_view_raw(g, 0, ndim, shape, stride));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* out = the elements of a (broadcast with mask) where mask, as a 1-D tensor */
ln_tensor *ln_masked_select(ln_tensor *a, ln_tensor *mask) {
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  ln_tensor *out = masked_select_raw(a, mask, &ndim, shape);
  if (!out) return NULL;
  ln_node *n;
  int rc = ln_record(&n, out, "MaskedSelectBackward", masked_select_backward, 1, &a);
  masked_select_params p = {ndim, {0}};
  memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, mask);
  return ln_recorded(out, rc);
}

/* ---- nonzero ------------------------------------------------------------ */

typedef struct nonzero_params {
  bool as_tuple;
} nonzero_params;

/* Where mask is true, in row-major order, the index along dim d: an
** arange along d, broadcast to mask's shape and masked. */
static ln_tensor *nonzero_along(ln_tensor *mask, int d) {
  int64_t shape[LN_MAX_DIMS];
  for (int i = 0; i < mask->ndim; i++) shape[i] = i == d ? mask->shape[i] : 1;
  ln_scope s = {0};
  ln_tensor *r = LN_TMP(&s, ln_arange(0, (double)mask->shape[d], 1, LN_INT64,
                                      ln_tensor_device(mask)));
  r = LN_TMP(&s, ln_view(r, mask->ndim, shape));
  r = LN_TMP(&s, ln_masked_select(r, mask));
  return ln_scope_keep(&s, r);
fail:
  return ln_scope_end(&s);
}

/* The (K, ndim) int64 indices of t's K nonzero elements (NaN counts), or
** with as_tuple one (K) tensor per dim (a 0-dim t counts as 1-dim, as in
** PyTorch). No gradient: the outputs are integers. */
static int run_nonzero(ln_tensor *const *in, const void *params,
                       ln_tensor **out) {
  const nonzero_params *p = params;
  ln_tensor *t = in[0], *cols[LN_MAX_DIMS] = {NULL};
  ln_scope s = {0};
  ln_tensor *mask = LN_TMP(&s, ln_cast_raw(t, LN_BOOL));
  if (t->ndim == 0) mask = LN_TMP(&s, ln_view_raw(mask, mask->offset, 1,
                                                  (int64_t[]){1}, (int64_t[]){1}));
  for (int d = 0; d < mask->ndim; d++) cols[d] = LN_TMP(&s, nonzero_along(mask, d));
  if (p->as_tuple) {
    for (int d = 0; d < mask->ndim; d++) out[d] = ln_tensor_retain(cols[d]);
    return ln_scope_done(&s, LN_OK);
  }
  if (t->ndim == 0) { /* (K, 0) */
    int64_t shape[2] = {cols[0]->shape[0], 0};
    out[0] = LN_TMP(&s, ln_empty(2, shape, LN_INT64, ln_tensor_device(t)));
  } else {
    out[0] = LN_TMP(&s, ln_stack(t->ndim, cols, 1));
  }
  out[0] = ln_scope_keep(&s, out[0]);
  return LN_OK;
fail:
  return ln_scope_done(&s, LN_ERR);
}

static const ln_param nonzero_param_list[] = {
  {"as_tuple", LN_PARAM_BOOL, LN_P(nonzero_params, as_tuple)},
  {NULL},
};

/* luann.nonzero(t, {as_tuple = true}) returns one index tensor per dim as
** that many results: `local rows, cols = t:nonzero({as_tuple = true})`. */
LN_OP_ROW(nonzero) = {
  .name = "nonzero",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = nonzero_param_list,
  .params_size = sizeof(nonzero_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD,
  .index_outputs = (1u << LN_OP_MAX_OUT) - 1,
  .run = run_nonzero,
};
