/*
** op_tril.c: tril and triu (PyTorch's), composites: the column index minus
** the row index over the last two dims, compared with the diagonal, picks
** between the input and zero with where. Backward comes from where (the
** gradient passes through the kept triangle), on every backend.
*/
#include "op.h"
#include "shape.h"

typedef struct tri_params {
  int64_t diagonal;
} tri_params;

static const ln_param tri_param_list[] = {
  {"diagonal", LN_PARAM_INT, LN_P(tri_params, diagonal)},
  {NULL},
};

/* f(x)[..., i, j] = x[..., i, j] where j - i <= k (tril) or >= k (triu),
** 0 elsewhere. */
static ln_tensor *triangle(const char *op, ln_tensor *t, int64_t k,
                           ln_binary_op keep) {
  if (t->ndim < 2) {
    char buf[LN_SHAPE_STRLEN];
    return ln_error("%s: expected a tensor of at least 2 dims, got shape %s",
                    op, ln_shape_str(t->ndim, t->shape, buf, sizeof buf)),
           NULL;
  }
  int64_t n = t->shape[t->ndim - 2], m = t->shape[t->ndim - 1];
  int64_t col_shape[2] = {n, 1};
  ln_device dev = ln_tensor_device(t);
  ln_scope s = {0};
  ln_tensor *rows = LN_TMP(&s, ln_arange(0, (double)n, 1, LN_INT64, dev));
  ln_tensor *cols = LN_TMP(&s, ln_arange(0, (double)m, 1, LN_INT64, dev));
  ln_tensor *rcol = LN_TMP(&s, ln_view(rows, 2, col_shape)); /* (n, 1) */
  ln_tensor *diff = LN_TMP(&s, ln_sub(cols, rcol));          /* (n, m) */
  ln_tensor *cond = LN_TMP(&s, ln_binary_scalar(keep, diff, (double)k));
  ln_tensor *zero = LN_TMP(&s, ln_scalar(0, t->dtype, dev));
  ln_tensor *r = LN_TMP(&s, ln_where(cond, t, zero));
  return ln_scope_keep(&s, r);
fail:
  return ln_scope_end(&s);
}

static int run_tril(ln_tensor *const *in, const void *params,
                    ln_tensor **out) {
  const tri_params *p = params;
  out[0] = triangle("tril", in[0], p->diagonal, LN_BINARY_LE);
  return out[0] ? LN_OK : LN_ERR;
}

static int run_triu(ln_tensor *const *in, const void *params,
                    ln_tensor **out) {
  const tri_params *p = params;
  out[0] = triangle("triu", in[0], p->diagonal, LN_BINARY_GE);
  return out[0] ? LN_OK : LN_ERR;
}

LN_OP_ROW(tril) = {
  .name = "tril",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = tri_param_list,
  .params_size = sizeof(tri_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD,
  .run = run_tril,
};

LN_OP_ROW(triu) = {
  .name = "triu",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = tri_param_list,
  .params_size = sizeof(tri_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD,
  .run = run_triu,
};
