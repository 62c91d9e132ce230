/*
** op_reorder.c: flip, roll, repeat (also Torch7's repeatTensor) and tile,
** PyTorch's, as composites that move or copy elements without arithmetic:
** flip reads each flipped dim backwards with index_select, roll joins two
** narrows with cat, repeat copies through expand and reshape. Backward
** comes from those parts (index_add, narrow, expand's sum), on every
** backend. Each returns a new tensor, never a view, as PyTorch's do.
*/
#include <stdio.h>
#include <string.h>

#include "op.h"
#include "shape.h"

typedef struct flip_params {
  int64_t dims[LN_MAX_DIMS];
  int ndims;
} flip_params;

typedef struct roll_params {
  int64_t shifts[LN_MAX_DIMS];
  int nshifts;
  int64_t dims[LN_MAX_DIMS];
  int ndims;
} roll_params;

typedef struct repeat_params {
  int64_t sizes[LN_MAX_DIMS];
  int nsizes;
} repeat_params;

/* "(2,3)" for t, into buf. */
static const char *shape_of(const ln_tensor *t, char *buf) {
  return ln_shape_str(t->ndim, t->shape, buf, LN_SHAPE_STRLEN);
}

/* Turns dims[0..n) (0-based or negative) into 0..ndim-1, each at most
** once; a 0-dim tensor takes dim 1 and -1, as everywhere in luann. */
static int wrap_dims(const char *op, const ln_tensor *t, int n,
                     const int64_t *dims, bool unique, int *out) {
  bool seen[LN_MAX_DIMS] = {false};
  int nd = t->ndim ? t->ndim : 1;
  char buf[LN_SHAPE_STRLEN];
  for (int i = 0; i < n; i++) {
    int64_t d = dims[i];
    if (d < -nd || d >= nd)
      return ln_error("%s: dim %lld is out of range for shape %s", op,
                      (long long)(d >= 0 ? d + 1 : d), shape_of(t, buf));
    out[i] = (int)(d < 0 ? d + nd : d);
    if (unique && seen[out[i]])
      return ln_error("%s: dim %d appears more than once in dims (shape %s)",
                      op, out[i] + 1, shape_of(t, buf));
    seen[out[i]] = true;
  }
  return LN_OK;
}

/* Replaces *cur by next (a new reference), or fails when next is NULL. */
static int advance(ln_tensor **cur, ln_tensor *next) {
  ln_tensor_release(*cur);
  *cur = next;
  return next ? LN_OK : LN_ERR;
}

/* ---- flip --------------------------------------------------------------- */

/* t read backwards along dim d: index_select with n-1, n-2, .., 0. */
static ln_tensor *reverse(ln_tensor *t, int d) {
  int64_t n = t->shape[d];
  ln_tensor *idx = ln_arange((double)n - 1, -1, -1, LN_INT64,
                             ln_tensor_device(t));
  ln_tensor *r = idx ? ln_index_select(t, d, idx) : NULL;
  ln_tensor_release(idx);
  return r;
}

/* f(x)[.., i, ..] = x[.., n-1-i, ..] along each of dims */
static int run_flip(ln_tensor *const *in, const void *params,
                    ln_tensor **out) {
  const flip_params *p = params;
  ln_tensor *t = in[0];
  int dims[LN_MAX_DIMS];
  if (wrap_dims("flip", t, p->ndims, p->dims, true, dims) != LN_OK)
    return LN_ERR;
  ln_tensor *cur = ln_tensor_retain(t);
  for (int i = 0; i < p->ndims && t->ndim; i++)
    if (t->shape[dims[i]] > 1 && advance(&cur, reverse(cur, dims[i])) != LN_OK)
      return LN_ERR;
  if (cur == t && advance(&cur, ln_clone(t)) != LN_OK) return LN_ERR;
  out[0] = cur;
  return LN_OK;
}

/* ---- roll --------------------------------------------------------------- */

/* f(x)[.., i, ..] = x[.., (i - shift) mod n, ..]: the last s rows, then
** the first n - s (0 < s < n). */
static ln_tensor *roll_dim(ln_tensor *t, int d, int64_t s) {
  int64_t n = t->shape[d];
  ln_scope sc = {0};
  ln_tensor *tail = LN_TMP(&sc, ln_narrow(t, d, n - s, s));
  ln_tensor *head = LN_TMP(&sc, ln_narrow(t, d, 0, n - s));
  ln_tensor *r = LN_TMP(&sc, ln_cat(2, (ln_tensor *[]){tail, head}, d));
  return ln_scope_keep(&sc, r);
fail:
  return ln_scope_end(&sc);
}

/* shift taken mod n into 0..n-1 (n > 0; no overflow for any shift). */
static int64_t wrap_shift(int64_t shift, int64_t n) {
  return ((shift % n) + n) % n;
}

/* t rolled along its flattened elements, then given its shape back. */
static ln_tensor *roll_flat(ln_tensor *t, int64_t shift) {
  int64_t numel = ln_tensor_numel(t);
  if (numel == 0 || wrap_shift(shift, numel) == 0) return ln_clone(t);
  ln_scope sc = {0};
  ln_tensor *flat = LN_TMP(&sc, ln_reshape(t, 1, &numel));
  ln_tensor *r = LN_TMP(&sc, roll_dim(flat, 0, wrap_shift(shift, numel)));
  r = LN_TMP(&sc, ln_reshape(r, t->ndim, t->shape));
  return ln_scope_keep(&sc, r);
fail:
  return ln_scope_end(&sc);
}

static int run_roll(ln_tensor *const *in, const void *params,
                    ln_tensor **out) {
  const roll_params *p = params;
  ln_tensor *t = in[0];
  char buf[LN_SHAPE_STRLEN];
  if (p->ndims == 0 && p->nshifts != 1)
    return ln_error("roll: without dims, shifts must be one number (the "
                    "flattened tensor's), got %d for shape %s", p->nshifts,
                    shape_of(t, buf));
  if (p->ndims && p->nshifts != p->ndims)
    return ln_error("roll: shifts and dims must have the same length, got "
                    "%d shifts and %d dims for shape %s", p->nshifts,
                    p->ndims, shape_of(t, buf));
  if (p->ndims == 0) return (out[0] = roll_flat(t, p->shifts[0])) ? LN_OK : LN_ERR;
  int dims[LN_MAX_DIMS];
  if (wrap_dims("roll", t, p->ndims, p->dims, false, dims) != LN_OK)
    return LN_ERR;
  ln_tensor *cur = ln_tensor_retain(t);
  for (int i = 0; i < p->ndims && t->ndim; i++) { /* a dim twice rolls twice */
    int64_t n = t->shape[dims[i]], s = n ? wrap_shift(p->shifts[i], n) : 0;
    if (s && advance(&cur, roll_dim(cur, dims[i], s)) != LN_OK) return LN_ERR;
  }
  if (cur == t && advance(&cur, ln_clone(t)) != LN_OK) return LN_ERR;
  out[0] = cur;
  return LN_OK;
}

/* ---- repeat, tile ------------------------------------------------------- */

/* t (n dims) with dim d copied r times end to end: viewed as (P, 1, m, Q),
** expanded to (P, r, m, Q), reshaped to t's shape with r * m at d. Four
** dims whatever n is, so an 8-dim tensor needs no ninth. */
static ln_tensor *repeat_dim(ln_tensor *t, int d, int64_t r) {
  int64_t before = 1, after = 1, m = t->shape[d], shape[LN_MAX_DIMS];
  for (int i = 0; i < d; i++) before *= t->shape[i];
  for (int i = d + 1; i < t->ndim; i++) after *= t->shape[i];
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = r * m; /* checked by the caller */
  ln_scope s = {0};
  ln_tensor *v = LN_TMP(&s, ln_reshape(t, 4, (int64_t[]){before, 1, m, after}));
  ln_tensor *e = LN_TMP(&s, ln_expand(v, 4, (int64_t[]){before, r, m, after}));
  ln_tensor *y = LN_TMP(&s, ln_reshape(e, t->ndim, shape));
  return ln_scope_keep(&s, y);
fail:
  return ln_scope_end(&s);
}

/* An empty result, still linked to t for autograd (its gradient is
** zeros): t narrowed to nothing at a dim where the result is empty, seen
** as ones elsewhere and expanded. No step holds more than the result's
** shape, however large the counts. */
static ln_tensor *repeat_empty(ln_tensor *t, const int64_t *out_shape) {
  int64_t shape[LN_MAX_DIMS];
  int z = 0;
  while (out_shape[z] != 0) z++;
  for (int i = 0; i < t->ndim; i++) shape[i] = i == z ? 0 : 1;
  ln_scope s = {0};
  ln_tensor *e = LN_TMP(&s, ln_narrow(t, z, 0, 0));
  e = LN_TMP(&s, ln_reshape(e, t->ndim, shape));
  e = LN_TMP(&s, ln_expand(e, t->ndim, out_shape));
  e = LN_TMP(&s, ln_contiguous(e));
  ln_tensor_release(t);
  return ln_scope_keep(&s, e);
fail:
  ln_tensor_release(t);
  return ln_scope_end(&s);
}

/* f(x) = x copied sizes[i] times along each dim i, x's shape first padded
** with ones in front to as many dims as sizes (PyTorch's Tensor.repeat). */
static ln_tensor *repeat(const char *op, ln_tensor *t, int n,
                         const int64_t *sizes) {
  char buf[LN_SHAPE_STRLEN];
  if (n < t->ndim)
    return ln_error("%s: got %d sizes for shape %s: give at least one per "
                    "dim", op, n, shape_of(t, buf)), NULL;
  int64_t in_shape[LN_MAX_DIMS], out_shape[LN_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    in_shape[i] = i < n - t->ndim ? 1 : t->shape[i - (n - t->ndim)];
    if (sizes[i] < 0)
      return ln_error("%s: repeat counts must be non-negative, got %lld for "
                      "shape %s",
                      op, (long long)sizes[i], shape_of(t, buf)), NULL;
    if (__builtin_mul_overflow(in_shape[i], sizes[i], &out_shape[i]))
      out_shape[i] = INT64_MAX; /* refused just below */
  }
  if (ln_check_sizes(NULL, n, out_shape) != LN_OK) {
    char why[256], by[LN_SHAPE_STRLEN];
    snprintf(why, sizeof why, "%s", ln_error_message());
    return ln_error("%s: repeating shape %s by %s: %s", op, shape_of(t, buf),
                    ln_shape_str(n, sizes, by, sizeof by), why), NULL;
  }
  ln_tensor *cur = ln_reshape(t, n, in_shape);
  if (!cur) return NULL;
  if (ln_shape_numel(n, out_shape) == 0) return repeat_empty(cur, out_shape);
  bool copied = false;
  for (int i = 0; i < n; i++) {
    if (sizes[i] == 1) continue;
    if (advance(&cur, repeat_dim(cur, i, sizes[i])) != LN_OK) return NULL;
    copied = true;
  }
  if (!copied) advance(&cur, ln_clone(cur)); /* NULL on failure */
  return cur;
}

static int run_repeat(ln_tensor *const *in, const void *params,
                      ln_tensor **out) {
  const repeat_params *p = params;
  out[0] = repeat("repeat", in[0], p->nsizes, p->sizes);
  return out[0] ? LN_OK : LN_ERR;
}

static int run_repeat_tensor(ln_tensor *const *in, const void *params,
                             ln_tensor **out) {
  const repeat_params *p = params;
  out[0] = repeat("repeatTensor", in[0], p->nsizes, p->sizes);
  return out[0] ? LN_OK : LN_ERR;
}

/* torch.tile: repeat, with fewer sizes than dims padded with ones in front. */
static int run_tile(ln_tensor *const *in, const void *params,
                    ln_tensor **out) {
  const repeat_params *p = params;
  int n = p->nsizes, nd = in[0]->ndim;
  int64_t sizes[LN_MAX_DIMS];
  for (int i = 0; i < nd - n; i++) sizes[i] = 1;
  memcpy(sizes + (n < nd ? nd - n : 0), p->sizes, (size_t)n * sizeof *sizes);
  out[0] = repeat("tile", in[0], n < nd ? nd : n, sizes);
  return out[0] ? LN_OK : LN_ERR;
}

/* ---- rows --------------------------------------------------------------- */

static const char *const input_only[] = {"input", NULL};

static const ln_param flip_param_list[] = {
  {"dims", LN_PARAM_DIMS, LN_P(flip_params, dims), .count = LN_MAX_DIMS,
   .len_at = LN_P(flip_params, ndims), .required = true, .varargs = true},
  {NULL},
};

static const ln_param roll_param_list[] = {
  {"shifts", LN_PARAM_LIST, LN_P(roll_params, shifts), .count = LN_MAX_DIMS,
   .len_at = LN_P(roll_params, nshifts), .required = true},
  {"dims", LN_PARAM_DIMS, LN_P(roll_params, dims), .count = LN_MAX_DIMS,
   .len_at = LN_P(roll_params, ndims)},
  {NULL},
};

static const ln_param repeat_param_list[] = {
  {"sizes", LN_PARAM_LIST, LN_P(repeat_params, sizes), .count = LN_MAX_DIMS,
   .len_at = LN_P(repeat_params, nsizes), .required = true, .varargs = true},
  {NULL},
};

static const ln_param tile_param_list[] = {
  {"dims", LN_PARAM_LIST, LN_P(repeat_params, sizes), .count = LN_MAX_DIMS,
   .len_at = LN_P(repeat_params, nsizes), .required = true, .varargs = true},
  {NULL},
};

/* luann.flip(t, dims) and t:flip(d1, d2, ..) */
LN_OP_ROW(flip) = {
  .name = "flip", .inputs = input_only, .nrequired = 1,
  .params = flip_param_list, .params_size = sizeof(flip_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_flip,
};

/* luann.roll(t, shifts[, dims]): no dims rolls the flattened tensor. */
LN_OP_ROW(roll) = {
  .name = "roll", .inputs = input_only, .nrequired = 1,
  .params = roll_param_list, .params_size = sizeof(roll_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_roll,
};

/* PyTorch's Tensor.repeat(*sizes). `repeat` is a Lua keyword, so t:repeat(2)
** does not parse: t["repeat"](t, 2, 3) reaches it, and t:repeatTensor(2, 3)
** (Torch7's name, also luann.repeatTensor) is the same op. */
LN_OP_ROW(repeat) = {
  .name = "repeat", .inputs = input_only, .nrequired = 1,
  .params = repeat_param_list, .params_size = sizeof(repeat_params),
  .where = LN_OP_METHOD, .run = run_repeat,
};

LN_OP_ROW(repeatTensor) = {
  .name = "repeatTensor", .inputs = input_only, .nrequired = 1,
  .params = repeat_param_list, .params_size = sizeof(repeat_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_repeat_tensor,
};

/* luann.tile(t, dims) and t:tile(d1, d2, ..) */
LN_OP_ROW(tile) = {
  .name = "tile", .inputs = input_only, .nrequired = 1,
  .params = tile_param_list, .params_size = sizeof(repeat_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_tile,
};
