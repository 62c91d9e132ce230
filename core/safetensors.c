/*
** safetensors.c: reading and writing safetensors files (the format is
** described in luann_formats.h). The JSON header is parsed by cJSON after
** a strict UTF-8 check; every name, dtype, size and offset in it is then
** checked against the file before any tensor is made. Tensors are made on
** demand (ln_safetensors_tensor), from the mapped file.
*/
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "luann_formats.h"
#include "mapped_file.h"
#include "shape.h"

#define LOAD "safetensors.load"
#define SAVE "safetensors.save"
/* The reference implementation's limit on the header's length. */
#define MAX_HEADER ((uint64_t)100000000)
/* Integers in JSON are doubles in cJSON: exact up to 2^53. */
#define MAX_JSON_INT 9007199254740992.0

typedef struct dtype_code {
  const char *code;
  ln_elem elem;
  bool loads;  /* luann converts it */
} dtype_code;

static const dtype_code dtype_codes[] = {
  {"F64", {LN_ELEM_FLOAT, 8, false}, true},
  {"F32", {LN_ELEM_FLOAT, 4, false}, true},
  {"F16", {LN_ELEM_FLOAT, 2, false}, true},
  {"BF16", {LN_ELEM_BFLOAT, 2, false}, true},
  {"I64", {LN_ELEM_INT, 8, false}, true},
  {"I32", {LN_ELEM_INT, 4, false}, true},
  {"I16", {LN_ELEM_INT, 2, false}, true},
  {"I8", {LN_ELEM_INT, 1, false}, true},
  {"U32", {LN_ELEM_UINT, 4, false}, true},
  {"U16", {LN_ELEM_UINT, 2, false}, true},
  {"U8", {LN_ELEM_UINT, 1, false}, true},
  {"BOOL", {LN_ELEM_BOOL, 1, false}, true},
  /* in the format, but not in luann */
  {"U64", {LN_ELEM_UINT, 8, false}, false},
  {"F8_E5M2", {LN_ELEM_FLOAT, 1, false}, false},
  {"F8_E4M3", {LN_ELEM_FLOAT, 1, false}, false},
  {"F8_E8M0", {LN_ELEM_FLOAT, 1, false}, false},
  {"F6_E2M3", {LN_ELEM_FLOAT, 1, false}, false},
  {"F6_E3M2", {LN_ELEM_FLOAT, 1, false}, false},
  {"F4", {LN_ELEM_FLOAT, 1, false}, false},
  {"C64", {LN_ELEM_FLOAT, 8, false}, false},
};
#define NCODES (sizeof dtype_codes / sizeof dtype_codes[0])

/* The code a luann dtype is saved as. */
static const char *const saved_codes[LN_DTYPE_COUNT] = {
  [LN_FLOAT32] = "F32", [LN_FLOAT64] = "F64", [LN_INT64] = "I64",
  [LN_UINT8] = "U8", [LN_BOOL] = "BOOL",
};

typedef struct entry {
  char *name;
  ln_elem elem;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  uint64_t begin, end;  /* in the data, after the header */
} entry;

struct ln_safetensors {
  ln_mapping *m;
  size_t data_start;
  int64_t n, nmeta;
  entry *e;
  char **meta;  /* key, value, key, value, ... */
};

/* ==== reading ============================================================ */

static int bad(const ln_safetensors *f, const char *fmt, const char *a,
               const char *b) {
  char what[512];
  snprintf(what, sizeof what, fmt, a, b);
  return ln_error(LOAD ": %s: %s", f->m->name, what);
}

static bool json_uint(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return false;
  double v = j->valuedouble;
  if (!(v >= 0 && v <= MAX_JSON_INT && v == floor(v))) return false;
  *out = (uint64_t)v;
  return true;
}

static const dtype_code *find_code(const char *s) {
  for (size_t i = 0; i < NCODES; i++)
    if (strcmp(dtype_codes[i].code, s) == 0) return &dtype_codes[i];
  return NULL;
}

/* Reads one tensor's entry {"dtype", "shape", "data_offsets"}. */
static int read_entry(ln_safetensors *f, const cJSON *j, entry *e) {
  const char *name = j->string;
  if (!cJSON_IsObject(j))
    return bad(f, "the entry of tensor '%.100s' is not an object%s", name, "");
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
    return bad(f, "tensor '%.100s' needs a string \"dtype\" and arrays \"shape\" "
               "and \"data_offsets\"%s", name, "");
  const dtype_code *c = find_code(dt->valuestring);
  if (!c)
    return bad(f, "tensor '%.100s' has the unknown dtype \"%.40s\"", name,
               dt->valuestring);
  if (!c->loads)
    return bad(f, "tensor '%.100s' has dtype %s, which luann cannot load (it "
               "loads F64, F32, F16, BF16, I64, I32, I16, I8, U32, U16, U8 and BOOL)",
               name, c->code);
  e->elem = c->elem;
  int ndim = cJSON_GetArraySize(shape);
  if (ndim > LN_MAX_DIMS)
    return bad(f, "tensor '%.100s' has more than 8 dims%s", name, "");
  e->ndim = 0;
  for (const cJSON *d = shape->child; d; d = d->next) {
    uint64_t v;
    if (!json_uint(d, &v))
      return bad(f, "tensor '%.100s' has a shape that is not a list of sizes%s",
                 name, "");
    e->shape[e->ndim++] = (int64_t)v;
  }
  char what[128];
  snprintf(what, sizeof what, "tensor '%.100s'", name);
  if (ln_mapping_check_shape(f->m, LOAD, what, e->ndim, e->shape,
                             ln_elem_dtype(e->elem)) != LN_OK)
    return LN_ERR;
  if (cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &e->begin) ||
      !json_uint(offs->child->next, &e->end) || e->begin > e->end)
    return bad(f, "tensor '%.100s' has data_offsets that are not [begin, end] "
               "with begin <= end%s", name, "");
  uint64_t nbytes = (uint64_t)ln_shape_numel(e->ndim, e->shape) * (uint64_t)c->elem.size;
  if (e->end - e->begin != nbytes) {
    char str[LN_SHAPE_STRLEN], msg[256];
    snprintf(msg, sizeof msg, "%s of shape %s is %llu bytes, but its data_offsets "
             "span %llu", c->code, ln_shape_str(e->ndim, e->shape, str, sizeof str),
             (unsigned long long)nbytes, (unsigned long long)(e->end - e->begin));
    return bad(f, "tensor '%.100s': %s", name, msg);
  }
  e->name = strdup(name);
  return e->name ? LN_OK : ln_error("out of memory");
}

static int read_metadata(ln_safetensors *f, const cJSON *j) {
  if (!cJSON_IsObject(j))
    return bad(f, "__metadata__ is not an object%s%s", "", "");
  f->meta = calloc((size_t)cJSON_GetArraySize(j) * 2 + 1, sizeof *f->meta);
  if (!f->meta) return ln_error("out of memory");
  for (const cJSON *kv = j->child; kv; kv = kv->next) {
    if (!cJSON_IsString(kv))
      return bad(f, "__metadata__ value '%.100s' is not a string%s", kv->string, "");
    char **slot = &f->meta[2 * f->nmeta];
    slot[0] = strdup(kv->string);
    slot[1] = strdup(kv->valuestring);
    f->nmeta++;
    if (!slot[0] || !slot[1]) return ln_error("out of memory");
  }
  return LN_OK;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static int by_begin(const void *a, const void *b) {
  const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Names distinct; ranges in order, touching, covering the data exactly. */
static int check_layout(ln_safetensors *f, uint64_t data_len) {
  qsort(f->e, (size_t)f->n, sizeof *f->e, by_name);
  for (int64_t i = 1; i < f->n; i++)
    if (strcmp(f->e[i - 1].name, f->e[i].name) == 0)
      return bad(f, "the tensor name '%.100s' appears twice%s", f->e[i].name, "");
  entry **order = malloc((size_t)(f->n ? f->n : 1) * sizeof *order);
  if (!order) return ln_error("out of memory");
  for (int64_t i = 0; i < f->n; i++) order[i] = &f->e[i];
  qsort(order, (size_t)f->n, sizeof *order, by_begin);
  uint64_t at = 0;
  int rc = LN_OK;
  for (int64_t i = 0; i < f->n && rc == LN_OK; i++) {
    const entry *e = order[i];
    if (e->end > data_len)
      rc = bad(f, "tensor '%.100s' has data_offsets past the end of the file%s",
               e->name, "");
    else if (e->begin < at)
      rc = bad(f, "tensor '%.100s' overlaps '%.100s'", e->name, order[i - 1]->name);
    else if (e->begin > at)
      rc = bad(f, "there are bytes no tensor covers before tensor '%.100s'%s",
               e->name, "");
    at = e->end;
  }
  if (rc == LN_OK && at != data_len)
    rc = bad(f, "the file has bytes after its last tensor's data%s%s", "", "");
  free(order);
  return rc;
}

static int parse_header(ln_safetensors *f) {
  const unsigned char *d = f->m->data;
  size_t len = f->m->len;
  if (len < 8) return bad(f, "too short for a safetensors file (%s bytes)%s",
                          len ? "fewer than 8" : "0", "");
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | d[i];
  if (n > MAX_HEADER || n > len - 8) {
    char msg[160];
    snprintf(msg, sizeof msg, "the header claims %llu bytes, but %s",
             (unsigned long long)n, n > MAX_HEADER ? "the limit is 100000000"
             : "the file is shorter (truncated, or not safetensors)");
    return bad(f, "%s%s", msg, "");
  }
  const char *h = (const char *)d + 8;
  if (n < 2 || h[0] != '{')
    return bad(f, "the header is not a JSON object (it must start with '{')%s%s", "", "");
  size_t badat = ln_utf8_check((const unsigned char *)h, (size_t)n);
  if (badat < n) {
    char at[32];
    snprintf(at, sizeof at, "%zu", badat);
    return bad(f, "the header is not valid UTF-8 (at byte %s of the JSON)%s", at, "");
  }
  f->data_start = 8 + (size_t)n;
  /* cJSON reads a 0-terminated copy: no parser bug can read past the file */
  char *text = malloc((size_t)n + 1);
  if (!text) return ln_error(LOAD ": %s: out of memory", f->m->name);
  memcpy(text, h, (size_t)n);
  text[n] = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, false);
  if (!root) {
    free(text);
    return bad(f, "the header is not valid JSON%s%s", "", "");
  }
  while (end && *end && strchr(" \t\r\n", *end)) end++;
  int rc = end == text + n ? LN_OK : bad(f, "the header has data after its JSON%s%s", "", "");
  free(text);
  f->e = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *f->e);
  if (rc == LN_OK && !f->e) rc = ln_error("out of memory");
  for (const cJSON *j = root->child; j && rc == LN_OK; j = j->next) {
    if (strcmp(j->string, "__metadata__") == 0) {
      rc = f->meta ? bad(f, "__metadata__ appears twice%s%s", "", "") : read_metadata(f, j);
    } else {
      rc = read_entry(f, j, &f->e[f->n]);
      if (rc == LN_OK) f->n++;
    }
  }
  if (rc == LN_OK) rc = check_layout(f, len - f->data_start);
  cJSON_Delete(root);
  return rc;
}

static ln_safetensors *open_mapping(ln_mapping *m) {
  if (!m) return NULL;
  ln_safetensors *f = calloc(1, sizeof *f);
  if (!f) {
    ln_mapping_release(m);
    return ln_error("out of memory"), NULL;
  }
  f->m = m;
  if (parse_header(f) != LN_OK) {
    ln_safetensors_close(f);
    return NULL;
  }
  return f;
}

ln_safetensors *ln_safetensors_open(const char *path) {
  return open_mapping(ln_mapping_open(LOAD, path));
}

ln_safetensors *ln_safetensors_open_memory(const void *data, size_t len,
                                           const char *name) {
  return open_mapping(ln_mapping_borrow(data, len, name));
}

int64_t ln_safetensors_count(const ln_safetensors *f) { return f->n; }

const char *ln_safetensors_name(const ln_safetensors *f, int64_t i) {
  return i >= 0 && i < f->n ? f->e[i].name : NULL;
}

ln_tensor *ln_safetensors_tensor(ln_safetensors *f, int64_t i) {
  if (i < 0 || i >= f->n) return ln_error(LOAD ": no tensor %lld", (long long)i), NULL;
  const entry *e = &f->e[i];
  return ln_mapping_tensor(f->m, f->data_start + (size_t)e->begin, e->elem,
                           e->ndim, e->shape);
}

int64_t ln_safetensors_metadata_count(const ln_safetensors *f) { return f->nmeta; }

const char *ln_safetensors_metadata_key(const ln_safetensors *f, int64_t i) {
  return i >= 0 && i < f->nmeta ? f->meta[2 * i] : NULL;
}

const char *ln_safetensors_metadata_value(const ln_safetensors *f, int64_t i) {
  return i >= 0 && i < f->nmeta ? f->meta[2 * i + 1] : NULL;
}

void ln_safetensors_close(ln_safetensors *f) {
  if (!f) return;
  if (f->e)
    for (int64_t i = 0; i < f->n; i++) free(f->e[i].name);
  if (f->meta)
    for (int64_t i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
  free(f->e);
  free(f->meta);
  ln_mapping_release(f->m);
  free(f);
}

/* ==== writing ============================================================ */

typedef struct saved {
  const char *name;
  ln_tensor *t;
} saved;

static int by_saved_name(const void *a, const void *b) {
  return strcmp(((const saved *)a)->name, ((const saved *)b)->name);
}

static int by_size_then_name(const void *a, const void *b) {
  const saved *x = a, *y = b;
  size_t sx = ln_dtype_size(x->t->dtype), sy = ln_dtype_size(y->t->dtype);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int check_text(const char *what, const char *s) {
  if (ln_utf8_check((const unsigned char *)s, strlen(s)) != strlen(s))
    return ln_error(SAVE ": %s \"%.100s\" is not valid UTF-8", what, s);
  return LN_OK;
}

/* The header's JSON, padded with spaces to a multiple of 8 bytes. */
static char *header_json(const saved *s, int64_t n, int64_t nmeta,
                         const char *const *keys, const char *const *values,
                         size_t *len) {
  cJSON *root = cJSON_CreateObject(), *meta = NULL;
  bool ok = root != NULL;
  if (ok && nmeta > 0) {
    meta = cJSON_AddObjectToObject(root, "__metadata__");
    ok = meta != NULL;
    for (int64_t i = 0; ok && i < nmeta; i++)
      ok = cJSON_AddStringToObject(meta, keys[i], values[i]) != NULL;
  }
  uint64_t at = 0;
  for (int64_t i = 0; ok && i < n; i++) {
    const ln_tensor *t = s[i].t;
    cJSON *e = cJSON_AddObjectToObject(root, s[i].name);
    cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
    cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
    ok = offs && cJSON_AddStringToObject(e, "dtype", saved_codes[t->dtype]);
    for (int d = 0; ok && d < t->ndim; d++)
      ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    uint64_t end = at + ln_tensor_nbytes(t);
    ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)at)) &&
         cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
    at = end;
  }
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text) return ln_error(SAVE ": out of memory"), NULL;
  size_t n0 = strlen(text), padded = (n0 + 7) / 8 * 8;
  char *out = realloc(text, padded + 1);
  if (!out) {
    free(text);
    return ln_error(SAVE ": out of memory"), NULL;
  }
  memset(out + n0, ' ', padded - n0);
  out[padded] = 0;
  *len = padded;
  return out;
}

static int write_bytes(ln_atomic_file *a, const void *p, size_t n) {
  if (fwrite(p, 1, n, a->f) == n) return LN_OK;
  return ln_error(SAVE ": cannot write %s: %s", a->path,
                  errno ? strerror(errno) : "write error");
}

/* Writes t's values, row-major. */
static int write_tensor(ln_atomic_file *a, ln_tensor *t) {
  size_t nbytes = ln_tensor_nbytes(t);
  if (nbytes == 0) return LN_OK;
  if (ln_tensor_device(t).backend == ln_device_cpu().backend &&
      ln_tensor_is_contiguous(t))
    return write_bytes(a, ln_tensor_data(t), nbytes);
  void *buf = malloc(nbytes);
  if (!buf) return ln_error(SAVE ": out of memory copying a tensor");
  int rc = ln_to_buffer(t, buf, t->dtype);
  if (rc == LN_OK) rc = write_bytes(a, buf, nbytes);
  free(buf);
  return rc;
}

int ln_safetensors_save(const char *path, int64_t n, const char *const *names,
                        ln_tensor *const *tensors, int64_t nmeta,
                        const char *const *meta_keys,
                        const char *const *meta_values) {
  saved *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
  if (!s) return ln_error(SAVE ": out of memory");
  int rc = LN_OK;
  for (int64_t i = 0; i < n && rc == LN_OK; i++) {
    s[i] = (saved){names[i], tensors[i]};
    if (!names[i][0] || strcmp(names[i], "__metadata__") == 0)
      rc = ln_error(SAVE ": \"%s\" cannot name a tensor", names[i]);
    else rc = check_text("the tensor name", names[i]);
  }
  for (int64_t i = 0; i < nmeta && rc == LN_OK; i++) {
    rc = check_text("the metadata key", meta_keys[i]);
    if (rc == LN_OK) rc = check_text("the metadata value", meta_values[i]);
  }
  if (rc == LN_OK) qsort(s, (size_t)n, sizeof *s, by_saved_name);
  for (int64_t i = 1; i < n && rc == LN_OK; i++)
    if (strcmp(s[i - 1].name, s[i].name) == 0)
      rc = ln_error(SAVE ": the tensor name \"%.100s\" appears twice", s[i].name);
  if (rc == LN_OK) qsort(s, (size_t)n, sizeof *s, by_size_then_name);
  size_t hlen = 0;
  char *header = rc == LN_OK ? header_json(s, n, nmeta, meta_keys, meta_values, &hlen) : NULL;
  ln_atomic_file a;
  if (header && ln_atomic_open(&a, SAVE, path) == LN_OK) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    errno = 0;
    rc = write_bytes(&a, len8, 8);
    if (rc == LN_OK) rc = write_bytes(&a, header, hlen);
    for (int64_t i = 0; i < n && rc == LN_OK; i++) rc = write_tensor(&a, s[i].t);
    if (rc == LN_OK) rc = ln_atomic_commit(&a, SAVE);
    else ln_atomic_abort(&a);
  } else {
    rc = LN_ERR;
  }
  free(header);
  free(s);
  return rc;
}
