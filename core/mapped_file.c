/*
** mapped_file.c: files mapped into memory, and tensors over their bytes
** (see mapped_file.h).
*/
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapped_file.h"
#include "shape.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mapped_file.c wraps little-endian bytes as they are: little-endian hosts only"
#endif

/* Tensors of at least this many bytes wrap the mapping; smaller ones are
** copied, so that a few small tensors do not pin a large file's mapping. */
#define MAP_MIN_BYTES ((size_t)1 << 20)

static ln_mapping *mapping_new(const char *name) {
  ln_mapping *m = calloc(1, sizeof *m);
  if (m) m->name = strdup(name);
  if (!m || !m->name) {
    free(m);
    return ln_error("out of memory"), NULL;
  }
  m->refcount = 1;
  return m;
}

ln_mapping *ln_mapping_open(const char *op, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ln_error("%s: cannot open %s: %s", op, path, strerror(errno)), NULL;
  struct stat st;
  const char *why = fstat(fd, &st) != 0 ? strerror(errno)
                    : S_ISDIR(st.st_mode) ? "is a directory"
                    : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
  if (why) {
    close(fd);
    return ln_error("%s: %s: %s", op, path, why), NULL;
  }
  ln_mapping *m = mapping_new(path);
  if (!m) {
    close(fd);
    return NULL;
  }
  m->len = m->file_len = (size_t)st.st_size;
  if (m->len > 0) {
    /* private and writable: writes into a tensor copy the page, never
    ** reaching the file */
    void *p = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ln_error("%s: cannot map %s: %s", op, path, strerror(errno));
      close(fd);
      free(m->name);
      free(m);
      return NULL;
    }
    m->data = p;
    m->mapped = true;
  }
  close(fd);
  return m;
}

ln_mapping *ln_mapping_borrow(const void *data, size_t len, const char *name) {
  ln_mapping *m = mapping_new(name);
  if (!m) return NULL;
  m->data = data;
  m->len = m->file_len = len;
  return m;
}

void ln_mapping_release(ln_mapping *m) {
  if (!m || --m->refcount > 0) return;
  if (m->mapped) munmap((void *)m->data, m->len);
  free(m->name);
  free(m);
}

static void release_owner(void *owner) { ln_mapping_release(owner); }

ln_dtype ln_elem_dtype(ln_elem e) {
  switch (e.kind) {
    case LN_ELEM_FLOAT:
      return e.size == 8 ? LN_FLOAT64 : (e.size == 4 || e.size == 2) ? LN_FLOAT32
             : LN_DTYPE_COUNT;
    case LN_ELEM_BFLOAT: return e.size == 2 ? LN_FLOAT32 : LN_DTYPE_COUNT;
    case LN_ELEM_INT: return e.size <= 8 ? LN_INT64 : LN_DTYPE_COUNT;
    case LN_ELEM_UINT:
      return e.size == 1 ? LN_UINT8 : e.size <= 4 ? LN_INT64 : LN_DTYPE_COUNT;
    case LN_ELEM_BOOL: return e.size == 1 ? LN_BOOL : LN_DTYPE_COUNT;
  }
  return LN_DTYPE_COUNT;
}

/* Whether the stored element is the loaded dtype's own bytes. */
static bool is_native(ln_elem e, ln_dtype dt) {
  return !e.big_endian && e.kind != LN_ELEM_BOOL && e.kind != LN_ELEM_BFLOAT &&
         (size_t)e.size == ln_dtype_size(dt);
}

/* The stored element at p as an unsigned integer of its size. */
static uint64_t load_bits(const unsigned char *p, ln_elem e) {
  uint64_t v = 0;
  for (int i = 0; i < e.size; i++) {
    int at = e.big_endian ? i : e.size - 1 - i;
    v = v << 8 | p[at];
  }
  return v;
}

/* IEEE binary16 to binary32, subnormals, infinities and NaNs included. */
static float half_to_float(uint32_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | man << 13;
  } else if (exp != 0) {
    bits = sign | (exp + 112) << 23 | man << 13;
  } else if (man == 0) {
    bits = sign;
  } else { /* subnormal: normalize */
    int e = 113;
    while (!(man & 0x400)) {
      man <<= 1;
      e--;
    }
    bits = sign | (uint32_t)e << 23 | (man & 0x3FF) << 13;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static float bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* Converts n stored elements at src into dst of dtype dt. */
static void convert(void *dst, ln_dtype dt, const unsigned char *src, ln_elem e,
                    size_t n) {
  for (size_t i = 0; i < n; i++, src += e.size) {
    uint64_t b = load_bits(src, e);
    switch (dt) {
      case LN_FLOAT32:
        ((float *)dst)[i] = e.kind == LN_ELEM_BFLOAT ? bits_to_float((uint32_t)b << 16)
                            : e.size == 2 ? half_to_float((uint32_t)b)
                            : bits_to_float((uint32_t)b);
        break;
      case LN_FLOAT64: memcpy((double *)dst + i, &b, 8); break;
      case LN_INT64: {
        int shift = 64 - 8 * e.size; /* sign-extends signed ones */
        ((int64_t *)dst)[i] = e.kind == LN_ELEM_INT && shift
            ? (int64_t)(b << shift) >> shift : (int64_t)b;
        break;
      }
      case LN_UINT8: ((uint8_t *)dst)[i] = (uint8_t)b; break;
      case LN_BOOL: ((bool *)dst)[i] = b != 0; break;
      default: break;
    }
  }
}

/* A tensor whose storage is nbytes of the mapping at p, holding a
** reference to it until the storage goes. */
static ln_tensor *wrap(ln_mapping *m, const unsigned char *p, int ndim,
                       const int64_t *shape, ln_dtype dt) {
  ln_tensor *t = ln_wrap_buffer((void *)p, ndim, shape, dt);
  if (!t) return NULL;
  t->storage->owner_release = release_owner;
  t->storage->owner = m;
  m->refcount++;
  return t;
}

ln_tensor *ln_mapping_tensor(ln_mapping *m, size_t offset, ln_elem e, int ndim,
                             const int64_t *shape) {
  ln_dtype dt = ln_elem_dtype(e);
  if (dt == LN_DTYPE_COUNT) return ln_error("%s: unsupported element type", m->name), NULL;
  size_t n = (size_t)ln_shape_numel(ndim, shape);
  const unsigned char *p = m->data + offset;
  size_t nbytes = n * (size_t)e.size;
  if (m->mapped && is_native(e, dt) && nbytes >= MAP_MIN_BYTES &&
      (uintptr_t)p % (uintptr_t)e.size == 0)
    return wrap(m, p, ndim, shape, dt);
  ln_tensor *t = ln_empty(ndim, shape, dt, ln_device_cpu());
  if (!t) return NULL;
  if (n == 0) return t;
  if (is_native(e, dt)) memcpy(ln_tensor_data(t), p, nbytes);
  else convert(ln_tensor_data(t), dt, p, e, n);
  return t;
}

int ln_mapping_check_shape(const ln_mapping *m, const char *op,
                           const char *what, int ndim, const int64_t *shape,
                           ln_dtype dt) {
  char str[LN_SHAPE_STRLEN];
  ln_shape_str(ndim, shape, str, sizeof str);
  if (ln_check_sizes(NULL, ndim, shape) != LN_OK) {
    char why[256];
    snprintf(why, sizeof why, "%s", ln_error_message());
    return ln_error("%s: %s: %s has shape %s: %s", op, m->name, what, str, why);
  }
  uint64_t extent = ln_dtype_size(dt);
  for (int i = 0; i < ndim; i++)
    extent *= shape[i] > 0 ? (uint64_t)shape[i] : 1; /* <= 2^40 * 2^40 * 8 */
  if (extent / LN_FILE_MAX_RATIO > m->file_len)
    return ln_error("%s: %s: %s has shape %s, which spans %llu bytes: more "
                    "than %d times the file's %zu bytes", op, m->name, what,
                    str, (unsigned long long)extent, LN_FILE_MAX_RATIO, m->file_len);
  return LN_OK;
}

size_t ln_utf8_check(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
    if (n < 0 || c >= 0xF5 || c == 0xC0 || c == 0xC1 || len - i <= (size_t)n) return i;
    unsigned c1 = s[i + 1];
    for (int k = 1; k <= n; k++)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) ||  /* overlong, surrogate */
        (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))     /* overlong, > U+10FFFF */
      return i;
    i += (size_t)n + 1;
  }
  return len;
}
