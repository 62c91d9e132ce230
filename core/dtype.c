/*
** dtype.c: element types, their sizes and names, and type promotion.
*/
#include <string.h>

#include "luann_core.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[LN_DTYPE_COUNT] = {
  [LN_FLOAT32] = {"float32", 4},
  [LN_FLOAT64] = {"float64", 8},
  [LN_INT64] = {"int64", 8},
  [LN_UINT8] = {"uint8", 1},
  [LN_BOOL] = {"bool", 1},
};

size_t ln_dtype_size(ln_dtype dt) { return dtypes[dt].size; }

const char *ln_dtype_name(ln_dtype dt) {
  return (unsigned)dt < LN_DTYPE_COUNT ? dtypes[dt].name : "?";
}

int ln_dtype_from_name(const char *name, ln_dtype *out) {
  static const struct { const char *alias; ln_dtype dt; } aliases[] = {
    {"float", LN_FLOAT32}, {"double", LN_FLOAT64}, {"long", LN_INT64},
    {"byte", LN_UINT8},
  };
  for (int i = 0; i < LN_DTYPE_COUNT; i++)
    if (strcmp(name, dtypes[i].name) == 0) return *out = (ln_dtype)i, LN_OK;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) return *out = aliases[i].dt, LN_OK;
  return ln_error("unknown dtype '%s' (expected float32, float64, int64, "
                  "uint8 or bool)", name);
}

bool ln_dtype_is_float(ln_dtype dt) {
  return dt == LN_FLOAT32 || dt == LN_FLOAT64;
}

/* Rank order: bool < uint8 < int64 < float32 < float64. */
ln_dtype ln_dtype_promote(ln_dtype a, ln_dtype b) {
  static const int rank[LN_DTYPE_COUNT] = {
    [LN_BOOL] = 0, [LN_UINT8] = 1, [LN_INT64] = 2, [LN_FLOAT32] = 3,
    [LN_FLOAT64] = 4,
  };
  return rank[a] >= rank[b] ? a : b;
}
