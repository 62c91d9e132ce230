/*
** op_pad.c: pad (PyTorch's F.pad), a composite: constant padding joins
** blocks of the value with cat; reflect, replicate and circular padding
** pick rows with index_select. Negative amounts crop (narrow). Backward
** comes from those parts, on every backend.
*/
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "shape.h"

static const char *const pad_modes[] = {"constant", "reflect", "replicate",
                                        "circular", NULL};

typedef struct pad_params {
  int64_t pad[2 * LN_MAX_DIMS];
  int npad;
  int mode;
  double value;
} pad_params;

/* The rows of a dim of size n that positions -before .. n+after-1 read. */
static int fill_index(ln_pad_mode mode, int64_t n, int64_t before,
                      int64_t after, int64_t *idx) {
  for (int64_t j = -before, k = 0; j < n + after; j++, k++) {
    int64_t r = j;
    if (mode == LN_PAD_REFLECT) r = j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
    else if (mode == LN_PAD_REPLICATE) r = j < 0 ? 0 : j >= n ? n - 1 : j;
    else r = ((j % n) + n) % n;
    idx[k] = r;
  }
  return LN_OK;
}

/* t padded (before, after >= 0) along dim d by reading rows again. */
static ln_tensor *pad_by_index(ln_tensor *t, int d, int64_t before,
                               int64_t after, ln_pad_mode mode) {
  static const char *const names[] = {"", "reflect", "replicate", "circular"};
  int64_t n = t->shape[d];
  int64_t limit = mode == LN_PAD_REFLECT ? n - 1 : mode == LN_PAD_CIRCULAR ? n
                                                                           : INT64_MAX;
  if (n == 0 || before > limit || after > limit)
    return ln_error("pad: %s padding of (%lld, %lld) needs dim %d larger "
                    "(its size is %lld)", names[mode], (long long)before,
                    (long long)after, d + 1, (long long)n), NULL;
  int64_t len = n + before + after;
  if (ln_check_sizes("pad", 1, &len) != LN_OK) return NULL;
  int64_t *idx = malloc((size_t)len * sizeof *idx);
  if (!idx) return ln_error("pad: out of memory"), NULL;
  fill_index(mode, n, before, after, idx);
  ln_tensor *index = ln_from_buffer(idx, 1, &len, LN_INT64, ln_tensor_device(t));
  free(idx);
  if (!index) return NULL;
  ln_tensor *r = ln_index_select(t, d, index);
  ln_tensor_release(index);
  return r;
}

/* t with `count` elements of value before (after when !before) dim d. */
static ln_tensor *with_block(ln_tensor *t, int d, int64_t count, double value,
                             bool before) {
  int64_t shape[LN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = count;
  ln_tensor *block = ln_full(t->ndim, shape, value, t->dtype,
                             ln_tensor_device(t));
  if (!block) return NULL;
  ln_tensor *pair[2] = {before ? block : t, before ? t : block};
  ln_tensor *r = ln_cat(2, pair, d);
  ln_tensor_release(block);
  return r;
}

ln_tensor *ln_pad(ln_tensor *t, int npad, const int64_t *pad, ln_pad_mode mode,
                  double value) {
  if (npad % 2 || npad / 2 > t->ndim)
    return ln_error("pad: expected an even number of amounts, at most 2 per "
                    "dim (%d dims), got %d", t->ndim, npad), NULL;
  if (mode != LN_PAD_CONSTANT && (t->ndim < 2 || npad / 2 > t->ndim - 1))
    return ln_error("pad: %s padding pads at most the last %d dims of a %d-dim "
                    "input (the first is the batch), got %d amounts",
                    pad_modes[mode], t->ndim > 1 ? t->ndim - 1 : 0, t->ndim,
                    npad), NULL;
  ln_scope s = {0};
  ln_tensor *cur = LN_TMP(&s, ln_tensor_retain(t));
  for (int i = 0; i < npad / 2; i++) {
    int d = t->ndim - 1 - i;
    int64_t before = pad[2 * i], after = pad[2 * i + 1];
    int64_t n = cur->shape[d];
    if (before < 0 || after < 0) { /* crop first */
      int64_t lo = before < -n ? n + 1 : before < 0 ? -before : 0;
      int64_t hi = after < -n ? n + 1 : after < 0 ? -after : 0;
      if (lo > n || hi > n - lo)
        return ln_scope_end(&s),
               ln_error("pad: amounts (%lld, %lld) crop more than dim %d's "
                        "size %lld", (long long)before, (long long)after,
                        d + 1, (long long)n), NULL;
      cur = LN_TMP(&s, ln_narrow(cur, d, lo, n - lo - hi));
      before = before > 0 ? before : 0;
      after = after > 0 ? after : 0;
    }
    if (!before && !after) continue;
    if (mode != LN_PAD_CONSTANT) {
      cur = LN_TMP(&s, pad_by_index(cur, d, before, after, mode));
      continue;
    }
    if (before) cur = LN_TMP(&s, with_block(cur, d, before, value, true));
    if (after) cur = LN_TMP(&s, with_block(cur, d, after, value, false));
  }
  return ln_scope_keep(&s, cur);
fail:
  return ln_scope_end(&s);
}

static const ln_param pad_param_list[] = {
  {"pad", LN_PARAM_LIST, LN_P(pad_params, pad), .count = 2 * LN_MAX_DIMS,
   .len_at = LN_P(pad_params, npad)},
  {"mode", LN_PARAM_CHOICE, LN_P(pad_params, mode), .choices = pad_modes},
  {"value", LN_PARAM_NUMBER, LN_P(pad_params, value)},
  {NULL},
};

static int run_pad(ln_tensor *const *in, const void *params, ln_tensor **out) {
  const pad_params *p = params;
  out[0] = ln_pad(in[0], p->npad, p->pad, (ln_pad_mode)p->mode, p->value);
  return out[0] ? LN_OK : LN_ERR;
}

LN_OP_ROW(pad) = {
  .name = "pad",
  .inputs = (const char *const[]){"input", NULL},
  .nrequired = 1,
  .params = pad_param_list,
  .params_size = sizeof(pad_params),
  .where = LN_OP_FUNCTION,
  .run = run_pad,
};
