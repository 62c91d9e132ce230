/*
** checkpoint.c: luann's checkpoint files, written atomically and read
** without trusting a byte of them.
**
** FORMAT, version 1. All integers little-endian.
**
**   offset  size  field
**        0     8  magic "LUANNCKP"
**        8     4  u32 format version (1)
**       12     4  u32 flags (0; readers reject bits they do not know)
**       16     8  u64 payload size: bytes of the payload once inflated
**       24     8  u64 stored size: bytes of the zlib stream after the header
**       32     4  u32 CRC-32 of the stored zlib stream
**       36     4  u32 CRC-32 of header bytes 0..35
**       40     -  the payload as one zlib (RFC 1950) stream, which adds its
**                 own Adler-32 of the inflated bytes; the file ends with it
**
** The payload is one value, in pre-order:
**
**   value  := tag:u8 body
**   0x01 false, 0x02 true          no body
**   0x03 integer                   i64
**   0x04 float                     f64 (IEEE-754 binary64 bits)
**   0x05 string                    u64 length, bytes (any, zeros too)
**   0x06 tensor                    u8 dtype (0 float32, 1 float64, 2 int64,
**                                  3 uint8, 4 bool), u8 flags (bit 0:
**                                  requires_grad), u8 ndim (0..8), ndim i64
**                                  sizes, then numel * itemsize bytes of
**                                  values in row-major order
**   0x07 table                     u64 count, then count (key, value) pairs;
**                                  a key is an integer or string record
**
** Tables nest at most LN_CKPT_MAX_DEPTH deep. Tensors are saved contiguous
** (views become copies; sharing between tensors is not kept) and load on
** the CPU.
**
** Writing goes to "<path>.tmp.<pid>", which is flushed, fsync'ed and renamed
** over path only when complete: a crash at any point leaves the old file.
** Reading checks the header's checksum and sizes against the file, the
** stream's CRC before inflating it, and every size inside the payload
** against the bytes that remain before allocating for it.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "atomic_file.h"
#include "luann_io.h"
#include "shape.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes tensor bytes as they are: little-endian hosts only"
#endif

#define CKP_VERSION 1
#define CKP_HEADER 40
#define CKP_BUF (1u << 18)
/* zlib cannot inflate more than ~1032 bytes from one: larger claims are
** forged, and refusing them bounds every allocation by the file's size. */
#define CKP_MAX_RATIO 1100

static const char ckp_magic[8] = {'L', 'U', 'A', 'N', 'N', 'C', 'K', 'P'};

/* The dtype codes of the format, independent of ln_dtype's order. */
static const ln_dtype ckp_dtypes[] = {LN_FLOAT32, LN_FLOAT64, LN_INT64,
                                      LN_UINT8, LN_BOOL};
#define CKP_NDTYPES (int)(sizeof ckp_dtypes / sizeof ckp_dtypes[0])

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Records are validated the same way on both sides: a stack of open tables,
** each with the number of keys and values still to come. */
typedef struct nesting {
  int depth;
  int64_t left[LN_CKPT_MAX_DEPTH + 1]; /* items left in each open table */
  bool root_done;
} nesting;

static bool expects_key(const nesting *n) {
  return n->depth > 0 && n->left[n->depth] % 2 == 0;
}

/* Accounts for one record; a table's count opens a level. Returns what is
** wrong with the structure, or NULL. */
static const char *nesting_add(nesting *n, ln_ckpt_kind kind, int64_t count) {
  if (n->root_done) return "more data after the root value";
  if (expects_key(n) && kind != LN_CKPT_INT && kind != LN_CKPT_STRING)
    return "a table key must be an integer or a string";
  if (n->depth > 0) n->left[n->depth]--;
  if (kind == LN_CKPT_TABLE && count > 0) {
    if (n->depth == LN_CKPT_MAX_DEPTH) return "tables nested too deep";
    n->left[++n->depth] = 2 * count;
    return NULL;
  }
  while (n->depth > 0 && n->left[n->depth] == 0) n->depth--;
  if (n->depth == 0) n->root_done = true;
  return NULL;
}

/* ==== writing ============================================================ */

struct ln_ckpt_writer {
  char *path, *tmp;
  FILE *f;
  z_stream z;
  bool z_open;
  uint64_t payload, stored;
  uint32_t crc;
  nesting nest;
  unsigned char out[CKP_BUF];
};

static int write_failed(ln_ckpt_writer *w) {
  return ln_error("save: writing %s: %s", w->tmp,
                  errno ? strerror(errno) : "write error");
}

/* Writes what deflate produced and resets its output window. */
static int drain(ln_ckpt_writer *w) {
  size_t n = CKP_BUF - w->z.avail_out;
  if (n && fwrite(w->out, 1, n, w->f) != n) return write_failed(w);
  w->crc = (uint32_t)crc32(w->crc, w->out, (uInt)n);
  w->stored += n;
  w->z.next_out = w->out;
  w->z.avail_out = CKP_BUF;
  return LN_OK;
}

static int deflate_bytes(ln_ckpt_writer *w, const void *data, size_t n,
                         int flush) {
  const unsigned char *p = data;
  w->payload += n;
  do {
    size_t piece = n < (1u << 30) ? n : 1u << 30;
    w->z.next_in = (unsigned char *)p;
    w->z.avail_in = (uInt)piece;
    p += piece;
    n -= piece;
    int f = n ? Z_NO_FLUSH : flush, rc;
    do {
      rc = deflate(&w->z, f);
      if (rc == Z_STREAM_ERROR) return ln_error("save: deflate failed");
      if (w->z.avail_out == 0 || rc == Z_STREAM_END || f == Z_FINISH)
        if (drain(w) != LN_OK) return LN_ERR;
    } while (w->z.avail_in > 0 || (f == Z_FINISH && rc != Z_STREAM_END));
  } while (n > 0);
  return LN_OK;
}

static char *dup_string(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  char *d = malloc(n + m + 1);
  if (d) {
    memcpy(d, s, n);
    memcpy(d + n, suffix, m + 1);
  }
  return d;
}

ln_ckpt_writer *ln_ckpt_writer_open(const char *path, int level) {
  char suffix[32];
  snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
  ln_ckpt_writer *w = calloc(1, sizeof *w);
  if (!w) return ln_error("save: out of memory"), NULL;
  w->path = dup_string(path, "");
  w->tmp = dup_string(path, suffix);
  if (!w->path || !w->tmp) {
    ln_ckpt_writer_abort(w);
    return ln_error("save: out of memory"), NULL;
  }
  int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  struct stat old;
  if (fd >= 0 && stat(path, &old) == 0) /* the replacement keeps its mode */
    fchmod(fd, old.st_mode & 07777);
  w->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!w->f) {
    int e = errno;
    if (fd >= 0) close(fd);
    ln_error("save: cannot create %s: %s", w->tmp, strerror(e));
    free(w->path);
    free(w->tmp);
    free(w);
    return NULL;
  }
  unsigned char blank[CKP_HEADER] = {0};
  if (level < 0 || level > 9) level = Z_BEST_SPEED;
  if (fwrite(blank, 1, CKP_HEADER, w->f) != CKP_HEADER) {
    write_failed(w);
    ln_ckpt_writer_abort(w);
    return NULL;
  }
  if (deflateInit(&w->z, level) != Z_OK) {
    ln_ckpt_writer_abort(w);
    return ln_error("save: cannot start zlib"), NULL;
  }
  w->z_open = true;
  w->z.next_out = w->out;
  w->z.avail_out = CKP_BUF;
  w->crc = (uint32_t)crc32(0, NULL, 0);
  return w;
}

void ln_ckpt_writer_abort(ln_ckpt_writer *w) {
  if (!w) return;
  if (w->z_open) deflateEnd(&w->z);
  if (w->f) {
    fclose(w->f);
    unlink(w->tmp);
  }
  free(w->path);
  free(w->tmp);
  free(w);
}

/* Emits a tag with its body after checking the record fits the structure. */
static int put_record(ln_ckpt_writer *w, ln_ckpt_kind kind, int64_t count,
                      const void *body, size_t n) {
  const char *problem = nesting_add(&w->nest, kind, count);
  if (problem) return ln_error("save: %s", problem);
  unsigned char tag = (unsigned char)kind;
  if (deflate_bytes(w, &tag, 1, Z_NO_FLUSH) != LN_OK) return LN_ERR;
  return n ? deflate_bytes(w, body, n, Z_NO_FLUSH) : LN_OK;
}

int ln_ckpt_put_bool(ln_ckpt_writer *w, bool b) {
  return put_record(w, b ? LN_CKPT_TRUE : LN_CKPT_FALSE, 0, NULL, 0);
}

int ln_ckpt_put_int(ln_ckpt_writer *w, int64_t i) {
  unsigned char b[8];
  put_u64(b, (uint64_t)i);
  return put_record(w, LN_CKPT_INT, 0, b, 8);
}

int ln_ckpt_put_float(ln_ckpt_writer *w, double f) {
  uint64_t bits;
  unsigned char b[8];
  memcpy(&bits, &f, 8);
  put_u64(b, bits);
  return put_record(w, LN_CKPT_FLOAT, 0, b, 8);
}

int ln_ckpt_put_string(ln_ckpt_writer *w, const char *s, size_t len) {
  unsigned char b[8];
  put_u64(b, len);
  if (put_record(w, LN_CKPT_STRING, 0, b, 8) != LN_OK) return LN_ERR;
  return len ? deflate_bytes(w, s, len, Z_NO_FLUSH) : LN_OK;
}

int ln_ckpt_put_table(ln_ckpt_writer *w, int64_t count) {
  unsigned char b[8];
  if (count < 0 || count > INT64_MAX / 2)
    return ln_error("save: bad table size %lld", (long long)count);
  put_u64(b, (uint64_t)count);
  return put_record(w, LN_CKPT_TABLE, count, b, 8);
}

/* The tensor's values as one contiguous host block: its own memory when
** it is a contiguous CPU tensor, else a copy (*copy is then to be freed). */
static const void *host_values(ln_tensor *t, void **copy) {
  *copy = NULL;
  if (ln_tensor_is_contiguous(t) && ln_tensor_data(t)) return ln_tensor_data(t);
  size_t n = ln_tensor_nbytes(t);
  *copy = malloc(n ? n : 1);
  if (!*copy) return ln_error("save: out of memory copying a tensor"), NULL;
  if (ln_to_buffer(t, *copy, t->dtype) != LN_OK) {
    free(*copy);
    *copy = NULL;
    return NULL;
  }
  return *copy;
}

int ln_ckpt_put_tensor(ln_ckpt_writer *w, ln_tensor *t) {
  unsigned char b[3 + 8 * LN_MAX_DIMS];
  int code = 0;
  while (code < CKP_NDTYPES && ckp_dtypes[code] != t->dtype) code++;
  if (code == CKP_NDTYPES) return ln_error("save: unknown tensor dtype");
  b[0] = (unsigned char)code;
  b[1] = t->requires_grad ? 1 : 0;
  b[2] = (unsigned char)t->ndim;
  for (int i = 0; i < t->ndim; i++) put_u64(b + 3 + 8 * i, (uint64_t)t->shape[i]);
  void *copy;
  const void *values = host_values(t, &copy);
  if (!values) return LN_ERR;
  int rc = put_record(w, LN_CKPT_TENSOR, 0, b, 3 + 8 * (size_t)t->ndim);
  if (rc == LN_OK) rc = deflate_bytes(w, values, ln_tensor_nbytes(t), Z_NO_FLUSH);
  free(copy);
  return rc;
}

/* A test hook: LUANN_TEST_SAVE_DELAY=ms sleeps between writing the temp
** file and renaming it, so a spec can kill a save in that window. */
static void test_delay(void) {
  const char *ms = getenv("LUANN_TEST_SAVE_DELAY");
  long v = ms ? strtol(ms, NULL, 10) : 0;
  if (v <= 0) return;
  struct timespec ts = {v / 1000, (v % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int write_header(ln_ckpt_writer *w) {
  unsigned char h[CKP_HEADER];
  memcpy(h, ckp_magic, 8);
  put_u32(h + 8, CKP_VERSION);
  put_u32(h + 12, 0);
  put_u64(h + 16, w->payload);
  put_u64(h + 24, w->stored);
  put_u32(h + 32, w->crc);
  put_u32(h + 36, (uint32_t)crc32(crc32(0, NULL, 0), h, 36));
  if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, CKP_HEADER, w->f) != CKP_HEADER)
    return write_failed(w);
  return LN_OK;
}

int ln_ckpt_writer_commit(ln_ckpt_writer *w) {
  int rc = w->nest.root_done ? LN_OK
                             : ln_error("save: the value is incomplete");
  if (rc == LN_OK) rc = deflate_bytes(w, NULL, 0, Z_FINISH);
  if (rc == LN_OK) rc = write_header(w);
  errno = 0;
  if (rc == LN_OK && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
    rc = write_failed(w);
  if (rc == LN_OK) {
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0) {
      rc = write_failed(w);
      unlink(w->tmp);
    }
  }
  if (rc == LN_OK) {
    test_delay();
    if (rename(w->tmp, w->path) != 0) {
      rc = ln_error("save: cannot rename %s to %s: %s", w->tmp, w->path,
                    strerror(errno));
      unlink(w->tmp);
    } else {
      ln_sync_directory(w->path);
    }
  }
  ln_ckpt_writer_abort(w); /* frees; the temp file is gone by now on success */
  return rc;
}

/* ==== reading ============================================================ */

struct ln_ckpt_reader {
  char *path;
  FILE *f;
  z_stream z;
  bool z_open;
  uint64_t payload, stored, read_in, consumed;
  nesting nest;
  char *str;         /* the last string record */
  size_t str_cap;
  unsigned char in[CKP_BUF];
};

static int corrupt(ln_ckpt_reader *r, const char *what) {
  return ln_error("load: %s: corrupt checkpoint (%s)", r->path, what);
}

void ln_ckpt_reader_close(ln_ckpt_reader *r) {
  if (!r) return;
  if (r->z_open) inflateEnd(&r->z);
  if (r->f) fclose(r->f);
  free(r->str);
  free(r->path);
  free(r);
}

/* The CRC of the stored stream, read once before anything is inflated. */
static int check_stream_crc(ln_ckpt_reader *r, uint32_t want) {
  uint32_t crc = (uint32_t)crc32(0, NULL, 0);
  size_t n;
  while ((n = fread(r->in, 1, CKP_BUF, r->f)) > 0)
    crc = (uint32_t)crc32(crc, r->in, (uInt)n);
  if (ferror(r->f))
    return ln_error("load: reading %s: %s", r->path, strerror(errno));
  if (crc != want) return corrupt(r, "data checksum mismatch");
  if (fseek(r->f, CKP_HEADER, SEEK_SET) != 0)
    return ln_error("load: reading %s: %s", r->path, strerror(errno));
  return LN_OK;
}

static int check_header(ln_ckpt_reader *r, const unsigned char *h,
                        uint64_t file_size) {
  if (memcmp(h, ckp_magic, 8) != 0)
    return ln_error("load: %s is not a luann checkpoint (bad magic)", r->path);
  if (get_u32(h + 36) != (uint32_t)crc32(crc32(0, NULL, 0), h, 36))
    return corrupt(r, "header checksum mismatch");
  if (get_u32(h + 8) != CKP_VERSION)
    return ln_error("load: %s: checkpoint format version %u is not supported "
                    "(this luann reads version %d)", r->path, get_u32(h + 8),
                    CKP_VERSION);
  if (get_u32(h + 12) != 0) return corrupt(r, "unknown flags");
  r->payload = get_u64(h + 16);
  r->stored = get_u64(h + 24);
  if (r->stored != file_size - CKP_HEADER)
    return ln_error("load: %s: truncated or padded checkpoint (the header "
                    "says %llu bytes of data, the file has %llu)", r->path,
                    (unsigned long long)r->stored,
                    (unsigned long long)(file_size - CKP_HEADER));
  if (r->payload / CKP_MAX_RATIO > r->stored)
    return corrupt(r, "impossible payload size");
  return check_stream_crc(r, get_u32(h + 32));
}

/* Takes over f, a stream of size bytes, and checks the header; name is
** the path for messages. */
static ln_ckpt_reader *reader_start(FILE *f, uint64_t size, const char *name) {
  ln_ckpt_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->path = dup_string(name, ""))) {
    free(r);
    fclose(f);
    return ln_error("load: %s: out of memory", name), NULL;
  }
  r->f = f;
  unsigned char h[CKP_HEADER];
  int rc = LN_OK;
  if (fread(h, 1, CKP_HEADER, f) != CKP_HEADER)
    rc = ln_error("load: %s is not a luann checkpoint (%llu bytes long)",
                  name, (unsigned long long)size);
  if (rc == LN_OK) rc = check_header(r, h, size);
  if (rc == LN_OK && inflateInit(&r->z) != Z_OK)
    rc = ln_error("load: %s: cannot start zlib", name);
  r->z_open = rc == LN_OK;
  if (rc != LN_OK) {
    ln_ckpt_reader_close(r);
    return NULL;
  }
  return r;
}

ln_ckpt_reader *ln_ckpt_reader_open(const char *path) {
  struct stat st;
  FILE *f = fopen(path, "rb");
  if (!f || fstat(fileno(f), &st) != 0) {
    int e = errno;
    if (f) fclose(f);
    return ln_error("load: cannot open %s: %s", path, strerror(e)), NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    fclose(f);
    return ln_error("load: %s is a directory", path), NULL;
  }
  return reader_start(f, (uint64_t)st.st_size, path);
}

/* fmemopen gives the reader the FILE it reads a file through. */
ln_ckpt_reader *ln_ckpt_reader_open_memory(const void *data, size_t len,
                                           const char *name) {
  static char none; /* fmemopen allocates its own buffer for NULL */
  FILE *f = fmemopen(data ? (void *)data : &none, len, "rb");
  if (!f) return ln_error("load: %s: %s", name, strerror(errno)), NULL;
  return reader_start(f, len, name);
}

/* Hands inflate the next piece of the stored stream when it ran dry. */
static int refill(ln_ckpt_reader *r) {
  if (r->z.avail_in > 0 || r->read_in == r->stored) return LN_OK;
  size_t want = r->stored - r->read_in < CKP_BUF ? r->stored - r->read_in
                                                 : CKP_BUF;
  size_t got = fread(r->in, 1, want, r->f);
  if (got == 0) return corrupt(r, "the file changed while reading");
  r->read_in += got;
  r->z.next_in = r->in;
  r->z.avail_in = (uInt)got;
  return LN_OK;
}

/* zlib's complaint, with its Adler-32 check named as ours. */
static const char *inflate_problem(const ln_ckpt_reader *r) {
  if (!r->z.msg) return "bad compressed data";
  if (strcmp(r->z.msg, "incorrect data check") == 0)
    return "payload checksum mismatch";
  return r->z.msg;
}

/* Inflates exactly n payload bytes into dst. */
static int pull(ln_ckpt_reader *r, void *dst, size_t n) {
  if (n > r->payload - r->consumed)
    return corrupt(r, "a record runs past the end of the payload");
  r->consumed += n;
  unsigned char *p = dst;
  while (n > 0) {
    size_t piece = n < (1u << 30) ? n : 1u << 30;
    r->z.next_out = p;
    r->z.avail_out = (uInt)piece;
    while (r->z.avail_out > 0) {
      if (refill(r) != LN_OK) return LN_ERR;
      int rc = inflate(&r->z, Z_NO_FLUSH);
      if (rc == Z_MEM_ERROR) return ln_error("load: %s: out of memory", r->path);
      if (rc == Z_STREAM_END && r->z.avail_out > 0)
        return corrupt(r, "the payload ends early");
      if (rc == Z_BUF_ERROR && r->z.avail_in == 0 && r->read_in == r->stored)
        return corrupt(r, "the compressed stream is cut short");
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return corrupt(r, inflate_problem(r));
    }
    p += piece;
    n -= piece;
  }
  return LN_OK;
}

static int pull_u64(ln_ckpt_reader *r, uint64_t *v) {
  unsigned char b[8];
  if (pull(r, b, 8) != LN_OK) return LN_ERR;
  *v = get_u64(b);
  return LN_OK;
}

static int read_string(ln_ckpt_reader *r, ln_ckpt_item *item) {
  uint64_t len;
  if (pull_u64(r, &len) != LN_OK) return LN_ERR;
  if (len > r->payload - r->consumed)
    return corrupt(r, "a string runs past the end of the payload");
  if (len + 1 > r->str_cap) {
    char *s = realloc(r->str, len + 1);
    if (!s) return ln_error("load: %s: out of memory", r->path);
    r->str = s;
    r->str_cap = len + 1;
  }
  if (pull(r, r->str, len) != LN_OK) return LN_ERR;
  r->str[len] = 0;
  item->str = r->str;
  item->len = len;
  return LN_OK;
}

/* A shape's bytes and its extent (elements, empty dims counted as 1),
** overflow-checked: false when either overflows. */
static bool count_shape(int ndim, const int64_t *shape, size_t item,
                        uint64_t *bytes, uint64_t *extent) {
  uint64_t n = item, e = 1;
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    empty |= shape[i] == 0;
    if ((!empty && __builtin_mul_overflow(n, (uint64_t)shape[i], &n)) ||
        __builtin_mul_overflow(e, shape[i] ? (uint64_t)shape[i] : 1, &e))
      return false;
  }
  *bytes = empty ? 0 : n;
  *extent = e;
  return true;
}

/* Reads a tensor's header, checks its size against what remains, and only
** then allocates it and inflates its values. A shape no tensor can have
** (more than 2^40 elements, empty dims counted as 1) is refused even when
** it is empty: no writer made it, and loops over its dims would not end. */
static int read_tensor(ln_ckpt_reader *r, ln_ckpt_item *item) {
  unsigned char b[3];
  int64_t shape[LN_MAX_DIMS];
  if (pull(r, b, 3) != LN_OK) return LN_ERR;
  if (b[0] >= CKP_NDTYPES) return corrupt(r, "unknown tensor dtype");
  if (b[1] & ~1u) return corrupt(r, "unknown tensor flags");
  if (b[2] > LN_MAX_DIMS) return corrupt(r, "too many tensor dims");
  ln_dtype dt = ckp_dtypes[b[0]];
  for (int i = 0; i < b[2]; i++) {
    uint64_t s;
    if (pull_u64(r, &s) != LN_OK) return LN_ERR;
    if (s > (uint64_t)INT64_MAX) return corrupt(r, "negative tensor size");
    shape[i] = (int64_t)s;
  }
  char s[LN_SHAPE_STRLEN];
  ln_shape_str(b[2], shape, s, sizeof s);
  uint64_t bytes, extent, left = r->payload - r->consumed;
  bool counted = count_shape(b[2], shape, ln_dtype_size(dt), &bytes, &extent);
  if (counted && bytes > left)
    return ln_error("load: %s: corrupt checkpoint (a tensor of shape %s "
                    "needs %llu bytes, only %llu remain)", r->path, s,
                    (unsigned long long)bytes, (unsigned long long)left);
  if (!counted || extent > (uint64_t)LN_MAX_NUMEL)
    return ln_error("load: %s: corrupt checkpoint (a tensor of shape %s: "
                    "its nonzero sizes multiply past 2^40)", r->path, s);
  ln_tensor *t = ln_empty(b[2], shape, dt, ln_device_cpu());
  if (!t) { /* the core's message, named after the file */
    char why[256];
    snprintf(why, sizeof why, "%s", ln_error_message());
    return ln_error("load: %s: %s", r->path, why);
  }
  if (pull(r, ln_tensor_data(t), ln_tensor_nbytes(t)) != LN_OK) {
    ln_tensor_release(t);
    return LN_ERR;
  }
  if (dt == LN_BOOL) { /* only 0 and 1 are bools */
    uint8_t *v = ln_tensor_data(t);
    for (int64_t i = 0; i < ln_tensor_numel(t); i++) v[i] = v[i] != 0;
  }
  if ((b[1] & 1) && ln_dtype_is_float(dt)) ln_set_requires_grad(t, true);
  item->tensor = t;
  return LN_OK;
}

static int read_body(ln_ckpt_reader *r, ln_ckpt_item *item) {
  uint64_t v;
  switch (item->kind) {
    case LN_CKPT_FALSE: case LN_CKPT_TRUE: return LN_OK;
    case LN_CKPT_INT:
      if (pull_u64(r, &v) != LN_OK) return LN_ERR;
      item->i = (int64_t)v;
      return LN_OK;
    case LN_CKPT_FLOAT:
      if (pull_u64(r, &v) != LN_OK) return LN_ERR;
      memcpy(&item->f, &v, 8);
      return LN_OK;
    case LN_CKPT_STRING: return read_string(r, item);
    case LN_CKPT_TENSOR: return read_tensor(r, item);
    case LN_CKPT_TABLE:
      if (pull_u64(r, &v) != LN_OK) return LN_ERR;
      if (v > (r->payload - r->consumed) / 10) /* a key takes >= 9 bytes */
        return corrupt(r, "a table larger than the remaining data");
      item->i = (int64_t)v;
      return LN_OK;
  }
  return corrupt(r, "unknown record tag");
}

int ln_ckpt_next(ln_ckpt_reader *r, ln_ckpt_item *item) {
  unsigned char tag;
  memset(item, 0, sizeof *item);
  if (r->nest.root_done) return corrupt(r, "more data after the root value");
  if (pull(r, &tag, 1) != LN_OK) return LN_ERR;
  item->kind = (ln_ckpt_kind)tag;
  item->is_key = expects_key(&r->nest);
  if (tag < LN_CKPT_FALSE || tag > LN_CKPT_TABLE)
    return corrupt(r, "unknown record tag");
  if (read_body(r, item) != LN_OK) return LN_ERR;
  const char *problem = nesting_add(&r->nest, item->kind, item->i);
  if (problem) {
    ln_tensor_release(item->tensor);
    item->tensor = NULL;
    return corrupt(r, problem);
  }
  return LN_OK;
}

int ln_ckpt_reader_finish(ln_ckpt_reader *r) {
  if (!r->nest.root_done) return corrupt(r, "the value is incomplete");
  /* The stream must end right here: one more byte of output is too many. */
  unsigned char extra;
  r->z.next_out = &extra;
  r->z.avail_out = 1;
  int rc;
  do {
    if (refill(r) != LN_OK) return LN_ERR;
    rc = inflate(&r->z, Z_NO_FLUSH);
  } while (rc == Z_OK && r->z.avail_out == 1);
  if (r->z.avail_out == 0)
    return corrupt(r, "more data after the root value");
  if (r->consumed != r->payload)
    return corrupt(r, "the payload size in the header does not match the data");
  if (rc != Z_STREAM_END)
    return corrupt(r, rc == Z_DATA_ERROR ? inflate_problem(r)
                                         : "the compressed stream is cut short");
  if (r->z.avail_in > 0 || r->read_in < r->stored)
    return corrupt(r, "data after the compressed stream");
  return LN_OK;
}
