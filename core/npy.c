/*
** npy.c: NumPy's .npy files (the format is described in luann_formats.h).
** The header is a Python dict literal; it is read by a small parser that
** takes exactly what numpy writes (the keys 'descr', 'fortran_order' and
** 'shape', once each, with string, bool and tuple values) and nothing
** more: numpy's own reader runs ast.literal_eval, which luann has no use
** for.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "luann_formats.h"
#include "mapped_file.h"
#include "npy.h"
#include "shape.h"

#define LOAD "npy.load"
#define SAVE "npy.save"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ==== reading ============================================================ */

typedef struct header {
  const char *p, *end;      /* the dict, being read */
  const ln_mapping *m;
  const char *op, *member;  /* messages: "<op>: <file>[: <member>]: ..." */
  char descr[32];
  bool fortran, seen_descr, seen_fortran, seen_shape;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
} header;

static int bad(const header *h, const char *what) {
  return ln_error("%s: %s%s%s: %s", h->op, h->m->name, h->member ? ": " : "",
                  h->member ? h->member : "", what);
}

static void skip_space(header *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
    h->p++;
}

static bool take(header *h, char c) {
  skip_space(h);
  if (h->p < h->end && *h->p == c) {
    h->p++;
    return true;
  }
  return false;
}

/* A quoted string without escapes into out (at most size - 1 bytes). */
static bool read_string(header *h, char *out, size_t size) {
  skip_space(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
  char q = *h->p++;
  size_t n = 0;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\' || n + 1 >= size) return false;
    out[n++] = *h->p++;
  }
  out[n] = 0;
  return h->p++ < h->end;
}

static bool read_word(header *h, const char *w) {
  skip_space(h);
  size_t n = strlen(w);
  if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return false;
  h->p += n;
  return true;
}

/* A tuple of sizes: (), (3,), (2, 3) or (2, 3,). */
static int read_shape(header *h) {
  if (!take(h, '(')) return bad(h, "the header's shape is not a tuple");
  h->ndim = 0;
  while (!take(h, ')')) {
    skip_space(h);
    int64_t v = 0;
    const char *start = h->p;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return bad(h, "a size in the header's shape is too large");
      v = v * 10 + (*h->p++ - '0');
    }
    if (h->p == start) return bad(h, "the header's shape is not a tuple of sizes");
    if (h->ndim == LN_MAX_DIMS) return bad(h, "the array has more than 8 dims");
    h->shape[h->ndim++] = v;
    if (!take(h, ',')) {
      if (take(h, ')')) break;
      return bad(h, "the header's shape is not a tuple of sizes");
    }
  }
  return LN_OK;
}

static int read_dict(header *h) {
  if (!take(h, '{')) return bad(h, "the header is not a dict");
  while (!take(h, '}')) {
    char key[32];
    if (!read_string(h, key, sizeof key) || !take(h, ':'))
      return bad(h, "the header is not a dict of 'descr', 'fortran_order' and 'shape'");
    int rc = LN_OK;
    if (strcmp(key, "descr") == 0 && !h->seen_descr) {
      h->seen_descr = true;
      if (!read_string(h, h->descr, sizeof h->descr))
        rc = bad(h, "the dtype ('descr') is not a simple one (structured arrays "
                 "are not supported)");
    } else if (strcmp(key, "fortran_order") == 0 && !h->seen_fortran) {
      h->seen_fortran = true;
      h->fortran = read_word(h, "True");
      if (!h->fortran && !read_word(h, "False"))
        rc = bad(h, "'fortran_order' is not True or False");
    } else if (strcmp(key, "shape") == 0 && !h->seen_shape) {
      h->seen_shape = true;
      rc = read_shape(h);
    } else {
      return bad(h, "the header has an unknown or repeated key");
    }
    if (rc != LN_OK) return rc;
    if (!take(h, ',')) {
      if (take(h, '}')) break;
      return bad(h, "the header is not a dict");
    }
  }
  skip_space(h);
  if (h->p != h->end) return bad(h, "the header has data after its dict");
  if (!h->seen_descr || !h->seen_fortran || !h->seen_shape)
    return bad(h, "the header lacks 'descr', 'fortran_order' or 'shape'");
  return LN_OK;
}

/* '<f4', '|u1', '>i2', '|b1', ... into an element type. */
static int parse_descr(const header *h, ln_elem *e) {
  const char *d = h->descr;
  char order = d[0], kind = d[0] ? d[1] : 0;
  int size = kind && d[2] >= '1' && d[2] <= '8' && !d[3] ? d[2] - '0' : 0;
  e->big_endian = order == '>';
  e->size = size;
  e->kind = kind == 'f' ? LN_ELEM_FLOAT : kind == 'i' ? LN_ELEM_INT
            : kind == 'u' ? LN_ELEM_UINT : LN_ELEM_BOOL;
  bool known = strchr("<>|=", order) && order && strchr("fiub", kind) && kind &&
               (kind == 'b' ? size == 1 : kind == 'f' ? size == 2 || size == 4 || size == 8
                : size == 1 || size == 2 || size == 4 || size == 8);
  if (known && ln_elem_dtype(*e) != LN_DTYPE_COUNT) return LN_OK;
  char what[128];
  snprintf(what, sizeof what, "the dtype '%s' cannot be loaded (luann loads float16/"
           "32/64, int8/16/32/64, uint8/16/32 and bool)", d);
  return bad(h, what);
}

/* A row-major tensor from column-major data: the reversed shape, its dims
** reversed again, made contiguous. */
static ln_tensor *from_fortran(ln_mapping *m, size_t at, ln_elem e, const header *h) {
  int64_t rev[LN_MAX_DIMS];
  int perm[LN_MAX_DIMS];
  for (int i = 0; i < h->ndim; i++) {
    rev[i] = h->shape[h->ndim - 1 - i];
    perm[i] = h->ndim - 1 - i;
  }
  ln_tensor *t = ln_mapping_tensor(m, at, e, h->ndim, rev);
  ln_tensor *p = t ? ln_permute(t, perm) : NULL;
  ln_tensor *c = p ? ln_contiguous(p) : NULL;
  ln_tensor_release(p);
  ln_tensor_release(t);
  return c;
}

ln_tensor *ln_npy_parse(ln_mapping *m, const char *op, const char *member) {
  header h = {.m = m, .op = op, .member = member};
  const unsigned char *d = m->data;
  size_t len = m->len;
  if (len < 10 || memcmp(d, magic, 6) != 0)
    return bad(&h, "not a .npy file (no \\x93NUMPY magic)"), NULL;
  int major = d[6], minor = d[7];
  if (major < 1 || major > 3 || minor != 0) {
    char what[64];
    snprintf(what, sizeof what, "unknown .npy format version %d.%d", major, minor);
    return bad(&h, what), NULL;
  }
  size_t at = major == 1 ? 10 : 12;
  if (len < at) return bad(&h, "truncated in its header"), NULL;
  uint64_t hlen = major == 1 ? (uint64_t)(d[8] | d[9] << 8)
      : (uint64_t)d[8] | (uint64_t)d[9] << 8 | (uint64_t)d[10] << 16 | (uint64_t)d[11] << 24;
  if (hlen > len - at) return bad(&h, "truncated in its header"), NULL;
  h.p = (const char *)d + at;
  h.end = h.p + hlen;
  at += (size_t)hlen;
  if (read_dict(&h) != LN_OK) return NULL;
  ln_elem e;
  if (parse_descr(&h, &e) != LN_OK) return NULL;
  char what[128];
  if (ln_mapping_check_shape(m, op, member ? member : "the array", h.ndim, h.shape,
                             ln_elem_dtype(e)) != LN_OK)
    return NULL;
  uint64_t need = (uint64_t)ln_shape_numel(h.ndim, h.shape) * (uint64_t)e.size;
  if (need != len - at) {
    snprintf(what, sizeof what, "%s: expected %llu bytes of data, got %llu",
             need > len - at ? "truncated" : "too long", (unsigned long long)need,
             (unsigned long long)(len - at));
    return bad(&h, what), NULL;
  }
  return h.fortran && h.ndim > 1 ? from_fortran(m, at, e, &h)
                                 : ln_mapping_tensor(m, at, e, h.ndim, h.shape);
}

ln_tensor *ln_npy_read(const char *path) {
  ln_mapping *m = ln_mapping_open(LOAD, path);
  if (!m) return NULL;
  ln_tensor *t = ln_npy_parse(m, LOAD, NULL);
  ln_mapping_release(m);
  return t;
}

ln_tensor *ln_npy_read_memory(const void *data, size_t len, const char *name) {
  ln_mapping *m = ln_mapping_borrow(data, len, name);
  if (!m) return NULL;
  ln_tensor *t = ln_npy_parse(m, LOAD, NULL);
  ln_mapping_release(m);
  return t;
}

/* ==== writing ============================================================ */

static const char *const descrs[LN_DTYPE_COUNT] = {
  [LN_FLOAT32] = "<f4", [LN_FLOAT64] = "<f8", [LN_INT64] = "<i8",
  [LN_UINT8] = "|u1", [LN_BOOL] = "|b1",
};

/* The magic, version, length and dict, padded with spaces and a newline to
** a multiple of 64 bytes, as numpy writes it. */
static size_t write_header(char *out, const ln_tensor *t) {
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   descrs[t->dtype]);
  for (int i = 0; i < t->ndim; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)t->shape[i],
                  t->ndim == 1 ? "," : i + 1 < t->ndim ? ", " : "");
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;  /* fits version 1 */
  memcpy(out, magic, 6);
  out[6] = 1;
  out[7] = 0;
  size_t hlen = total - 10;
  out[8] = (char)(hlen & 0xFF);
  out[9] = (char)(hlen >> 8);
  memcpy(out + 10, dict, (size_t)n);
  memset(out + 10 + n, ' ', total - 10 - (size_t)n - 1);
  out[total - 1] = '\n';
  return total;
}

int ln_npy_write(const char *path, ln_tensor *t) {
  char head[640];
  size_t hlen = write_header(head, t);
  size_t nbytes = ln_tensor_nbytes(t);
  void *buf = NULL;
  const void *data = NULL;
  if (ln_tensor_device(t).backend == ln_device_cpu().backend && ln_tensor_is_contiguous(t)) {
    data = ln_tensor_data(t);
  } else if (nbytes > 0) {
    buf = malloc(nbytes);
    if (!buf) return ln_error(SAVE ": out of memory copying the tensor");
    if (ln_to_buffer(t, buf, t->dtype) != LN_OK) {
      free(buf);
      return LN_ERR;
    }
    data = buf;
  }
  ln_atomic_file a;
  if (ln_atomic_open(&a, SAVE, path) != LN_OK) {
    free(buf);
    return LN_ERR;
  }
  errno = 0;
  bool ok = fwrite(head, 1, hlen, a.f) == hlen &&
            (nbytes == 0 || fwrite(data, 1, nbytes, a.f) == nbytes);
  free(buf);
  if (!ok) {
    int rc = ln_error(SAVE ": cannot write %s: %s", path,
                      errno ? strerror(errno) : "write error");
    ln_atomic_abort(&a);
    return rc;
  }
  return ln_atomic_commit(&a, SAVE);
}
