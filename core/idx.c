/*
** idx.c: the IDX dataset format (MNIST, Fashion-MNIST), plain or gzip.
**
** A file is 0x00 0x00, a type byte, a dim count n, n big-endian uint32
** dims, then the values in row-major order, big-endian. zlib's gzread
** reads compressed and plain files alike. The header is untrusted: its
** dims may describe at most IDX_MAX_RATIO bytes of tensor per byte of file
** (deflate cannot do better than ~1032), checked before anything is
** allocated, and the data buffer then grows only as bytes actually arrive.
*/
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "luann_io.h"

typedef struct idx_type {
  uint8_t code;
  size_t size;     /* bytes per value in the file */
  ln_dtype dtype;  /* what luann stores it as */
} idx_type;

static const idx_type idx_types[] = {
  {0x08, 1, LN_UINT8}, {0x09, 1, LN_INT64}, {0x0B, 2, LN_INT64},
  {0x0C, 4, LN_INT64}, {0x0D, 4, LN_FLOAT32}, {0x0E, 8, LN_FLOAT64},
};

/* Dims describing more bytes than this are forged, whatever the file. */
#define IDX_MAX_BYTES (INT64_C(1) << 40)
/* A file of n bytes may make a tensor of at most n * IDX_MAX_RATIO bytes,
** the checkpoint reader's rule (CKP_MAX_RATIO): a gzip bomb is refused
** before its buffer grows, and an empty tensor's other dims stay small. */
#define IDX_MAX_RATIO 1100
/* gzread takes an unsigned int, so reads go in pieces of this size. */
#define IDX_CHUNK (1u << 24)

static const idx_type *find_type(uint8_t code) {
  for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
    if (idx_types[i].code == code) return &idx_types[i];
  return NULL;
}

/* Reads up to n bytes; *got says how many came. LN_ERR on a read error or
** a damaged gzip stream (a short count alone is not an error here). */
static int read_some(gzFile gz, const char *path, void *buf, size_t n,
                     size_t *got) {
  *got = 0;
  while (*got < n) {
    size_t want = n - *got < IDX_CHUNK ? n - *got : IDX_CHUNK;
    int r = gzread(gz, (char *)buf + *got, (unsigned)want);
    if (r < 0) {
      int code;
      const char *msg = gzerror(gz, &code);
      return ln_error("read_idx: %s: %s", path,
                      code == Z_ERRNO ? strerror(errno) : msg);
    }
    if (r == 0) break;
    *got += (size_t)r;
  }
  return LN_OK;
}

/* Whether gzread stopped on a gzip stream that ends too early. */
static bool stream_cut_short(gzFile gz) {
  int code;
  gzerror(gz, &code);
  return code == Z_BUF_ERROR;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static uint64_t be64(const uint8_t *p) {
  return (uint64_t)be32(p) << 32 | be32(p + 4);
}

typedef struct idx_header {
  const idx_type *type;
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  int64_t nbytes;  /* of data in the file */
  int64_t extent;  /* of the tensor in memory, empty dims counted as 1 */
} idx_header;

/* The header's byte counts, overflow-checked; false when they pass
** IDX_MAX_BYTES. */
static bool count_bytes(idx_header *h) {
  int64_t n = (int64_t)h->type->size, e = (int64_t)ln_dtype_size(h->type->dtype);
  for (int i = 0; i < h->ndim; i++) {
    int64_t d = h->shape[i];
    if (__builtin_mul_overflow(n, d, &n) ||
        __builtin_mul_overflow(e, d ? d : 1, &e) || e > IDX_MAX_BYTES)
      return false;
  }
  h->nbytes = n;
  h->extent = e;
  return true;
}

static int read_header(gzFile gz, const char *path, idx_header *h) {
  uint8_t magic[4], dims[4 * LN_MAX_DIMS];
  size_t got;
  if (read_some(gz, path, magic, 4, &got) != LN_OK) return LN_ERR;
  if (got < 4)
    return ln_error("read_idx: %s: not an IDX file (%zu bytes long)", path, got);
  if (magic[0] != 0 || magic[1] != 0)
    return ln_error("read_idx: %s: not an IDX file (bad magic "
                    "0x%02x%02x%02x%02x)", path, magic[0], magic[1],
                    magic[2], magic[3]);
  h->type = find_type(magic[2]);
  if (!h->type)
    return ln_error("read_idx: %s: unknown data type 0x%02x in the magic",
                    path, magic[2]);
  h->ndim = magic[3];
  if (h->ndim < 1 || h->ndim > LN_MAX_DIMS)
    return ln_error("read_idx: %s: %d dims in the header (1 to %d supported)",
                    path, h->ndim, LN_MAX_DIMS);
  if (read_some(gz, path, dims, 4 * (size_t)h->ndim, &got) != LN_OK)
    return LN_ERR;
  if (got < 4 * (size_t)h->ndim)
    return ln_error("read_idx: %s: the header ends inside the dims", path);
  for (int i = 0; i < h->ndim; i++) h->shape[i] = be32(dims + 4 * i);
  char s[LN_SHAPE_STRLEN];
  if (!count_bytes(h))
    return ln_error("read_idx: %s: absurd dims %s in the header", path,
                    ln_shape_str(h->ndim, h->shape, s, sizeof s));
  return LN_OK;
}

/* The ratio rule, for a file whose size is known: the tensor may take at
** most IDX_MAX_RATIO times the file (int types widen to int64 in memory,
** so a gzip file of them reaches it first). */
static int check_ratio(const char *path, const idx_header *h,
                       int64_t file_size) {
  int64_t most;
  if (__builtin_mul_overflow(file_size, IDX_MAX_RATIO, &most) ||
      h->extent <= most)
    return LN_OK;
  char s[LN_SHAPE_STRLEN];
  ln_shape_str(h->ndim, h->shape, s, sizeof s);
  if (h->nbytes == 0)
    return ln_error("read_idx: %s: absurd dims %s in the header: an empty "
                    "tensor whose other dims span %lld bytes, more than %d "
                    "times the file's %lld bytes", path, s,
                    (long long)h->extent, IDX_MAX_RATIO, (long long)file_size);
  return ln_error("read_idx: %s: absurd dims %s in the header: %lld bytes in "
                  "memory, more than %d times the file's %lld bytes", path, s,
                  (long long)h->extent, IDX_MAX_RATIO, (long long)file_size);
}

/* Reads exactly h->nbytes of data into `into` (that many bytes), or else
** into a malloc'd buffer, then makes sure nothing follows them. Unless the
** file's size already vouched for them, that buffer grows only as the bytes
** arrive. */
static char *read_data(gzFile gz, const char *path, const idx_header *h,
                       bool size_known, char *into) {
  size_t need = (size_t)h->nbytes;
  size_t cap = into || size_known || need < (1u << 20) ? need : 1u << 20;
  size_t have = 0, got = 0;
  char *buf = into ? into : malloc(cap ? cap : 1), extra;
  int rc = buf ? LN_OK : ln_error("read_idx: out of memory reading %s", path);
  while (rc == LN_OK && have < need) {
    if (have == cap) {
      size_t grown = cap * 2 < need ? cap * 2 : need;
      char *p = realloc(buf, grown);
      if (!p) {
        rc = ln_error("read_idx: out of memory reading %s", path);
        break;
      }
      buf = p;
      cap = grown;
    }
    rc = read_some(gz, path, buf + have, cap - have, &got);
    have += got;
    if (have < cap) break; /* the data ended early */
  }
  if (rc == LN_OK && have < need)
    rc = ln_error("read_idx: %s: truncated: expected %zu bytes of data, got "
                  "%zu%s", path, need, have,
                  stream_cut_short(gz) ? " (the gzip stream is cut short)" : "");
  if (rc == LN_OK) rc = read_some(gz, path, &extra, 1, &got);
  if (rc == LN_OK && got)
    rc = ln_error("read_idx: %s: more data than the header's dims describe "
                  "(expected %zu bytes of data)", path, need);
  if (rc != LN_OK) {
    if (buf != into) free(buf);
    return NULL;
  }
  return buf;
}

/* Big-endian file values into the tensor's host-order elements. */
static void convert(const idx_header *h, const uint8_t *src, void *dst,
                    int64_t n) {
  switch (h->type->code) {
    case 0x08: memcpy(dst, src, (size_t)n); break;
    case 0x09:
      for (int64_t i = 0; i < n; i++) ((int64_t *)dst)[i] = (int8_t)src[i];
      break;
    case 0x0B:
      for (int64_t i = 0; i < n; i++)
        ((int64_t *)dst)[i] = (int16_t)(src[2 * i] << 8 | src[2 * i + 1]);
      break;
    case 0x0C:
      for (int64_t i = 0; i < n; i++)
        ((int64_t *)dst)[i] = (int32_t)be32(src + 4 * i);
      break;
    case 0x0D:
      for (int64_t i = 0; i < n; i++) {
        uint32_t u = be32(src + 4 * i);
        memcpy((float *)dst + i, &u, 4);
      }
      break;
    default:
      for (int64_t i = 0; i < n; i++) {
        uint64_t u = be64(src + 8 * i);
        memcpy((double *)dst + i, &u, 8);
      }
      break;
  }
}

/* A plain file's size tells at once whether the dims fit the data. */
static int check_plain_size(const char *path, const idx_header *h,
                            int64_t file_size) {
  int64_t have = file_size - 4 - 4 * (int64_t)h->ndim;
  if (have < h->nbytes)
    return ln_error("read_idx: %s: truncated: expected %lld bytes of data, "
                    "got %lld", path, (long long)h->nbytes, (long long)have);
  if (have > h->nbytes)
    return ln_error("read_idx: %s: more data than the header's dims describe "
                    "(expected %lld bytes of data, got %lld)", path,
                    (long long)h->nbytes, (long long)have);
  return LN_OK;
}

/* The tensor for h's data, or an error named after the file. */
static ln_tensor *new_tensor(const char *name, const idx_header *h) {
  ln_tensor *t = ln_empty(h->ndim, h->shape, h->type->dtype, ln_device_cpu());
  if (!t) {
    char why[256]; /* the core's message */
    snprintf(why, sizeof why, "%s", ln_error_message());
    ln_error("read_idx: %s: %s", name, why);
  }
  return t;
}

/* Reads from fd, which it closes; name is the path for messages. */
static ln_tensor *read_idx_fd(int fd, const char *name) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ln_error("read_idx: cannot open %s: %s", name, strerror(e)), NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return ln_error("read_idx: %s is a directory", name), NULL;
  }
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return ln_error("read_idx: cannot open %s: out of memory", name), NULL;
  }
  gzbuffer(gz, 1u << 17);
  idx_header h;
  ln_tensor *t = NULL;
  char *data = NULL;
  bool bytes_in_place = false;
  if (read_header(gz, name, &h) == LN_OK) {
    bool regular = S_ISREG(st.st_mode);  /* not a pipe: its size is known */
    bool sized = gzdirect(gz) && regular;
    int rc = sized ? check_plain_size(name, &h, st.st_size) : LN_OK;
    if (rc == LN_OK && regular) rc = check_ratio(name, &h, st.st_size);
    /* Bytes need no conversion: with the ratio checked they go straight
    ** into the tensor, so the set is in memory once, not twice. */
    bytes_in_place = rc == LN_OK && regular && h.type->code == 0x08;
    if (bytes_in_place && (t = new_tensor(name, &h)) &&
        !read_data(gz, name, &h, sized, ln_tensor_data(t))) {
      ln_tensor_release(t);
      t = NULL;
    }
    if (rc == LN_OK && !bytes_in_place) data = read_data(gz, name, &h, sized, NULL);
  }
  if (data && (t = new_tensor(name, &h)))
    convert(&h, (const uint8_t *)data, ln_tensor_data(t), ln_tensor_numel(t));
  free(data);
  gzclose(gz);
  return t;
}

ln_tensor *ln_read_idx(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ln_error("read_idx: cannot open %s: %s", path, strerror(errno)), NULL;
  return read_idx_fd(fd, path);
}

/* The bytes go into an anonymous memory file, so that they take exactly
** the path a file on disk takes, gzip detection included. */
ln_tensor *ln_read_idx_memory(const void *data, size_t len, const char *name) {
#ifdef __linux__
  int fd = memfd_create("luann-idx", MFD_CLOEXEC);
  if (fd < 0)
    return ln_error("read_idx: %s: no memory file: %s", name,
                    strerror(errno)), NULL;
  for (size_t done = 0; done < len;) {
    ssize_t n = write(fd, (const char *)data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : ENOSPC;
      close(fd);
      return ln_error("read_idx: %s: writing a memory file: %s", name,
                      strerror(e)), NULL;
    }
    done += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    return ln_error("read_idx: %s: %s", name, strerror(errno)), NULL;
  }
  return read_idx_fd(fd, name);
#else
  (void)data, (void)len;
  return ln_error("read_idx: %s: reading from memory needs Linux", name), NULL;
#endif
}
