/*
** png_file.c: PNG files through libpng.
**
** libpng reports an error by calling our on_error, which keeps the message
** and longjmps back to the setjmp in encode or decode. Nothing but libpng
** lies between the two (no Lua frame, no other core frame), and everything
** the jump must free hangs off a heap-allocated png_job, so no local
** variable needs to survive the jump. A PNG that libpng can read with a
** warning is read; the last warning only explains a later error.
*/
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "png_file.h"

/* One read or write: libpng's state, the stream, what the jump frees. */
typedef struct png_job {
  png_structp png;
  png_infop info;
  FILE *f;
  int os_error;     /* errno of a failed read or write, 0 if none */
  char msg[200];    /* libpng's message, or ours through png_error */
  char warning[120]; /* the last warning: often the reason for an error */
  uint8_t *pixels;  /* read: (H,W,C) interleaved */
  png_bytep *rows;  /* read: row pointers into pixels */
  uint32_t height, width;
  int channels;
} png_job;

/* libpng's message, with the last warning when there was one ("Invalid
** IHDR data (Image width exceeds user limit in IHDR)"). */
static void on_error(png_structp png, png_const_charp msg) {
  png_job *j = png_get_error_ptr(png);
  if (j->warning[0])
    snprintf(j->msg, sizeof j->msg, "%s (%s)", msg, j->warning);
  else
    snprintf(j->msg, sizeof j->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
  png_job *j = png_get_error_ptr(png);
  snprintf(j->warning, sizeof j->warning, "%s", msg);
}

/* Why libpng stopped: the OS's reason when a read or write failed. */
static const char *reason(const png_job *j) {
  return j->os_error ? strerror(j->os_error) : j->msg;
}

/* ---- writing ------------------------------------------------------------ */

static void write_bytes(png_structp png, png_bytep data, size_t n) {
  png_job *j = png_get_io_ptr(png);
  errno = 0;
  if (fwrite(data, 1, n, j->f) != n) {
    j->os_error = errno ? errno : EIO;
    png_error(png, "write failed");
  }
}

static void flush_bytes(png_structp png) { (void)png; } /* commit flushes */

static const int color_types[] = {PNG_COLOR_TYPE_GRAY,
                                  PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};

static int encode(png_job *j, const char *path, const uint8_t *pixels) {
  if (setjmp(png_jmpbuf(j->png)))
    return ln_error("image.save: cannot write %s: %s", path, reason(j));
  png_set_write_fn(j->png, j, write_bytes, flush_bytes);
  png_set_IHDR(j->png, j->info, j->width, j->height, 8,
               color_types[j->channels - 1], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(j->png, j->info);
  size_t stride = (size_t)j->width * (size_t)j->channels;
  for (uint32_t y = 0; y < j->height; y++)
    png_write_row(j->png, (png_const_bytep)pixels + y * stride);
  png_write_end(j->png, NULL);
  return LN_OK;
}

int ln_png_write(const char *path, const uint8_t *pixels, int64_t height,
                 int64_t width, int channels) {
  if (channels < 1 || channels > 4)
    return ln_error("image.save: a PNG has 1 to 4 channels, got %d", channels);
  if (height < 1 || width < 1 || height > LN_PNG_MAX_SIDE ||
      width > LN_PNG_MAX_SIDE) /* more would not load again */
    return ln_error("image.save: an image is 1 to %d pixels on a side, got "
                    "%lld x %lld (width x height)", LN_PNG_MAX_SIDE,
                    (long long)width, (long long)height);
  png_job *j = calloc(1, sizeof *j);
  if (j) j->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, j, on_error,
                                          on_warning);
  if (j && j->png) j->info = png_create_info_struct(j->png);
  ln_atomic_file a = {0};
  int rc = j && j->info ? LN_OK : ln_error("image.save: out of memory");
  if (rc == LN_OK) rc = ln_atomic_open(&a, "image.save", path);
  if (rc == LN_OK) {
    *j = (png_job){.png = j->png, .info = j->info, .f = a.f,
                   .height = (uint32_t)height, .width = (uint32_t)width,
                   .channels = channels};
    rc = encode(j, path, pixels);
    rc = rc == LN_OK ? ln_atomic_commit(&a, "image.save")
                     : (ln_atomic_abort(&a), LN_ERR);
  }
  if (j) png_destroy_write_struct(&j->png, &j->info);
  free(j);
  return rc;
}

/* ---- reading ------------------------------------------------------------ */

static void read_bytes(png_structp png, png_bytep data, size_t n) {
  png_job *j = png_get_io_ptr(png);
  errno = 0;
  if (fread(data, 1, n, j->f) != n) {
    if (ferror(j->f)) j->os_error = errno ? errno : EIO;
    png_error(png, "the file ends early (truncated)");
  }
}

/* Reads the image into j->pixels as 8-bit samples, 1 to 4 per pixel. */
static int decode(png_job *j, const char *name) {
  if (setjmp(png_jmpbuf(j->png)))
    return ln_error("image.load: %s: %s", name, reason(j));
  png_set_read_fn(j->png, j, read_bytes);
  png_set_sig_bytes(j->png, 8);
  png_set_user_limits(j->png, LN_PNG_MAX_SIDE, LN_PNG_MAX_SIDE);
  png_read_info(j->png, j->info);
  png_set_expand(j->png); /* palette -> RGB, low bit depths -> 8, tRNS -> alpha */
#ifdef PNG_READ_SCALE_16_TO_8_SUPPORTED
  png_set_scale_16(j->png);
#else
  png_set_strip_16(j->png);
#endif
  png_set_interlace_handling(j->png);
  png_read_update_info(j->png, j->info);
  j->height = png_get_image_height(j->png, j->info);
  j->width = png_get_image_width(j->png, j->info);
  j->channels = png_get_channels(j->png, j->info);
  size_t row = png_get_rowbytes(j->png, j->info);
  if (j->channels < 1 || j->channels > 4 || png_get_bit_depth(j->png, j->info) != 8 ||
      row != (size_t)j->width * (size_t)j->channels)
    png_error(j->png, "unexpected pixel layout after conversion to 8 bits");
  if ((int64_t)row * j->height > LN_PNG_MAX_BYTES) {
    char why[160];
    snprintf(why, sizeof why, "%u x %u pixels with %d channels is more than "
             "the %lld bytes an image may take", j->width, j->height,
             j->channels, (long long)LN_PNG_MAX_BYTES);
    png_error(j->png, why);
  }
  j->pixels = malloc(row * j->height);
  j->rows = malloc(j->height * sizeof *j->rows);
  if (!j->pixels || !j->rows) png_error(j->png, "out of memory");
  for (uint32_t y = 0; y < j->height; y++) j->rows[y] = j->pixels + y * row;
  png_read_image(j->png, j->rows);
  png_read_end(j->png, NULL);
  return LN_OK;
}

/* (H,W,C) interleaved pixels -> a new (C,H,W) tensor. */
static ln_tensor *planar_tensor(const png_job *j) {
  int64_t C = j->channels, H = j->height, W = j->width;
  ln_tensor *t = ln_empty(3, (int64_t[]){C, H, W}, LN_UINT8, ln_device_cpu());
  if (!t) return NULL;
  uint8_t *out = ln_tensor_data(t);
  for (int64_t c = 0; c < C; c++)
    for (int64_t i = 0; i < H * W; i++) out[c * H * W + i] = j->pixels[i * C + c];
  return t;
}

static ln_tensor *read_stream(FILE *f, const char *name) {
  png_byte sig[8];
  errno = 0;
  size_t got = fread(sig, 1, 8, f);
  if (got != 8 && ferror(f))
    return ln_error("image.load: cannot read %s: %s", name,
                    strerror(errno ? errno : EIO)), NULL;
  if (got != 8 || png_sig_cmp(sig, 0, 8) != 0)
    return ln_error("image.load: %s: not a PNG file (no PNG signature)", name),
           NULL;
  png_job *j = calloc(1, sizeof *j);
  if (j) j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, on_error,
                                         on_warning);
  if (j && j->png) j->info = png_create_info_struct(j->png);
  ln_tensor *t = NULL;
  if (!j || !j->info) {
    ln_error("image.load: out of memory");
  } else {
    j->f = f;
    if (decode(j, name) == LN_OK) t = planar_tensor(j);
  }
  if (j) {
    png_destroy_read_struct(&j->png, &j->info, NULL);
    free(j->pixels);
    free(j->rows);
  }
  free(j);
  return t;
}

ln_tensor *ln_png_read(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return ln_error("image.load: cannot open %s: %s", path, strerror(errno)),
           NULL;
  ln_tensor *t = read_stream(f, path);
  fclose(f);
  return t;
}

ln_tensor *ln_png_read_memory(const void *data, size_t len, const char *name) {
  if (len == 0)
    return ln_error("image.load: %s: not a PNG file (empty)", name), NULL;
  FILE *f = fmemopen((void *)data, len, "rb");
  if (!f)
    return ln_error("image.load: %s: %s", name, strerror(errno)), NULL;
  ln_tensor *t = read_stream(f, name);
  fclose(f);
  return t;
}
