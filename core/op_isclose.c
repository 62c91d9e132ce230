/*
** op_isclose.c: whole-tensor and tolerance comparisons, as PyTorch's
** torch.isclose, torch.allclose and torch.equal: composites of the
** pointwise ops and the `all` reduction, on any backend. They read values
** only, so they run on detached operands and record no history.
*/
#include "op.h"
#include "shape.h"

/* The dtype the tolerance test runs in: the operands' promoted dtype when
** it is float, float64 for integers (exact for |x| < 2^53; equality itself
** is tested in the promoted dtype, exactly). */
static ln_dtype tolerance_dtype(ln_dtype common) {
  return ln_dtype_is_float(common) ? common : LN_FLOAT64;
}

/* isclose(a, b) = a == b | (isfinite(d) & d <= atol + |rtol b|), d = |a - b|,
** or'd with isnan(a) & isnan(b) when equal_nan; a and b broadcast. */
ln_tensor *ln_isclose(ln_tensor *a, ln_tensor *b, double rtol, double atol,
                      bool equal_nan) {
  if (!(rtol >= 0) || !(atol >= 0))
    return ln_error("isclose: rtol and atol must be non-negative numbers, got "
                    "rtol %g, atol %g", rtol, atol),
           NULL;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  if (ln_broadcast_shapes("isclose", a->ndim, a->shape, b->ndim, b->shape,
                          &ndim, shape) != LN_OK)
    return NULL;
  ln_scope s = {0};
  ln_tensor *da = LN_TMP(&s, ln_detach(a));
  ln_tensor *db = LN_TMP(&s, ln_detach(b));
  ln_tensor *close = LN_TMP(&s, ln_binary(LN_BINARY_EQ, da, db));
  ln_dtype dt = tolerance_dtype(ln_dtype_promote(a->dtype, b->dtype));
  if (equal_nan && ln_dtype_is_float(dt)) {
    ln_tensor *na = LN_TMP(&s, ln_unary(LN_UNARY_ISNAN, da));
    ln_tensor *nb = LN_TMP(&s, ln_unary(LN_UNARY_ISNAN, db));
    ln_tensor *both = LN_TMP(&s, ln_binary(LN_BINARY_AND, na, nb));
    close = LN_TMP(&s, ln_binary(LN_BINARY_OR, close, both));
  }
  if (rtol == 0 && atol == 0) return ln_scope_keep(&s, close);
  ln_tensor *fa = LN_TMP(&s, ln_cast_raw(da, dt));
  ln_tensor *fb = LN_TMP(&s, ln_cast_raw(db, dt));
  ln_tensor *rb = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, fb, rtol));
  ln_tensor *arb = LN_TMP(&s, ln_unary(LN_UNARY_ABS, rb));
  ln_tensor *allowed = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, arb, atol));
  ln_tensor *diff = LN_TMP(&s, ln_sub(fa, fb));
  ln_tensor *err = LN_TMP(&s, ln_unary(LN_UNARY_ABS, diff));
  ln_tensor *finite = LN_TMP(&s, ln_unary(LN_UNARY_ISFINITE, err));
  ln_tensor *within = LN_TMP(&s, ln_binary(LN_BINARY_LE, err, allowed));
  ln_tensor *near = LN_TMP(&s, ln_binary(LN_BINARY_AND, finite, within));
  ln_tensor *r = LN_TMP(&s, ln_binary(LN_BINARY_OR, close, near));
  return ln_scope_keep(&s, r);
fail:
  return ln_scope_end(&s);
}

/* Whether every element of the bool tensor t is true (empty: true). */
static int all_true(ln_tensor *t, bool *out) {
  ln_tensor *all = ln_reduce(LN_REDUCE_ALL, t, -1, false);
  if (!all) return LN_ERR;
  uint8_t v = 0;
  int rc = ln_to_buffer(all, &v, LN_BOOL);
  ln_tensor_release(all);
  *out = v != 0;
  return rc;
}

int ln_allclose(ln_tensor *a, ln_tensor *b, double rtol, double atol,
                bool equal_nan, bool *out) {
  ln_tensor *close = ln_isclose(a, b, rtol, atol, equal_nan);
  if (!close) return LN_ERR;
  int rc = all_true(close, out);
  ln_tensor_release(close);
  return rc;
}

/* Same shape (no broadcasting) and equal values; NaN equals nothing. */
int ln_equal(ln_tensor *a, ln_tensor *b, bool *out) {
  *out = false;
  if (!ln_same_shape(a, b)) return LN_OK;
  ln_tensor *da = ln_detach(a), *db = da ? ln_detach(b) : NULL;
  ln_tensor *eq = db ? ln_binary(LN_BINARY_EQ, da, db) : NULL;
  ln_tensor_release(da);
  ln_tensor_release(db);
  if (!eq) return LN_ERR;
  int rc = all_true(eq, out);
  ln_tensor_release(eq);
  return rc;
}
