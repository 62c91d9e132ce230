/*
** limage.c: the C half of luann.image (lua/luann/image.lua holds the
** rest: options, grids, normalization, dtypes on load).
**
**   write_png(path, t)  t is (C,H,W), C = 1..4, uint8 or float; floats in
**                       [0,1] are clamped and rounded to bytes; NaN or
**                       infinity is an error (it would be drawn as some
**                       arbitrary byte and hide a diverged model)
**   read_png(path)      a (C,H,W) uint8 tensor
**
** The tensor is copied to the host as (H,W,C) into memory Lua owns, so an
** error raised here leaks nothing; libpng runs only inside the core call.
*/
#include <math.h>

#include "lbase.h"
#include "png_file.h"

static uint8_t to_byte(double v) { return (uint8_t)floor(fmin(fmax(v, 0), 1) * 255 + 0.5); }

/* Raises at the first non-finite value of the (H,W,C) values. */
static void check_finite(lua_State *L, double v, int64_t i, const int64_t *chw) {
  if (isfinite(v)) return;
  int64_t C = chw[0], W = chw[2];
  lnb_errorf(L, "image.save: the image holds %s at (%d,%d,%d) (channel, row, "
             "column); PNG pixels must be finite", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf",
             (int)(i % C + 1), (int)(i / C / W + 1), (int)(i / C % W + 1));
}

/* The pixels of t, (C,H,W) on any device, as interleaved (H,W,C) bytes. */
static uint8_t *host_pixels(lua_State *L, ln_tensor *t) {
  int64_t n = ln_tensor_numel(t);
  ln_dtype read_as = t->dtype == LN_UINT8 ? LN_UINT8
                     : t->dtype == LN_FLOAT64 ? LN_FLOAT64 : LN_FLOAT32;
  void *values = lua_newuserdatauv(L, (size_t)n * ln_dtype_size(read_as), 0);
  ln_tensor *d = ln_detach(t);
  ln_tensor *hwc = d ? ln_permute(d, (int[]){1, 2, 0}) : NULL;
  int rc = hwc ? ln_to_buffer(hwc, values, read_as) : LN_ERR;
  ln_tensor_release(hwc);
  ln_tensor_release(d);
  if (rc != LN_OK) lnb_error(L);
  if (read_as == LN_UINT8) return values;
  uint8_t *px = lua_newuserdatauv(L, (size_t)n, 0);
  for (int64_t i = 0; i < n; i++) {
    double v = read_as == LN_FLOAT64 ? ((double *)values)[i] : ((float *)values)[i];
    check_finite(L, v, i, t->shape);
    px[i] = to_byte(v);
  }
  return px;
}

static int l_write_png(lua_State *L) {
  const char *path = lnb_check_string(L, 1);
  ln_tensor *t = lnb_check(L, 2);
  char shape[LN_SHAPE_STRLEN];
  if (t->ndim != 3 || t->shape[0] < 1 || t->shape[0] > 4 || t->shape[1] < 1 ||
      t->shape[2] < 1)
    return lnb_errorf(L, "image.save: expected a (C,H,W) image with 1 to 4 "
                      "channels, got shape %s",
                      ln_shape_str(t->ndim, t->shape, shape, sizeof shape));
  if (t->dtype != LN_UINT8 && !ln_dtype_is_float(t->dtype))
    return lnb_errorf(L, "image.save: expected a float or uint8 tensor, got %s",
                      ln_dtype_name(t->dtype));
  if (ln_tensor_numel(t) > LN_PNG_MAX_BYTES)
    return lnb_errorf(L, "image.save: shape %s is more than the %d pixel "
                      "bytes an image may take",
                      ln_shape_str(t->ndim, t->shape, shape, sizeof shape),
                      (int)LN_PNG_MAX_BYTES);
  uint8_t *px = host_pixels(L, t);
  if (ln_png_write(path, px, t->shape[1], t->shape[2], (int)t->shape[0]) != LN_OK)
    return lnb_error(L);
  return 0;
}

static int l_read_png(lua_State *L) {
  return lnb_push(L, ln_png_read(lnb_check_string(L, 1)));
}

static const luaL_Reg image_functions[] = {
  {"write_png", l_write_png},
  {"read_png", l_read_png},
  {NULL, NULL},
};

/* The table lua/luann/image.lua builds on. */
static int l_image_module(lua_State *L) {
  luaL_newlib(L, image_functions);
  return 1;
}

const lnb_reg lnb_image[] = {
  {"_image_module", l_image_module, LNB_FUNCTION},
  {NULL, NULL, 0},
};
