/*
** op_linalg.c: matrix products (matmul, mm, bmm, addmm, dot, outer,
** linear) and their backward.
**
** Every op turns its operands into stacks of matrices (..., m, k) and
** (..., k, n) (a vector becomes a 1-row or 1-column matrix), and product()
** does the rest: NumPy broadcasting of the batch dims, dtype promotion, and
** the backend's gemm on the operands' own strides. A transposed weight or a
** broadcast batch is never copied: gemm takes row, column and batch strides,
** and batch dims are merged (or folded into the rows, for x @ W with a 3-D
** x) so that one gemm call covers as much as possible.
*/
#include "backend.h"
#include "op.h"
#include "shape.h"

/* How an operand became a matrix: as it is, or a vector as (1,k) or (k,1). */
enum { AS_IS, AS_ROW, AS_COL };

/* A raw (no history) matrix view of t. */
static ln_tensor *as_matrix(ln_tensor *t, int how) {
  if (how == AS_IS) return ln_tensor_retain(t);
  int64_t shape[2] = {1, t->shape[0]}, stride[2] = {0, t->stride[0]};
  if (how == AS_COL) {
    shape[0] = t->shape[0], shape[1] = 1;
    stride[0] = t->stride[0], stride[1] = 0;
  }
  return ln_view_raw(t, t->offset, 2, shape, stride);
}

/* The last two dims of t swapped, no history. */
static ln_tensor *transpose_raw(ln_tensor *t) {
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  int n = t->ndim;
  for (int i = 0; i < n; i++) shape[i] = t->shape[i], stride[i] = t->stride[i];
  shape[n - 2] = t->shape[n - 1], stride[n - 2] = t->stride[n - 1];
  shape[n - 1] = t->shape[n - 2], stride[n - 1] = t->stride[n - 2];
  return ln_view_raw(t, t->offset, n, shape, stride);
}

static int shapes_error(const char *op, const char *what, const ln_tensor *a,
                        const ln_tensor *b) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  return ln_error("%s: shapes %s and %s %s", op,
                  ln_shape_str(a->ndim, a->shape, s1, sizeof s1),
                  ln_shape_str(b->ndim, b->shape, s2, sizeof s2), what);
}

/* The shape of am @ bm (matrix forms): broadcast batch, then (m, n). The
** original operands a and b name the shapes in errors. */
static int product_shape(const char *op, const ln_tensor *am,
                         const ln_tensor *bm, const ln_tensor *a,
                         const ln_tensor *b, int *ndim, int64_t *shape) {
  int na = am->ndim, nb = bm->ndim;
  if (am->shape[na - 1] != bm->shape[nb - 2])
    return shapes_error(op, "cannot be multiplied", a, b);
  if (ln_broadcast_shapes(op, na - 2, am->shape, nb - 2, bm->shape, ndim,
                          shape) != LN_OK)
    return shapes_error(op, "cannot be multiplied (batch dims do not broadcast)",
                        a, b);
  if (*ndim + 2 > LN_MAX_DIMS)
    return ln_error("%s: tensors have at most %d dims", op, LN_MAX_DIMS);
  shape[(*ndim)++] = am->shape[na - 2];
  shape[(*ndim)++] = bm->shape[nb - 1];
  return LN_OK;
}

/* ---- driving the backend's gemm ----------------------------------------- */

static ln_matview matview(const ln_tensor *t, int64_t offset, int64_t bs) {
  ln_matview v = {t->storage, t->offset + offset, t->stride[t->ndim - 2],
                  t->stride[t->ndim - 1], bs};
  return v;
}

/* c = beta * c when a product has k == 0 (nothing to multiply). */
static int scale_only(ln_tensor *c, double beta) {
  if (beta == 0) return LN_BACKEND(c)->fill(c, 0);
  ln_scope s = {0};
  ln_tensor *k = LN_TMP(&s, ln_scalar(beta, c->dtype, ln_tensor_device(c)));
  ln_tensor *e = LN_TMP(&s, ln_expand_raw(k, c->ndim, c->shape));
  return ln_scope_done(&s, LN_BACKEND(c)->binary(LN_BINARY_MUL, c, c, e));
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* Batch dims of a, b, c (same ndim, c's batch shape, c contiguous) merged
** where all three step evenly across them, as cpu_for_each does for rows:
** n dims of size[i] with strides st[operand][i]. */
typedef struct batch_dims {
  int n;
  int64_t size[LN_MAX_DIMS], st[3][LN_MAX_DIMS];
} batch_dims;

static void merge_batch(const ln_tensor *const *ts, batch_dims *bd) {
  const ln_tensor *c = ts[2];
  bd->n = 0;
  for (int d = 0; d < c->ndim - 2; d++) {
    int64_t size = c->shape[d];
    if (size == 1) continue;
    int k = bd->n;
    bool merge = k > 0;
    for (int i = 0; i < 3 && merge; i++)
      merge = bd->st[i][k - 1] == ts[i]->stride[d] * size;
    if (!merge) bd->size[bd->n++] = 1;
    bd->size[bd->n - 1] *= size;
    for (int i = 0; i < 3; i++) bd->st[i][bd->n - 1] = ts[i]->stride[d];
  }
}

/* c = alpha * a @ b + beta * c, with a, b of c's dtype and device and
** expanded to c's batch shape; c is fresh and contiguous. The innermost
** merged batch dim goes to gemm in one call (folded into the rows when b is
** shared by the whole batch and a's rows run on across it); any outer ones
** loop here. */
static int run_gemm(double alpha, const ln_tensor *a, const ln_tensor *b,
                    double beta, ln_tensor *c) {
  int nd = c->ndim;
  int64_t m = c->shape[nd - 2], n = c->shape[nd - 1], k = a->shape[nd - 1];
  if (ln_tensor_numel(c) == 0) return LN_OK;
  if (k == 0) return scale_only(c, beta);
  const ln_tensor *ts[3] = {a, b, c};
  batch_dims bd;
  merge_batch(ts, &bd);
  int64_t inner = bd.n ? bd.size[bd.n - 1] : 1, outer = 1, bs[3] = {0, 0, 0};
  for (int i = 0; i < 3 && bd.n; i++) bs[i] = bd.st[i][bd.n - 1];
  for (int d = 0; d + 1 < bd.n; d++) outer *= bd.size[d];
  int64_t rows = m, batch = inner;
  if (inner > 1 && bs[1] == 0 && bs[0] == m * a->stride[nd - 2] &&
      bs[2] == m * c->stride[nd - 2])
    rows = m * inner, batch = 1;
  for (int64_t o = 0; o < outer; o++) {
    int64_t off[3] = {0, 0, 0}, rest = o;
    for (int d = bd.n - 2; d >= 0; d--) {
      int64_t idx = rest % bd.size[d];
      rest /= bd.size[d];
      for (int i = 0; i < 3; i++) off[i] += idx * bd.st[i][d];
    }
    if (LN_BACKEND(c)->gemm(c->dtype, batch, rows, n, k, alpha,
                            matview(a, off[0], bs[0]), matview(b, off[1], bs[1]),
                            beta, matview(c, off[2], bs[2])) != LN_OK)
      return LN_ERR;
  }
  return LN_OK;
}

/* am, bm cast to out's dtype and expanded to its batch shape, then
** run_gemm. */
static int gemm_into(ln_tensor *out, double alpha, ln_tensor *am,
                     ln_tensor *bm, double beta) {
  int nd = out->ndim;
  int64_t sa[LN_MAX_DIMS], sb[LN_MAX_DIMS];
  for (int i = 0; i < nd - 2; i++) sa[i] = sb[i] = out->shape[i];
  sa[nd - 2] = am->shape[am->ndim - 2], sa[nd - 1] = am->shape[am->ndim - 1];
  sb[nd - 2] = bm->shape[bm->ndim - 2], sb[nd - 1] = bm->shape[bm->ndim - 1];
  ln_scope s = {0};
  ln_tensor *ca = LN_TMP(&s, ln_cast_raw(am, out->dtype));
  ln_tensor *cb = LN_TMP(&s, ln_cast_raw(bm, out->dtype));
  ln_tensor *ea = LN_TMP(&s, ln_expand_raw(ca, nd, sa));
  ln_tensor *eb = LN_TMP(&s, ln_expand_raw(cb, nd, sb));
  return ln_scope_done(&s, run_gemm(alpha, ea, eb, beta, out));
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* out = alpha * am @ bm + beta * c (c broadcast to the result; NULL or
** beta == 0: none), no history. am, bm are matrix forms; a and b, the
** original operands, name shapes and dtypes in errors. */
static ln_tensor *product(const char *op, ln_tensor *am, ln_tensor *bm,
                          const ln_tensor *a, const ln_tensor *b, double alpha,
                          ln_tensor *c, double beta) {
  int nd;
  int64_t shape[LN_MAX_DIMS];
  if (ln_check_same_device(op, am, bm) != LN_OK ||
      (c && ln_check_same_device(op, am, c) != LN_OK) ||
      product_shape(op, am, bm, a, b, &nd, shape) != LN_OK)
    return NULL;
  ln_dtype dt = ln_dtype_promote(am->dtype, bm->dtype);
  if (c && beta != 0) dt = ln_dtype_promote(dt, c->dtype);
  if (!ln_dtype_is_float(dt))
    return ln_error("%s: expected float32 or float64 tensors, got %s and %s",
                    op, ln_dtype_name(a->dtype), ln_dtype_name(b->dtype)),
           NULL;
  ln_scope s = {0};
  ln_tensor *out = LN_TMP(&s, ln_empty(nd, shape, dt, ln_tensor_device(am)));
  if (c) { /* checked even when beta == 0 ignores its values */
    ln_tensor *ec = ln_expand_raw(c, nd, shape);
    if (!ec) {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      ln_error("%s: input of shape %s cannot be broadcast to the product's "
               "shape %s", op, ln_shape_str(c->ndim, c->shape, s1, sizeof s1),
               ln_shape_str(nd, shape, s2, sizeof s2));
      goto fail;
    }
    ec = LN_TMP(&s, ec);
    if (beta != 0 && LN_BACKEND(out)->copy(out, ec) != LN_OK) goto fail;
  }
  if (gemm_into(out, alpha, am, bm, c ? beta : 0) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* t (contiguous) seen with the shape it has without the dims that vector
** operands added: (..., 1, n) -> (..., n) and so on. */
static ln_tensor *drop_vector_dims(ln_tensor *t, bool drop_m, bool drop_n) {
  int64_t shape[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < t->ndim; i++) {
    if (i == t->ndim - 2 && drop_m) continue;
    if (i == t->ndim - 1 && drop_n) continue;
    shape[n++] = t->shape[i];
  }
  ln_contiguous_strides(n, shape, stride);
  return ln_view_raw(t, t->offset, n, shape, stride);
}

/* ---- backward ----------------------------------------------------------- */

/* g reshaped (summed first where it was broadcast) to x's shape via xm,
** x's matrix form: a new reference. */
static ln_tensor *fit_grad(ln_tensor *g, const ln_tensor *xm,
                           const ln_tensor *x) {
  ln_scope s = {0};
  ln_tensor *r = g;
  if (!ln_same_shape(r, xm)) r = LN_TMP(&s, ln_sum_to(r, xm->ndim, xm->shape));
  if (!ln_same_shape(r, x)) r = LN_TMP(&s, ln_reshape(r, x->ndim, x->shape));
  return ln_scope_keep(&s, r);
fail:
  return ln_scope_end(&s);
}

/* Gradient of bm in am @ bm when bm is a single matrix shared by a batch:
** the batch folds into one product, am^T (k, B*m) @ g (B*m, n). */
static ln_tensor *shared_right_grad(ln_tensor *am, ln_tensor *gm,
                                    double alpha) {
  int64_t s1[2] = {-1, am->shape[am->ndim - 1]};
  int64_t s2[2] = {-1, gm->shape[gm->ndim - 1]};
  ln_scope s = {0};
  ln_tensor *a2 = LN_TMP(&s, ln_reshape(am, 2, s1));
  ln_tensor *g2 = LN_TMP(&s, ln_reshape(gm, 2, s2));
  ln_tensor *at = LN_TMP(&s, transpose_raw(a2));
  return ln_scope_keep(&s, LN_TMP(&s, product("matmul", at, g2, at, g2, alpha,
                                                NULL, 0)));
fail:
  return ln_scope_end(&s);
}

/* Node layout shared by the products: inputs {a, b, [c]}, saved {a, b},
** and these parameters. */
typedef struct product_params {
  int64_t how_a, how_b;      /* how a and b are seen as matrices (AS_*) */
  double alpha, beta;        /* alpha a @ b + beta c */
} product_params;

/* d(a) = alpha g @ b^T, in a's shape. */
static ln_tensor *left_grad(ln_node *n, ln_tensor *gm, const ln_tensor *am) {
  const product_params *p = n->params;
  ln_tensor *sb = ln_node_saved(n, 1);
  if (!sb) return NULL;
  ln_scope s = {0};
  ln_tensor *sbm = LN_TMP(&s, as_matrix(sb, (int)p->how_b));
  ln_tensor *bt = LN_TMP(&s, transpose_raw(sbm));
  ln_tensor *g = LN_TMP(&s, product("matmul", gm, bt, gm, bt, p->alpha, NULL, 0));
  return ln_scope_keep(&s, LN_TMP(&s, fit_grad(g, am, n->inputs[0])));
fail:
  return ln_scope_end(&s);
}

/* d(b) = alpha a^T @ g, in b's shape; a batch sharing one b folds into a
** single product instead of a batch of them summed afterwards. */
static ln_tensor *right_grad(ln_node *n, ln_tensor *gm, const ln_tensor *bm) {
  const product_params *p = n->params;
  ln_tensor *sa = ln_node_saved(n, 0);
  if (!sa) return NULL;
  ln_scope s = {0};
  ln_tensor *sam = LN_TMP(&s, as_matrix(sa, (int)p->how_a)), *g;
  if (bm->ndim == 2 && gm->ndim > 2) {
    g = LN_TMP(&s, shared_right_grad(sam, gm, p->alpha));
  } else {
    ln_tensor *at = LN_TMP(&s, transpose_raw(sam));
    g = LN_TMP(&s, product("matmul", at, gm, at, gm, p->alpha, NULL, 0));
  }
  return ln_scope_keep(&s, LN_TMP(&s, fit_grad(g, bm, n->inputs[1])));
fail:
  return ln_scope_end(&s);
}

/* d(c) = beta g; the engine sums it back to c's shape. */
static ln_tensor *scaled_grad(ln_tensor *gout, double beta) {
  if (beta == 1) return ln_tensor_retain(gout);
  if (beta == 0)
    return ln_zeros(gout->ndim, gout->shape, gout->dtype, ln_tensor_device(gout));
  return ln_binary_scalar(LN_BINARY_MUL, gout, beta);
}

/* A matrix form of t made by recorded ops (create_graph). */
static ln_tensor *as_matrix_recorded(ln_tensor *t, int how) {
  if (how == AS_IS) return ln_tensor_retain(t);
  return ln_unsqueeze(t, how == AS_ROW ? 0 : 1);
}

/* product_backward under create_graph: the same gradients from recorded
** ops (matmul, transpose), so that they carry the history of gout and of
** the saved operands (double backward). */
static int product_backward_recorded(ln_node *n, ln_tensor *gout,
                                     ln_tensor **gin) {
  const product_params *p = n->params;
  ln_tensor *a = ln_node_saved(n, 0), *b = ln_node_saved(n, 1);
  if (!a || !b) return LN_ERR;
  int nd;
  int64_t shape[LN_MAX_DIMS];
  ln_scope s = {0};
  ln_tensor *am = LN_TMP(&s, as_matrix_recorded(a, (int)p->how_a));
  ln_tensor *bm = LN_TMP(&s, as_matrix_recorded(b, (int)p->how_b));
  if (product_shape("matmul", am, bm, a, b, &nd, shape) != LN_OK) goto fail;
  ln_tensor *gm = LN_TMP(&s, ln_reshape(gout, nd, shape));
  if (p->alpha != 1) gm = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, gm, p->alpha));
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *bt = LN_TMP(&s, ln_transpose(bm, bm->ndim - 2, bm->ndim - 1));
    ln_tensor *g = LN_TMP(&s, ln_matmul(gm, bt));
    LN_GRAD(&s, gin[0], fit_grad(g, am, a));
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *at = LN_TMP(&s, ln_transpose(am, am->ndim - 2, am->ndim - 1));
    ln_tensor *g = LN_TMP(&s, ln_matmul(at, gm));
    LN_GRAD(&s, gin[1], fit_grad(g, bm, b));
  }
  if (n->ninputs > 2 && ln_node_needs_grad(n, 2))
    LN_GRAD(&s, gin[2], scaled_grad(gout, p->beta));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int product_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  if (ln_creating_graph()) return product_backward_recorded(n, gout, gin);
  const product_params *p = n->params;
  ln_tensor *a = n->inputs[0], *b = n->inputs[1];
  int nd;
  int64_t shape[LN_MAX_DIMS];
  ln_scope s = {0};
  ln_tensor *am = LN_TMP(&s, as_matrix(a, (int)p->how_a));
  ln_tensor *bm = LN_TMP(&s, as_matrix(b, (int)p->how_b));
  if (product_shape("matmul", am, bm, a, b, &nd, shape) != LN_OK) goto fail;
  ln_tensor *gm = LN_TMP(&s, ln_reshape(gout, nd, shape)); /* the vector dims back in */
  if (ln_node_needs_grad(n, 0)) LN_GRAD(&s, gin[0], left_grad(n, gm, am));
  if (ln_node_needs_grad(n, 1)) LN_GRAD(&s, gin[1], right_grad(n, gm, bm));
  if (n->ninputs > 2 && ln_node_needs_grad(n, 2))
    LN_GRAD(&s, gin[2], scaled_grad(gout, p->beta));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* Records a product node on out (when needed) with the layout above. */
static int record_product(ln_tensor *out, const char *name, ln_tensor *a,
                          ln_tensor *b, ln_tensor *c, int how_a, int how_b,
                          double alpha, double beta) {
  ln_tensor *inputs[3] = {a, b, c};
  product_params p = {how_a, how_b, alpha, beta};
  ln_node *n;
  if (ln_record(&n, out, name, product_backward, c ? 3 : 2, inputs) != LN_OK ||
      ln_node_params(n, &p, sizeof p) != LN_OK ||
      ln_node_save(n, a) != LN_OK || ln_node_save(n, b) != LN_OK)
    return LN_ERR;
  return LN_OK;
}

/* Product of a and b seen as matrices (how_a, how_b), with the vector dims
** dropped from the result, recorded as `name`. */
static ln_tensor *vector_aware_product(const char *op, const char *name,
                                       ln_tensor *a, ln_tensor *b, int how_a,
                                       int how_b) {
  ln_scope s = {0};
  ln_tensor *am = LN_TMP(&s, as_matrix(a, how_a));
  ln_tensor *bm = LN_TMP(&s, as_matrix(b, how_b));
  ln_tensor *out = LN_TMP(&s, product(op, am, bm, a, b, 1, NULL, 0));
  if (how_a == AS_ROW || how_b == AS_COL)
    out = LN_TMP(&s, drop_vector_dims(out, how_a == AS_ROW, how_b == AS_COL));
  if (record_product(out, name, a, b, NULL, how_a, how_b, 1, 0) != LN_OK)
    goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* ---- the ops ------------------------------------------------------------ */

static int dims_error(const char *op, const char *expected, const ln_tensor *a,
                      const ln_tensor *b) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  return ln_error("%s: expected %s, got shapes %s and %s", op, expected,
                  ln_shape_str(a->ndim, a->shape, s1, sizeof s1),
                  ln_shape_str(b->ndim, b->shape, s2, sizeof s2));
}

/* f(a, b) = a @ b, NumPy's matmul: a 1-D a is a row, a 1-D b a column
** (their dims are dropped from the result); batch dims broadcast. */
ln_tensor *ln_matmul(ln_tensor *a, ln_tensor *b) {
  if (a->ndim == 0 || b->ndim == 0)
    return dims_error("matmul", "at least 1 dim each", a, b), NULL;
  return vector_aware_product("matmul", "MatmulBackward", a, b,
                              a->ndim == 1 ? AS_ROW : AS_IS,
                              b->ndim == 1 ? AS_COL : AS_IS);
}

/* f(a, b) = a @ b for matrices. */
ln_tensor *ln_mm(ln_tensor *a, ln_tensor *b) {
  if (a->ndim != 2 || b->ndim != 2)
    return dims_error("mm", "2-D tensors", a, b), NULL;
  return vector_aware_product("mm", "MmBackward", a, b, AS_IS, AS_IS);
}

/* f(a, b)[i] = a[i] @ b[i], same batch size, no broadcasting. */
ln_tensor *ln_bmm(ln_tensor *a, ln_tensor *b) {
  if (a->ndim != 3 || b->ndim != 3)
    return dims_error("bmm", "3-D tensors", a, b), NULL;
  if (a->shape[0] != b->shape[0])
    return shapes_error("bmm", "have different batch sizes", a, b), NULL;
  return vector_aware_product("bmm", "BmmBackward", a, b, AS_IS, AS_IS);
}

/* f(c, a, b) = beta * c + alpha * (a @ b), c broadcast to (m, n). */
ln_tensor *ln_addmm(ln_tensor *c, ln_tensor *a, ln_tensor *b, double beta,
                    double alpha) {
  if (a->ndim != 2 || b->ndim != 2)
    return dims_error("addmm", "2-D tensors", a, b), NULL;
  if (c->ndim > 2) {
    char s[LN_SHAPE_STRLEN];
    return ln_error("addmm: expected an input of at most 2 dims, got shape %s",
                    ln_shape_str(c->ndim, c->shape, s, sizeof s)),
           NULL;
  }
  ln_tensor *out = product("addmm", a, b, a, b, alpha, c, beta);
  if (!out) return NULL;
  return ln_recorded(out, record_product(out, "AddmmBackward", a, b, c, AS_IS,
                                         AS_IS, alpha, beta));
}

/* f(a, b) = sum_i a[i] b[i] */
ln_tensor *ln_dot(ln_tensor *a, ln_tensor *b) {
  if (a->ndim != 1 || b->ndim != 1)
    return dims_error("dot", "1-D tensors", a, b), NULL;
  return vector_aware_product("dot", "DotBackward", a, b, AS_ROW, AS_COL);
}

/* f(a, b)[i][j] = a[i] b[j] */
ln_tensor *ln_outer(ln_tensor *a, ln_tensor *b) {
  if (a->ndim != 1 || b->ndim != 1)
    return dims_error("outer", "1-D tensors", a, b), NULL;
  return vector_aware_product("outer", "OuterBackward", a, b, AS_COL, AS_ROW);
}

/* ---- linear ------------------------------------------------------------- */

/* d(x) = g @ w, d(w) = g^T @ x over every leading dim, d(bias) = g (the
** engine sums it down to bias's shape). Inputs {x, w, bias}, saved {x, w}. */
static int linear_backward_recorded(ln_node *n, ln_tensor *gout,
                                    ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0), *w = ln_node_saved(n, 1);
  if (!x || !w) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0)) LN_GRAD(&s, gin[0], ln_matmul(gout, w));
  if (ln_node_needs_grad(n, 1)) {
    int64_t gs[2] = {-1, w->shape[0]}, xs[2] = {-1, w->shape[1]};
    ln_tensor *g2 = LN_TMP(&s, ln_reshape(gout, 2, gs));
    ln_tensor *x2 = LN_TMP(&s, ln_reshape(x, 2, xs));
    ln_tensor *gt = LN_TMP(&s, ln_transpose(g2, 0, 1));
    LN_GRAD(&s, gin[1], ln_matmul(gt, x2));
  }
  if (n->inputs[2] && ln_node_needs_grad(n, 2))
    gin[2] = ln_tensor_retain(gout);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int linear_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  if (ln_creating_graph()) return linear_backward_recorded(n, gout, gin);
  ln_tensor *x = n->inputs[0], *w = n->inputs[1];
  int how = x->ndim == 1 ? AS_ROW : AS_IS;
  ln_scope s = {0};
  ln_tensor *xm = LN_TMP(&s, as_matrix(x, how));
  int64_t gshape[LN_MAX_DIMS];
  for (int i = 0; i < xm->ndim - 1; i++) gshape[i] = xm->shape[i];
  gshape[xm->ndim - 1] = w->shape[0];
  ln_tensor *gm = LN_TMP(&s, ln_reshape(gout, xm->ndim, gshape));
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *sw = ln_node_saved(n, 1);
    if (!sw) goto fail;
    ln_tensor *g = LN_TMP(&s, product("linear", gm, sw, gm, sw, 1, NULL, 0));
    LN_GRAD(&s, gin[0], fit_grad(g, xm, x));
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *sx = ln_node_saved(n, 0);
    if (!sx) goto fail;
    ln_tensor *sxm = LN_TMP(&s, as_matrix(sx, how));
    LN_GRAD(&s, gin[1], shared_right_grad(gm, sxm, 1)); /* g^T @ x */
  }
  if (n->inputs[2] && ln_node_needs_grad(n, 2))
    gin[2] = ln_tensor_retain(gout);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int linear_check(const ln_tensor *x, const ln_tensor *w,
                        const ln_tensor *bias) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  if (w->ndim != 2)
    return ln_error("linear: expected a 2-D weight, got shape %s",
                    ln_shape_str(w->ndim, w->shape, s1, sizeof s1));
  if (x->ndim == 0 || x->shape[x->ndim - 1] != w->shape[1])
    return ln_error("linear: input of shape %s does not match weight of shape "
                    "%s (expected a last dim of %lld)",
                    ln_shape_str(x->ndim, x->shape, s1, sizeof s1),
                    ln_shape_str(w->ndim, w->shape, s2, sizeof s2),
                    (long long)w->shape[1]);
  if (bias && (bias->ndim > 1 || (bias->ndim == 1 && bias->shape[0] != w->shape[0] &&
                                  bias->shape[0] != 1)))
    return ln_error("linear: bias of shape %s does not match weight of shape "
                    "%s (expected (%lld,))",
                    ln_shape_str(bias->ndim, bias->shape, s1, sizeof s1),
                    ln_shape_str(w->ndim, w->shape, s2, sizeof s2),
                    (long long)w->shape[0]);
  return LN_OK;
}

/* f(x, w, bias) = x @ w^T + bias, x (..., in), w (out, in), bias (out). */
ln_tensor *ln_linear(ln_tensor *x, ln_tensor *w, ln_tensor *bias) {
  if (linear_check(x, w, bias) != LN_OK) return NULL;
  int how = x->ndim == 1 ? AS_ROW : AS_IS;
  ln_scope s = {0};
  ln_tensor *xm = LN_TMP(&s, as_matrix(x, how));
  ln_tensor *wt = LN_TMP(&s, transpose_raw(w));
  ln_tensor *out = LN_TMP(&s, product("linear", xm, wt, x, w, 1, bias,
                                      bias ? 1 : 0));
  if (how == AS_ROW) out = LN_TMP(&s, drop_vector_dims(out, true, false));
  ln_tensor *inputs[3] = {x, w, bias};
  ln_node *n;
  int rc = ln_record(&n, out, "LinearBackward", linear_backward, 3, inputs);
  if (rc == LN_OK) rc = ln_node_save(n, x);
  if (rc == LN_OK) rc = ln_node_save(n, w);
  if (rc == LN_OK) return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}
