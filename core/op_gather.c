/*
** op_gather.c: ops that read or write through an index tensor (gather,
** scatter, scatter_add, index_select, index_add, one_hot) and their
** backward functions. Positions in messages are 1-based: see index_util.h.
*/
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "index_util.h"
#include "op.h"
#include "shape.h"

/* ---- helpers ------------------------------------------------------------ */

/* Zeros of shape with g written into its leading corner: the gradient of
** a src larger than the index that read it. */
static ln_tensor *pad_to(ln_tensor *g, int ndim, const int64_t *shape) {
  ln_scope s = {0};
  ln_tensor *z = LN_TMP(&s, ln_zeros(ndim, shape, g->dtype, ln_tensor_device(g)));
  ln_tensor *w = LN_TMP(&s, ln_view_raw(z, 0, g->ndim, g->shape, z->stride));
  if (LN_BACKEND(z)->copy(w, g) != LN_OK) goto fail;
  return ln_scope_keep(&s, z);
fail:
  return ln_scope_end(&s);
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
  ln_scope s = {0};
  ln_tensor *a1 = LN_TMP(&s, ln_as_1d(a));
  ln_tensor *i1 = LN_TMP(&s, ln_as_1d(index));
  if (check_gather(a1, dim, i1) != LN_OK) goto fail;
  ln_tensor *out = LN_TMP(&s, ln_empty(index->ndim, index->shape, a->dtype,
                                       ln_tensor_device(a)));
  if (ln_tensor_numel(out) > 0) {
    ln_tensor *o1 = LN_TMP(&s, ln_as_1d(out));
    if (LN_BACKEND(a)->gather(o1, a1, dim, i1) != LN_OK) goto fail;
  }
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* gather and index_select: the dim they pick along. */
typedef struct dim_params {
  int64_t dim;
} dim_params;

/* d a = scatter_add(zeros, dim, index, d out) */
static int gather_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const dim_params *p = n->params;
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || ln_scatter_into("gather", g, (int)p->dim, index, gout, true) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

/* out[i][j][k] = a[i][index[i][j][k]][k] (dim 1) */
ln_tensor *ln_gather(ln_tensor *a, int dim, ln_tensor *index) {
  int d;
  if (ln_check_index("gather", a, index) != LN_OK ||
      ln_wrap_dim("gather", dim, a->ndim, false, &d) != LN_OK)
    return NULL;
  ln_tensor *out = gather_raw(a, d, index);
  if (!out) return NULL;
  ln_node *n;
  int rc = ln_record(&n, out, "GatherBackward", gather_backward, 1, &a);
  if (rc == LN_OK) rc = ln_node_params(n, &(dim_params){d}, sizeof(dim_params));
  if (rc == LN_OK) rc = ln_node_save(n, index);
  return ln_recorded(out, rc);
}

/* ---- scatter, scatter_add ----------------------------------------------- */

typedef struct scatter_params {
  int64_t dim;
  bool accumulate;           /* scatter_add */
} scatter_params;

/* d a = d out with the written positions zeroed (scatter) or d out
** (scatter_add); d src = gather(d out, dim, index), zero-padded to src. */
static int scatter_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *src = n->inputs[1];
  const scatter_params *p = n->params;
  int dim = (int)p->dim;
  if (!index) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0) && p->accumulate) {
    gin[0] = ln_tensor_retain(gout);
  } else if (ln_node_needs_grad(n, 0)) {
    ln_tensor *g = LN_TMP(&s, ln_copy_raw(gout));
    ln_tensor *zero = LN_TMP(&s, ln_scalar(0, gout->dtype,
                                           ln_tensor_device(gout)));
    if (ln_scatter_into("scatter", g, dim, index, zero, false) != LN_OK)
      goto fail;
    gin[0] = ln_tensor_retain(g);
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *g = LN_TMP(&s, gather_raw(gout, dim, index));
    if (src->ndim > 0 && !ln_same_shape(g, src))
      g = LN_TMP(&s, pad_to(g, src->ndim, src->shape));
    gin[1] = ln_tensor_retain(g);
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* The parameters of a scatter node (out of place, or in place on a). */
static int setup_scatter_node(ln_node *n, int dim, ln_tensor *index,
                              bool accumulate) {
  scatter_params p = {dim, accumulate};
  if (ln_node_params(n, &p, sizeof p) != LN_OK) return LN_ERR;
  return ln_node_save(n, index);
}

static ln_tensor *scatter_op(const char *op, ln_tensor *a, int dim,
                             ln_tensor *index, ln_tensor *src,
                             bool accumulate) {
  int d;
  if (ln_wrap_dim(op, dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *out = ln_copy_raw(a);
  if (!out || ln_scatter_into(op, out, d, index, src, accumulate) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  const char *name = accumulate ? "ScatterAddBackward" : "ScatterBackward";
  ln_node *n;
  int rc = ln_record(&n, out, name, scatter_backward, 2, (ln_tensor *[]){a, src});
  if (n) rc = setup_scatter_node(n, d, index, accumulate);
  return ln_recorded(out, rc);
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
    if (ln_scatter_into(op, a, d, index, src, accumulate) != LN_OK)
      return LN_ERR;
  } else {
    ln_tensor *tmp = ln_copy_raw(a);
    if (!tmp || ln_scatter_into(op, tmp, d, index, src, accumulate) != LN_OK) {
      ln_tensor_release(tmp);
      return LN_ERR;
    }
    if (ln_write_back(a, tmp) != LN_OK) return LN_ERR;
  }
  ln_bump_version(a);
  bool rec = ln_any_requires_grad(2, (ln_tensor *[]){a, src});
  const char *name = accumulate ? "ScatterAddBackward" : "ScatterBackward";
  if (rec && ln_record_inplace(a, name, scatter_backward, 1, &src) != LN_OK)
    return LN_ERR;
  /* the node ln_record_inplace made is a's grad_fn now */
  return rec ? setup_scatter_node(a->grad_fn, d, index, accumulate) : LN_OK;
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

static ln_tensor *index_select_raw(ln_tensor *a, int dim, ln_tensor *index) {
  int64_t n = ln_tensor_numel(index), shape[LN_MAX_DIMS];
  if (a->ndim == 0 && n != 1)
    return ln_error("index_select: a 0-dim tensor takes one index, got %lld",
                    (long long)n), NULL;
  memcpy(shape, a->shape, sizeof shape);
  if (a->ndim > 0) shape[dim] = n;
  ln_scope s = {0};
  ln_tensor *out = LN_TMP(&s, ln_empty(a->ndim, shape, a->dtype,
                                       ln_tensor_device(a)));
  ln_tensor *a1 = LN_TMP(&s, ln_as_1d(a));
  ln_tensor *i1 = LN_TMP(&s, ln_as_1d(index));
  ln_tensor *o1 = LN_TMP(&s, ln_as_1d(out));
  if (ln_tensor_numel(out) > 0 &&
      LN_BACKEND(a)->index_select(o1, a1, dim, i1) != LN_OK)
    goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* d a = index_add(zeros, dim, index, d out) */
static int index_select_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const dim_params *p = n->params;
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || ln_index_add_into("index_select", g, (int)p->dim, index, gout, 1) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

/* out = a[.., index[j], ..] along dim */
ln_tensor *ln_index_select(ln_tensor *a, int dim, ln_tensor *index) {
  int d;
  if (ln_check_vector_index("index_select", a, index) != LN_OK ||
      ln_wrap_dim("index_select", dim, a->ndim, false, &d) != LN_OK)
    return NULL;
  ln_tensor *out = index_select_raw(a, d, index);
  if (!out) return NULL;
  ln_node *n;
  int rc = ln_record(&n, out, "IndexSelectBackward", index_select_backward, 1, &a);
  if (rc == LN_OK) rc = ln_node_params(n, &(dim_params){d}, sizeof(dim_params));
  if (rc == LN_OK) rc = ln_node_save(n, index);
  return ln_recorded(out, rc);
}

typedef struct index_add_params {
  int64_t dim;
  double alpha;
} index_add_params;

/* d a = d out; d src = alpha * index_select(d out, dim, index) */
static int index_add_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0);
  const index_add_params *p = n->params;
  if (!index) return LN_ERR;
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(gout);
  if (!ln_node_needs_grad(n, 1)) return LN_OK;
  ln_scope s = {0};
  ln_tensor *g = LN_TMP(&s, index_select_raw(gout, (int)p->dim, index));
  if (p->alpha != 1) g = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, g, p->alpha));
  gin[1] = ln_scope_keep(&s, g);
  return LN_OK;
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int setup_index_add_node(ln_node *n, int dim, ln_tensor *index,
                                double alpha) {
  index_add_params p = {dim, alpha};
  if (ln_node_params(n, &p, sizeof p) != LN_OK) return LN_ERR;
  return ln_node_save(n, index);
}

/* out = a; out[.., index[j], ..] += alpha * src[.., j, ..] along dim */
ln_tensor *ln_index_add(ln_tensor *a, int dim, ln_tensor *index,
                        ln_tensor *src, double alpha) {
  int d;
  if (ln_wrap_dim("index_add", dim, a->ndim, false, &d) != LN_OK) return NULL;
  ln_tensor *out = ln_copy_raw(a);
  if (!out ||
      ln_index_add_into("index_add", out, d, index, src, alpha) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  ln_node *n;
  int rc = ln_record(&n, out, "IndexAddBackward", index_add_backward, 2,
                     (ln_tensor *[]){a, src});
  if (n) rc = setup_index_add_node(n, d, index, alpha);
  return ln_recorded(out, rc);
}

int ln_index_add_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src,
                  double alpha) {
  int d;
  if (ln_check_inplace(a) != LN_OK ||
      ln_wrap_dim("index_add_", dim, a->ndim, false, &d) != LN_OK)
    return LN_ERR;
  ln_tensor *tmp = ln_tensor_is_contiguous(a) ? ln_tensor_retain(a) : ln_copy_raw(a);
  int rc = tmp ? ln_index_add_into("index_add_", tmp, d, index, src, alpha) : LN_ERR;
  if (rc == LN_OK && tmp != a) rc = ln_write_back(a, ln_tensor_retain(tmp));
  ln_tensor_release(tmp);
  if (rc != LN_OK) return LN_ERR;
  ln_bump_version(a);
  if (!ln_any_requires_grad(2, (ln_tensor *[]){a, src})) return LN_OK;
  if (ln_record_inplace(a, "IndexAddBackward", index_add_backward, 1, &src) != LN_OK)
    return LN_ERR;
  return setup_index_add_node(a->grad_fn, d, index, alpha);
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
  ln_scope s = {0};
  ln_tensor *out = LN_TMP(&s, ln_zeros(nd + 1, shape, LN_INT64, dev));
  shape[nd] = 1;
  stride[nd] = 1;
  ln_tensor *iv = LN_TMP(&s, ln_view_raw(index, index->offset, nd + 1, shape,
                                         stride));
  ln_tensor *one = LN_TMP(&s, ln_scalar(1, LN_INT64, dev));
  if (ln_scatter_into("one_hot", out, nd, iv, one, false) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}
