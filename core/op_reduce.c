/*
** op_reduce.c: reductions (sum, mean, prod, max, min, argmax, argmin,
** logsumexp, any, all), var and std, norm, (log_)softmax and sum_to, each
** with its backward.
**
** A reduction over a set of dims reaches the backend's one-dim `reduce`
** entry in one of three ways: a single dim goes straight through; several
** dims that lie in memory as one run (a contiguous tensor's trailing dims,
** all dims of a transposed matrix) are merged into one dim of a view;
** otherwise the dims are reduced one after the other, the most contiguous
** first (argmax over all elements copies to contiguous instead, since it
** needs the flat index).
**
** dtypes follow PyTorch: sum and prod of integers and bools give int64;
** mean, var, std, norm and softmax want floats; logsumexp turns integers
** into float32; max and min keep the dtype; argmax gives int64 and any/all
** bool.
**
** Gradients of max and min: along one dim (ln_max_dim, ln_reduce with
** dim >= 0) the whole gradient goes to the index returned; over several or
** all dims it is split evenly among the elements equal to the result, as
** PyTorch does for max() and amax().
*/
#include <math.h>
#include <string.h>

#include "backend.h"
#include "op.h"
#include "shape.h"

static const char *const reduce_names[LN_REDUCE_COUNT] = {
  "sum", "mean", "prod", "max", "min", "argmax", "argmin", "logsumexp",
  "any", "all",
};

/* ---- shapes and dtypes --------------------------------------------------- */

/* a's shape with the dims in mask kept as 1s. */
static void keep_shape(const ln_tensor *a, unsigned mask, int64_t *shape) {
  for (int d = 0; d < a->ndim; d++)
    shape[d] = mask >> d & 1 ? 1 : a->shape[d];
}

/* a's shape without the dims in mask; returns its ndim. */
static int drop_shape(const ln_tensor *a, unsigned mask, int64_t *shape) {
  int n = 0;
  for (int d = 0; d < a->ndim; d++)
    if (!(mask >> d & 1)) shape[n++] = a->shape[d];
  return n;
}

/* A contiguous tensor seen with another shape of the same size. */
static ln_tensor *reshaped_raw(ln_tensor *t, int ndim, const int64_t *shape) {
  int64_t stride[LN_MAX_DIMS];
  ln_contiguous_strides(ndim, shape, stride);
  return ln_view_raw(t, t->offset, ndim, shape, stride);
}

static ln_tensor *contiguous_raw(ln_tensor *t) {
  if (ln_tensor_is_contiguous(t)) return ln_tensor_retain(t);
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
  if (r && LN_BACKEND(t)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static bool is_extreme(ln_reduce_op op) {
  return op == LN_REDUCE_MAX || op == LN_REDUCE_MIN || op == LN_REDUCE_ARGMAX ||
         op == LN_REDUCE_ARGMIN;
}

static ln_dtype result_dtype(ln_reduce_op op, ln_dtype dt) {
  switch (op) {
    case LN_REDUCE_SUM: case LN_REDUCE_PROD:
      return ln_dtype_is_float(dt) ? dt : LN_INT64;
    case LN_REDUCE_LOGSUMEXP: return ln_dtype_is_float(dt) ? dt : LN_FLOAT32;
    case LN_REDUCE_ARGMAX: case LN_REDUCE_ARGMIN: return LN_INT64;
    case LN_REDUCE_ANY: case LN_REDUCE_ALL: return LN_BOOL;
    default: return dt; /* mean (float only), max, min */
  }
}

/* What reducing no elements gives. */
static double identity(ln_reduce_op op) {
  switch (op) {
    case LN_REDUCE_PROD: case LN_REDUCE_ALL: return 1;
    case LN_REDUCE_MEAN: return NAN;
    case LN_REDUCE_LOGSUMEXP: return -INFINITY;
    default: return 0;
  }
}

static int check_float(const char *op, const ln_tensor *a) {
  if (ln_dtype_is_float(a->dtype)) return LN_OK;
  return ln_error("%s: expected a float tensor, got %s", op,
                  ln_dtype_name(a->dtype));
}

/* Turns a list of dims (ndims 0: all) into a bit mask; errors name op. */
static int dims_mask(const char *op, const ln_tensor *a, int ndims,
                     const int *dims, unsigned *mask) {
  *mask = 0;
  if (ndims == 0) {
    *mask = (1u << a->ndim) - 1;
    return LN_OK;
  }
  if (ndims < 0 || ndims > LN_MAX_DIMS || !dims)
    return ln_error("%s: bad list of %d dims", op, ndims);
  for (int i = 0; i < ndims; i++) {
    int d;
    if (ln_wrap_dim(op, dims[i], a->ndim, false, &d) != LN_OK) return LN_ERR;
    if (*mask >> d & 1)
      return ln_error("%s: dim %d appears more than once in the list of dims",
                      op, d + 1);
    *mask |= 1u << d;
  }
  return LN_OK;
}

/* max, min, argmax and argmin have no identity: no empty reduced dim. */
static int check_nonempty(ln_reduce_op op, const ln_tensor *a, unsigned mask,
                          bool all) {
  for (int d = 0; d < a->ndim; d++) {
    if (!(mask >> d & 1) || a->shape[d] != 0) continue;
    if (all)
      return ln_error("%s: cannot reduce an empty tensor (no identity); "
                      "give a dim", reduce_names[op]);
    return ln_error("%s: cannot reduce dim %d of size 0 (no identity)",
                    reduce_names[op], d + 1);
  }
  return LN_OK;
}

/* ---- reducing through the backend ---------------------------------------- */

/* One dim (any size) by the backend: a's shape with dim d as 1. */
static ln_tensor *reduce_one(ln_reduce_op op, ln_tensor *a, int d,
                             ln_dtype odt) {
  int64_t shape[LN_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  if (a->ndim) shape[d] = 1;
  ln_tensor *out = ln_empty(a->ndim, shape, odt, ln_tensor_device(a));
  if (out && LN_BACKEND(a)->reduce(op, out, NULL, a, d) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  return out;
}

/* Whether dims rd[0..k) lie in memory as one run, each inside the one
** before it. */
static bool dims_flow(const ln_tensor *a, const int *rd, int k) {
  for (int i = 0; i + 1 < k; i++)
    if (a->stride[rd[i]] != a->stride[rd[i + 1]] * a->shape[rd[i + 1]])
      return false;
  return true;
}

/* Reduces flowing dims rd[0..k) as one dim of a view, placed where the
** first of them (in dim order) is; the result has keep's shape. */
static ln_tensor *reduce_merged(ln_reduce_op op, ln_tensor *a, const int *rd,
                                int k, ln_dtype odt, const int64_t *keep) {
  unsigned set = 0;
  int64_t size = 1, shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  for (int i = 0; i < k; i++) set |= 1u << rd[i], size *= a->shape[rd[i]];
  int n = 0, md = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (!(set >> d & 1)) {
      shape[n] = a->shape[d];
      stride[n++] = a->stride[d];
    } else if (!(set & ((1u << d) - 1))) { /* the first merged dim */
      md = n;
      shape[n] = size;
      stride[n++] = a->stride[rd[k - 1]];
    }
  }
  ln_scope s = {0};
  ln_tensor *v = LN_TMP(&s, ln_view_raw(a, a->offset, n, shape, stride));
  ln_tensor *r = LN_TMP(&s, reduce_one(op, v, md, odt));
  return ln_scope_keep(&s, LN_TMP(&s, reshaped_raw(r, a->ndim, keep)));
fail:
  return ln_scope_end(&s);
}

/* Dims rd[0..k) (k >= 2, sizes other than 1). */
static ln_tensor *reduce_many(ln_reduce_op op, ln_tensor *a, int *rd, int k,
                              ln_dtype odt, const int64_t *keep) {
  bool ordered = op == LN_REDUCE_ARGMAX || op == LN_REDUCE_ARGMIN;
  for (int i = 1; i < k && !ordered; i++) { /* the largest stride first */
    int d = rd[i], j = i;
    for (; j > 0 && abs64(a->stride[d]) > abs64(a->stride[rd[j - 1]]); j--)
      rd[j] = rd[j - 1];
    rd[j] = d;
  }
  if (dims_flow(a, rd, k)) return reduce_merged(op, a, rd, k, odt, keep);
  if (ordered) { /* flat indices need the dims in order */
    ln_tensor *c = contiguous_raw(a);
    ln_tensor *r = c ? reduce_merged(op, c, rd, k, odt, keep) : NULL;
    ln_tensor_release(c);
    return r;
  }
  ln_tensor *t = ln_tensor_retain(a);
  for (int left = k; left > 0 && t; left--) { /* the smallest stride first */
    ln_tensor *r = reduce_one(op, t, rd[left - 1], odt);
    ln_tensor_release(t);
    t = r;
  }
  return t;
}

/* The reduction of a over the dims in mask, keepdim-shaped, no autograd.
** Checks are done by the caller. */
static ln_tensor *reduce_raw(ln_reduce_op op, ln_tensor *a, unsigned mask) {
  ln_dtype odt = result_dtype(op, a->dtype);
  int64_t keep[LN_MAX_DIMS];
  keep_shape(a, mask, keep);
  int rd[LN_MAX_DIMS], k = 0, first = a->ndim ? -1 : 0;
  for (int d = 0; d < a->ndim; d++) { /* size-1 dims reduce to themselves */
    if (!(mask >> d & 1)) continue;
    if (first < 0) first = d;
    if (a->shape[d] != 1) rd[k++] = d;
  }
  if (first < 0) /* callers always reduce something; be safe anyway */
    return ln_error("%s: no dims to reduce", reduce_names[op]), NULL;
  if (ln_tensor_numel(a) == 0)
    return ln_full(a->ndim, keep, identity(op), odt, ln_tensor_device(a));
  /* The backend gets out's dtype for the value ops (sum of bools: int64). */
  ln_tensor *x = is_extreme(op) || op == LN_REDUCE_ANY || op == LN_REDUCE_ALL
                     ? ln_tensor_retain(a)
                     : ln_cast_raw(a, odt);
  if (!x) return NULL;
  ln_tensor *r = k >= 2 ? reduce_many(op, x, rd, k, odt, keep)
                        : reduce_one(op, x, k ? rd[0] : first, odt);
  ln_tensor_release(x);
  return r;
}

/* r (keepdim-shaped) without the reduced dims unless keepdim. */
static ln_tensor *finish(ln_tensor *r, const ln_tensor *a, unsigned mask,
                         bool keepdim) {
  if (!r || keepdim) return r;
  int64_t shape[LN_MAX_DIMS];
  int n = drop_shape(a, mask, shape);
  ln_tensor *v = reshaped_raw(r, n, shape);
  ln_tensor_release(r);
  return v;
}

/* ---- backward helpers ---------------------------------------------------- */

/* Every reduction node's parameters. */
typedef struct reduce_params {
  int64_t mask;              /* the reduced dims of inputs[0] (bit d: dim d) */
  int64_t dim;               /* max and min along one dim: that dim */
  double div;                /* var and std: N - correction (at least 0) */
  double p;                  /* norm's order */
  bool logp;                 /* log_softmax, not softmax */
} reduce_params;

static unsigned reduced_mask(const ln_node *n) {
  const reduce_params *p = n->params;
  return (unsigned)p->mask;
}

/* t reshaped to the input's shape with the reduced dims kept as 1. */
static ln_tensor *grad_keep(ln_node *n, ln_tensor *t) {
  ln_tensor *x = n->inputs[0];
  int64_t shape[LN_MAX_DIMS];
  keep_shape(x, reduced_mask(n), shape);
  return ln_reshape(t, x->ndim, shape);
}

/* gout brought back to the input's shape (an expanded view). */
static ln_tensor *grad_expand(ln_node *n, ln_tensor *gout) {
  ln_tensor *x = n->inputs[0];
  ln_tensor *g = grad_keep(n, gout);
  ln_tensor *e = g ? ln_expand(g, x->ndim, x->shape) : NULL;
  ln_tensor_release(g);
  return e;
}

/* How many inputs each output of the reduction saw. */
static int64_t reduced_count(ln_node *n) {
  const ln_tensor *x = n->inputs[0];
  int64_t c = 1;
  for (int d = 0; d < x->ndim; d++)
    if (reduced_mask(n) >> d & 1) c *= x->shape[d];
  return c;
}

static ln_tensor *scalar_like(const ln_tensor *t, double v) {
  return ln_scalar(v, t->dtype, ln_tensor_device(t));
}

/* ---- backward functions --------------------------------------------------- */

/* d sum / dx = 1 */
static int sum_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  gin[0] = grad_expand(n, gout);
  return gin[0] ? LN_OK : LN_ERR;
}

/* d mean / dx = 1 / count */
static int mean_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_scope s = {0};
  ln_tensor *g = LN_TMP(&s, grad_expand(n, gout));
  LN_GRAD(&s, gin[0], ln_binary_scalar(LN_BINARY_DIV, g, (double)reduced_count(n)));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d prod / dx_i = prod of the others: P/x_i without zeros; with one zero,
** P' (product of the nonzeros) at the zero and 0 elsewhere; with two or
** more zeros, 0. Never divides by zero. */
static int prod_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0);
  if (!x) return LN_ERR;
  unsigned mask = reduced_mask(n);
  ln_scope s = {0};
  ln_tensor *zero = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, x, 0));
  ln_tensor *one = LN_TMP(&s, scalar_like(x, 1));
  ln_tensor *nil = LN_TMP(&s, scalar_like(x, 0));
  ln_tensor *x1 = LN_TMP(&s, ln_where(zero, one, x));
  ln_tensor *p = LN_TMP(&s, reduce_raw(LN_REDUCE_PROD, x1, mask));
  ln_tensor *nz = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, zero, mask));
  ln_tensor *nz0 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, nz, 0));
  ln_tensor *nz1 = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, nz, 1));
  ln_tensor *at = LN_TMP(&s, ln_binary(LN_BINARY_AND, nz1, zero));
  ln_tensor *q = LN_TMP(&s, ln_div(p, x1));
  ln_tensor *w = LN_TMP(&s, ln_where(at, p, nil));
  ln_tensor *f = LN_TMP(&s, ln_where(nz0, q, w));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  LN_GRAD(&s, gin[0], ln_mul(f, g));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* Over several dims: split among the elements equal to the result (NaN
** results: among the NaNs). Saved: x, result. */
static int extreme_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0), *res = ln_node_saved(n, 1);
  if (!x || !res) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *m = LN_TMP(&s, grad_keep(n, res));
  ln_tensor *eq = LN_TMP(&s, ln_binary(LN_BINARY_EQ, x, m));
  ln_tensor *xn = LN_TMP(&s, ln_binary(LN_BINARY_NE, x, x));
  ln_tensor *mn = LN_TMP(&s, ln_binary(LN_BINARY_NE, m, m));
  ln_tensor *both = LN_TMP(&s, ln_binary(LN_BINARY_AND, xn, mn));
  ln_tensor *hit = LN_TMP(&s, ln_binary(LN_BINARY_OR, eq, both));
  ln_tensor *hf = LN_TMP(&s, ln_cast_raw(hit, x->dtype));
  ln_tensor *cnt = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, hf, reduced_mask(n)));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  ln_tensor *share = LN_TMP(&s, ln_div(g, cnt));
  LN_GRAD(&s, gin[0], ln_mul(hf, share));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* Along one dim: all of it to the index saved (keepdim-shaped). */
static int index_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const reduce_params *p = n->params;
  ln_tensor *idx = ln_node_saved(n, 0), *x = n->inputs[0];
  if (!idx) return LN_ERR;
  int d = (int)p->dim;
  int64_t size = x->ndim ? x->shape[d] : 1, shape[LN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = i == d ? size : 1;
  ln_scope s = {0};
  ln_tensor *ar = LN_TMP(&s, ln_arange(0, (double)size, 1, LN_INT64,
                                       ln_tensor_device(x)));
  ln_tensor *col = LN_TMP(&s, reshaped_raw(ar, x->ndim, shape));
  ln_tensor *hit = LN_TMP(&s, ln_binary(LN_BINARY_EQ, col, idx));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  ln_tensor *nil = LN_TMP(&s, scalar_like(g, 0));
  LN_GRAD(&s, gin[0], ln_where(hit, g, nil));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* d logsumexp / dx = exp(x - result). Saved: x, result. */
static int logsumexp_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0), *res = ln_node_saved(n, 1);
  if (!x || !res) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *m = LN_TMP(&s, grad_keep(n, res));
  ln_tensor *d = LN_TMP(&s, ln_sub(x, m));
  ln_tensor *e = LN_TMP(&s, ln_unary(LN_UNARY_EXP, d));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  LN_GRAD(&s, gin[0], ln_mul(e, g));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- sum, mean, prod, max, min, argmax, argmin, logsumexp, any, all ------- */

/* Records r's node over a (*n, NULL when none) with its parameters. */
static int record(ln_node **n, ln_tensor *r, const char *name,
                  ln_backward_fn bw, ln_tensor *a, reduce_params p) {
  int rc = ln_record(n, r, name, bw, 1, &a);
  return rc == LN_OK ? ln_node_params(*n, &p, sizeof p) : rc;
}

/* How each differentiable reduction records itself; saved tensors are
** the input, then the result. */
static const struct {
  const char *name;
  ln_backward_fn backward;
  bool save_input, save_result;
} reduce_grads[LN_REDUCE_COUNT] = {
  [LN_REDUCE_SUM] = {"SumBackward", sum_backward, false, false},
  [LN_REDUCE_MEAN] = {"MeanBackward", mean_backward, false, false},
  [LN_REDUCE_PROD] = {"ProdBackward", prod_backward, true, false},
  [LN_REDUCE_MAX] = {"MaxBackward", extreme_backward, true, true},
  [LN_REDUCE_MIN] = {"MinBackward", extreme_backward, true, true},
  [LN_REDUCE_LOGSUMEXP] = {"LogsumexpBackward", logsumexp_backward, true, true},
};

static int record_reduce(ln_reduce_op op, ln_tensor *r, ln_tensor *a,
                         unsigned mask) {
  if (!reduce_grads[op].backward || !ln_dtype_is_float(r->dtype) ||
      !ln_dtype_is_float(a->dtype))
    return LN_OK;
  ln_node *n;
  int rc = record(&n, r, reduce_grads[op].name, reduce_grads[op].backward, a,
                  (reduce_params){.mask = mask});
  if (rc == LN_OK && reduce_grads[op].save_input) rc = ln_node_save(n, a);
  if (rc == LN_OK && reduce_grads[op].save_result) rc = ln_node_save(n, r);
  return rc;
}

static int check_reduce(ln_reduce_op op, const ln_tensor *a, int ndims,
                        const int *dims, unsigned *mask) {
  if ((unsigned)op >= LN_REDUCE_COUNT)
    return ln_error("reduce: unknown op %d", (int)op);
  if (!a) return ln_error("%s: expected a tensor", reduce_names[op]);
  const char *name = reduce_names[op];
  if (op == LN_REDUCE_MEAN && check_float(name, a) != LN_OK) return LN_ERR;
  if (dims_mask(name, a, ndims, dims, mask) != LN_OK) return LN_ERR;
  bool all = ndims == 0;
  if ((op == LN_REDUCE_ARGMAX || op == LN_REDUCE_ARGMIN) && !all && ndims > 1)
    return ln_error("%s: expected one dim, got %d", name, ndims);
  return is_extreme(op) ? check_nonempty(op, a, *mask, all) : LN_OK;
}

ln_tensor *ln_reduce_dims(ln_reduce_op op, ln_tensor *a, int ndims,
                          const int *dims, bool keepdim) {
  unsigned mask;
  if (check_reduce(op, a, ndims, dims, &mask) != LN_OK) return NULL;
  ln_tensor *r = finish(reduce_raw(op, a, mask), a, mask, keepdim);
  if (!r) return NULL;
  return ln_recorded(r, record_reduce(op, r, a, mask));
}

ln_tensor *ln_reduce(ln_reduce_op op, ln_tensor *a, int dim, bool keepdim) {
  if (dim < 0) return ln_reduce_dims(op, a, 0, NULL, keepdim);
  if (op == LN_REDUCE_MAX || op == LN_REDUCE_MIN) {
    ln_tensor *values = NULL, *indices = NULL;
    int rc = op == LN_REDUCE_MAX ? ln_max_dim(a, dim, keepdim, &values, &indices)
                                 : ln_min_dim(a, dim, keepdim, &values, &indices);
    ln_tensor_release(indices);
    return rc == LN_OK ? values : NULL;
  }
  return ln_reduce_dims(op, a, 1, &dim, keepdim);
}

/* Values and int64 indices of the max or min along one dim. */
static int extreme_dim(ln_reduce_op op, ln_tensor *a, int dim, bool keepdim,
                       ln_tensor **values, ln_tensor **indices) {
  const char *name = reduce_names[op];
  unsigned mask;
  *values = *indices = NULL;
  if (!a) return ln_error("%s: expected a tensor", name);
  if (dims_mask(name, a, 1, &dim, &mask) != LN_OK ||
      check_nonempty(op, a, mask, false) != LN_OK)
    return LN_ERR;
  int d = a->ndim ? __builtin_ctz(mask) : 0;
  int64_t keep[LN_MAX_DIMS];
  keep_shape(a, mask, keep);
  ln_device dev = ln_tensor_device(a);
  ln_scope s = {0};
  ln_tensor *v = LN_TMP(&s, ln_empty(a->ndim, keep, a->dtype, dev));
  ln_tensor *ix = LN_TMP(&s, ln_empty(a->ndim, keep, LN_INT64, dev));
  if (ln_tensor_numel(v) > 0 && LN_BACKEND(a)->reduce(op, v, ix, a, d) != LN_OK)
    goto fail;
  ln_tensor *rv = LN_TMP(&s, finish(ln_tensor_retain(v), a, mask, keepdim));
  ln_tensor *ri = LN_TMP(&s, finish(ln_tensor_retain(ix), a, mask, keepdim));
  if (ln_dtype_is_float(a->dtype)) {
    ln_node *n;
    int rc = record(&n, rv, op == LN_REDUCE_MAX ? "MaxBackward" : "MinBackward",
                    index_backward, a, (reduce_params){.mask = mask, .dim = d});
    if (rc == LN_OK) rc = ln_node_save(n, ix);
    if (rc != LN_OK) goto fail;
  }
  *values = ln_tensor_retain(rv);
  *indices = ln_scope_keep(&s, ri);
  return LN_OK;
fail:
  return ln_scope_done(&s, LN_ERR);
}

int ln_max_dim(ln_tensor *a, int dim, bool keepdim, ln_tensor **values,
               ln_tensor **indices) {
  return extreme_dim(LN_REDUCE_MAX, a, dim, keepdim, values, indices);
}

int ln_min_dim(ln_tensor *a, int dim, bool keepdim, ln_tensor **values,
               ln_tensor **indices) {
  return extreme_dim(LN_REDUCE_MIN, a, dim, keepdim, values, indices);
}

/* ---- var and std --------------------------------------------------------- */

/* The mask of dim (< 0: all dims) for var, std and norm. */
static int dim_or_all(const char *op, const ln_tensor *a, int dim,
                      unsigned *mask) {
  return dims_mask(op, a, dim < 0 ? 0 : 1, &dim, mask);
}

/* d var / dx = 2 (x - mean) / (N - correction); d std / dx = that over
** 2 std, taken as 0 where std is 0 (as PyTorch). Saved: x, mean (keepdim),
** and std's result. */
static int var_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const reduce_params *p = n->params;
  ln_tensor *x = ln_node_saved(n, 0), *mean = ln_node_saved(n, 1);
  if (!x || !mean) return LN_ERR;
  bool is_std = n->nsaved > 2;
  ln_tensor *sd = is_std ? ln_node_saved(n, 2) : NULL;
  if (is_std && !sd) return LN_ERR;
  double scale = (is_std ? 1 : 2) / p->div;
  ln_scope s = {0};
  ln_tensor *dev = LN_TMP(&s, ln_sub(x, mean));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  if (is_std) { /* g / std, and 0 where std is 0 */
    ln_tensor *k = LN_TMP(&s, grad_keep(n, sd));
    ln_tensor *z = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, k, 0));
    ln_tensor *q = LN_TMP(&s, ln_div(g, k));
    ln_tensor *nil = LN_TMP(&s, scalar_like(q, 0));
    g = LN_TMP(&s, ln_where(z, nil, q));
  }
  ln_tensor *gs = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, g, scale));
  LN_GRAD(&s, gin[0], ln_mul(dev, gs));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* var = sum((x - mean)^2) / max(0, N - correction), two passes. */
static ln_tensor *variance(const char *op, ln_tensor *a, int dim, bool keepdim,
                           int correction, bool take_sqrt) {
  unsigned mask;
  if (!a) return ln_error("%s: expected a tensor", op), NULL;
  if (check_float(op, a) != LN_OK || dim_or_all(op, a, dim, &mask) != LN_OK)
    return NULL;
  int64_t keep[LN_MAX_DIMS], count = 1;
  keep_shape(a, mask, keep);
  for (int d = 0; d < a->ndim; d++) count *= mask >> d & 1 ? a->shape[d] : 1;
  double div = count - correction > 0 ? (double)(count - correction) : 0;
  ln_scope s = {0};
  bool was = ln_set_grad_enabled(false);
  ln_tensor *mean = LN_TMP(&s, reduce_raw(LN_REDUCE_MEAN, a, mask));
  ln_tensor *d = LN_TMP(&s, ln_sub(a, mean));
  ln_tensor *sq = LN_TMP(&s, ln_mul(d, d));
  ln_tensor *sum = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, sq, mask));
  ln_tensor *v = LN_TMP(&s, ln_binary_scalar(LN_BINARY_DIV, sum, div));
  ln_tensor *r = take_sqrt ? LN_TMP(&s, ln_unary(LN_UNARY_SQRT, v)) : v;
  ln_set_grad_enabled(was);
  r = LN_TMP(&s, finish(ln_tensor_retain(r), a, mask, keepdim));
  ln_node *n;
  int rc = record(&n, r, take_sqrt ? "StdBackward" : "VarBackward",
                  var_backward, a, (reduce_params){.mask = mask, .div = div});
  if (rc == LN_OK) rc = ln_node_save(n, a);
  if (rc == LN_OK) rc = ln_node_save(n, mean);
  if (rc == LN_OK && take_sqrt) rc = ln_node_save(n, r);
  if (rc == LN_OK) return ln_scope_keep(&s, r);
fail:
  ln_set_grad_enabled(was);
  return ln_scope_end(&s);
}

ln_tensor *ln_var(ln_tensor *a, int dim, bool keepdim, int correction) {
  return variance("var", a, dim, keepdim, correction, false);
}

ln_tensor *ln_std(ln_tensor *a, int dim, bool keepdim, int correction) {
  return variance("std", a, dim, keepdim, correction, true);
}

/* ---- norm ------------------------------------------------------------------ */

/* d |x|_p / dx = sign(x) |x|^(p-1) / norm^(p-1); p = 1: sign(x);
** p = +-inf: split among the |x| equal to the norm; p = 0: 0. Terms at
** x = 0 or norm = 0 are 0, as in PyTorch. Saved: x, result. */
static ln_tensor *norm_grad_factor(ln_node *n, ln_tensor *x, ln_tensor *res) {
  const reduce_params *rp = n->params;
  double p = rp->p;
  unsigned mask = reduced_mask(n);
  if (p == 1) return ln_unary(LN_UNARY_SIGN, x);
  ln_scope s = {0};
  ln_tensor *sg = LN_TMP(&s, ln_unary(LN_UNARY_SIGN, x));
  ln_tensor *ax = LN_TMP(&s, ln_unary(LN_UNARY_ABS, x));
  ln_tensor *m = LN_TMP(&s, grad_keep(n, res));
  if (isinf(p)) {
    ln_tensor *hit = LN_TMP(&s, ln_binary(LN_BINARY_EQ, ax, m));
    ln_tensor *hf = LN_TMP(&s, ln_cast_raw(hit, x->dtype));
    ln_tensor *cnt = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, hf, mask));
    ln_tensor *h = LN_TMP(&s, ln_div(hf, cnt));
    return ln_scope_keep(&s, LN_TMP(&s, ln_mul(sg, h)));
  }
  /* sign(x) (|x| / norm)^(p-1), 0 where x or norm is 0 */
  ln_tensor *q = LN_TMP(&s, ln_div(ax, m));
  ln_tensor *pw = LN_TMP(&s, ln_binary_scalar(LN_BINARY_POW, q, p - 1));
  ln_tensor *t = LN_TMP(&s, ln_mul(sg, pw));
  ln_tensor *z = LN_TMP(&s, ln_binary_scalar(LN_BINARY_EQ, ax, 0));
  ln_tensor *nil = LN_TMP(&s, scalar_like(x, 0));
  return ln_scope_keep(&s, LN_TMP(&s, ln_where(z, nil, t)));
fail:
  return ln_scope_end(&s);
}

static int norm_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const reduce_params *p = n->params;
  ln_tensor *x = ln_node_saved(n, 0), *res = ln_node_saved(n, 1);
  if (!x || !res) return LN_ERR;
  ln_scope s = {0};
  if (p->p == 0) {
    LN_GRAD(&s, gin[0], ln_zeros(x->ndim, x->shape, x->dtype,
                                 ln_tensor_device(x)));
    return ln_scope_done(&s, LN_OK);
  }
  ln_tensor *f = LN_TMP(&s, norm_grad_factor(n, x, res));
  ln_tensor *g = LN_TMP(&s, grad_keep(n, gout));
  LN_GRAD(&s, gin[0], ln_mul(f, g));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* The norm's value, keepdim-shaped, without autograd. */
static ln_tensor *norm_raw(ln_tensor *a, double p, unsigned mask) {
  ln_scope s = {0};
  if (p == 0) { /* the count of nonzeros */
    ln_tensor *nz = LN_TMP(&s, ln_binary_scalar(LN_BINARY_NE, a, 0));
    ln_tensor *f = LN_TMP(&s, ln_cast_raw(nz, a->dtype));
    return ln_scope_keep(&s, LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, f, mask)));
  }
  if (p == 2) { /* sqrt(sum(x * x)) */
    ln_tensor *sq = LN_TMP(&s, ln_mul(a, a));
    ln_tensor *sum = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, sq, mask));
    return ln_scope_keep(&s, LN_TMP(&s, ln_unary(LN_UNARY_SQRT, sum)));
  }
  ln_tensor *ax = LN_TMP(&s, ln_unary(LN_UNARY_ABS, a)), *r;
  if (isinf(p)) { /* max or min |x|; an empty tensor's is 0 or inf */
    bool empty = ln_tensor_numel(a) == 0;
    r = LN_TMP(&s, reduce_raw(empty ? LN_REDUCE_SUM
                              : p > 0 ? LN_REDUCE_MAX : LN_REDUCE_MIN,
                              ax, mask));
    if (empty && p < 0) LN_BACKEND(r)->fill(r, INFINITY);
  } else if (p == 1) {
    r = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, ax, mask));
  } else { /* (sum |x|^p)^(1/p) */
    ln_tensor *pw = LN_TMP(&s, ln_binary_scalar(LN_BINARY_POW, ax, p));
    ln_tensor *sum = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, pw, mask));
    r = LN_TMP(&s, ln_binary_scalar(LN_BINARY_POW, sum, 1 / p));
  }
  return ln_scope_keep(&s, r);
fail:
  return ln_scope_end(&s);
}

ln_tensor *ln_norm(ln_tensor *a, double p, int dim, bool keepdim) {
  unsigned mask;
  if (!a) return ln_error("norm: expected a tensor"), NULL;
  if (check_float("norm", a) != LN_OK ||
      dim_or_all("norm", a, dim, &mask) != LN_OK)
    return NULL;
  if (p != p) return ln_error("norm: p must not be NaN"), NULL;
  bool was = ln_set_grad_enabled(false);
  ln_tensor *r = finish(norm_raw(a, p, mask), a, mask, keepdim);
  ln_set_grad_enabled(was);
  if (!r) return NULL;
  ln_node *n;
  int rc = record(&n, r, "NormBackward", norm_backward, a,
                  (reduce_params){.mask = mask, .p = p});
  if (rc == LN_OK) rc = ln_node_save(n, a);
  if (rc == LN_OK) rc = ln_node_save(n, r);
  return ln_recorded(r, rc);
}

/* ---- softmax and log_softmax ---------------------------------------------- */

/* softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) sum(g),
** sums along the dim. Saved: y. */
static int softmax_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *y = ln_node_saved(n, 0);
  if (!y) return LN_ERR;
  unsigned mask = reduced_mask(n);
  const reduce_params *p = n->params;
  bool logp = p->logp;
  ln_scope s = {0};
  ln_tensor *gy = logp ? gout : LN_TMP(&s, ln_mul(gout, y));
  ln_tensor *sum = LN_TMP(&s, reduce_raw(LN_REDUCE_SUM, gy, mask));
  if (logp) {
    ln_tensor *e = LN_TMP(&s, ln_unary(LN_UNARY_EXP, y));
    ln_tensor *es = LN_TMP(&s, ln_mul(e, sum));
    LN_GRAD(&s, gin[0], ln_sub(gout, es));
  } else {
    ln_tensor *d = LN_TMP(&s, ln_sub(gout, sum));
    LN_GRAD(&s, gin[0], ln_mul(y, d));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static ln_tensor *softmax(const char *op, ln_tensor *a, int dim, bool logp) {
  int d;
  if (!a) return ln_error("%s: expected a tensor", op), NULL;
  if (check_float(op, a) != LN_OK ||
      ln_wrap_dim(op, dim, a->ndim, false, &d) != LN_OK)
    return NULL;
  ln_tensor *r = ln_empty(a->ndim, a->shape, a->dtype, ln_tensor_device(a));
  if (r && LN_BACKEND(a)->softmax(r, a, d, logp) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  if (!r) return NULL;
  ln_node *n;
  int rc = record(&n, r, logp ? "LogSoftmaxBackward" : "SoftmaxBackward",
                  softmax_backward, a,
                  (reduce_params){.mask = a->ndim ? 1u << d : 0, .logp = logp});
  if (rc == LN_OK) rc = ln_node_save(n, r);
  return ln_recorded(r, rc);
}

ln_tensor *ln_softmax(ln_tensor *a, int dim) {
  return softmax("softmax", a, dim, false);
}

ln_tensor *ln_log_softmax(ln_tensor *a, int dim) {
  return softmax("log_softmax", a, dim, true);
}

/* ---- sum_to --------------------------------------------------------------- */

/* Sums the dims that broadcasting added or stretched from 1; the sum and
** the reshape record their own backward (an expand). */
ln_tensor *ln_sum_to(ln_tensor *a, int ndim, const int64_t *shape) {
  if (!a) return ln_error("sum_to: expected a tensor"), NULL;
  int lead = a->ndim - ndim, dims[LN_MAX_DIMS], k = 0;
  bool ok = ndim >= 0 && lead >= 0 && (ndim == 0 || shape);
  for (int i = 0; ok && i < ndim; i++)
    ok = shape[i] == a->shape[lead + i] || shape[i] == 1;
  if (!ok) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    return ln_error("sum_to: shape %s cannot be summed to %s",
                    ln_shape_str(a->ndim, a->shape, s1, sizeof s1),
                    ndim >= 0 && ndim <= LN_MAX_DIMS && shape
                        ? ln_shape_str(ndim, shape, s2, sizeof s2) : "?"),
           NULL;
  }
  for (int d = 0; d < a->ndim; d++)
    if (d < lead || (shape[d - lead] == 1 && a->shape[d] != 1)) dims[k++] = d;
  if (k == 0) return ln_reshape(a, ndim, shape);
  ln_tensor *s = ln_reduce_dims(LN_REDUCE_SUM, a, k, dims, true);
  ln_tensor *r = s ? ln_reshape(s, ndim, shape) : NULL;
  ln_tensor_release(s);
  return r;
}
