/*
** lformat.c: tostring(t), laid out like PyTorch: nested brackets, one
** number format and width for the whole tensor, large tensors summarized
** with "..." (first and last 3 per dim), then shape and dtype:
**   tensor([[1., 2.],
**           [3., 4.]], shape=(2,2), dtype=float32)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbase.h"

#define EDGE 3
#define SUMMARIZE_ABOVE 1000

typedef struct format {
  const double *v;     /* values, contiguous */
  const int64_t *iv;   /* the same, exact, for integer dtypes (else NULL) */
  const ln_tensor *t;
  bool summarize, integral, scientific, is_bool;
  int width;
} format;

/* Element i; integers print from their exact values (a double would turn
** 2^53 + 1 into 2^53). */
static void format_number(const format *f, int64_t i, char *buf, size_t len) {
  double x = f->v[i];
  if (f->is_bool) snprintf(buf, len, "%s", x != 0 ? "true" : "false");
  else if (f->iv) snprintf(buf, len, "%lld", (long long)f->iv[i]);
  else if (isnan(x)) snprintf(buf, len, "nan");
  else if (isinf(x)) snprintf(buf, len, x > 0 ? "inf" : "-inf");
  else if (f->scientific) snprintf(buf, len, "%.4e", x);
  else if (f->integral) snprintf(buf, len, "%.0f.", x);
  else snprintf(buf, len, "%.4f", x);
}

/* Is element i along dim d shown? (summarized tensors skip the middle) */
static bool shown(const format *f, int64_t size, int64_t i) {
  return !f->summarize || size <= 2 * EDGE || i < EDGE || i >= size - EDGE;
}

/* Chooses the number style from every value shown (the same for all). */
static void choose_style(format *f, int64_t n) {
  double lo = INFINITY, hi = 0;
  f->integral = true;
  for (int64_t i = 0; i < n; i++) {
    double x = fabs(f->v[i]);
    if (!isfinite(x)) continue;
    if (x != floor(x)) f->integral = false;
    if (x > hi) hi = x;
    if (x > 0 && x < lo) lo = x;
  }
  f->scientific = ln_dtype_is_float(f->t->dtype) &&
                  (hi >= 1e8 || (!f->integral && lo < 1e-4));
  f->width = 1;
  for (int64_t i = 0; i < n; i++) {
    char buf[64];
    format_number(f, i, buf, sizeof buf);
    int w = (int)strlen(buf);
    if (w > f->width) f->width = w;
  }
}

static void add_block(luaL_Buffer *b, const format *f, int dim, int64_t off,
                      int indent) {
  const ln_tensor *t = f->t;
  if (dim == t->ndim) {
    char buf[64];
    format_number(f, off, buf, sizeof buf);
    for (int k = (int)strlen(buf); k < f->width; k++) luaL_addchar(b, ' ');
    luaL_addstring(b, buf);
    return;
  }
  int64_t size = t->shape[dim], stride = 1;
  for (int d = dim + 1; d < t->ndim; d++) stride *= t->shape[d];
  luaL_addchar(b, '[');
  bool first = true;
  for (int64_t i = 0; i < size; i++) {
    if (!shown(f, size, i)) {
      if (i == EDGE) {
        luaL_addstring(b, dim == t->ndim - 1 ? ", ..." : ",\n");
        if (dim != t->ndim - 1) {
          for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
          luaL_addstring(b, "...");
        }
      }
      continue;
    }
    if (!first) {
      luaL_addchar(b, ',');
      if (dim == t->ndim - 1) {
        luaL_addchar(b, ' ');
      } else {
        for (int k = dim; k < t->ndim - 1; k++) luaL_addchar(b, '\n');
        for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
      }
    }
    first = false;
    add_block(b, f, dim + 1, off + i * stride, indent + 1);
  }
  luaL_addchar(b, ']');
}

static void add_suffix(luaL_Buffer *b, const ln_tensor *t) {
  char s[LN_SHAPE_STRLEN], dev[32];
  luaL_addstring(b, ", shape=");
  luaL_addstring(b, ln_shape_str(t->ndim, t->shape, s, sizeof s));
  luaL_addstring(b, ", dtype=");
  luaL_addstring(b, ln_dtype_name(t->dtype));
  ln_device_name(ln_tensor_device(t), dev, sizeof dev);
  if (strcmp(dev, "cpu") != 0) {
    luaL_addstring(b, ", device=");
    luaL_addstring(b, dev);
  }
  if (ln_grad_fn_name(t)) {
    luaL_addstring(b, ", grad_fn=");
    luaL_addstring(b, ln_grad_fn_name(t));
  } else if (t->requires_grad) {
    luaL_addstring(b, ", requires_grad=true");
  }
}

int lnb_tostring(lua_State *L) {
  ln_tensor *t = lnb_test(L, 1);
  if (!t) {
    lua_pushstring(L, "tensor(closed)");
    return 1;
  }
  int64_t n = ln_tensor_numel(t);
  bool exact = !ln_dtype_is_float(t->dtype) && t->dtype != LN_BOOL;
  /* userdata, so that an error below frees the values too */
  size_t count = (size_t)(n ? n : 1), per = exact ? 16 : 8;
  if (count > SIZE_MAX / per) return lnb_errorf(L, "tostring: out of memory");
  double *v = lua_newuserdatauv(L, count * per, 0);
  int64_t *iv = exact ? (int64_t *)(v + count) : NULL;
  if (ln_to_buffer(t, v, LN_FLOAT64) != LN_OK ||
      (exact && ln_to_buffer(t, iv, LN_INT64) != LN_OK))
    return lnb_error(L);
  format f = {v, iv, t, n > SUMMARIZE_ABOVE, false, false, t->dtype == LN_BOOL, 1};
  choose_style(&f, n);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "tensor(");
  if (n == 0 && t->ndim > 0) luaL_addstring(&b, "[]");
  else add_block(&b, &f, 0, 0, (int)strlen("tensor("));
  add_suffix(&b, t);
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}
