/*
** png_file.h: PNG images through libpng (internal; luann.image's core).
**
** Pixels cross this boundary as 8-bit samples, interleaved row by row
** (height, width, channels) for writing; reading gives a (C,H,W) uint8
** tensor. Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. Named
** png_file.h so that it never shadows libpng's <png.h> on our -Icore path.
*/
#ifndef LUANN_PNG_FILE_H
#define LUANN_PNG_FILE_H

#include "internal.h"
#include "luann_core.h"

/* The largest image a file may claim before anything is allocated for it:
** a hostile header costs at most this much memory. */
#define LN_PNG_MAX_SIDE 1000000          /* libpng's own default limit */
#define LN_PNG_MAX_BYTES (INT64_C(1) << 30)

/* Writes pixels (height, width, channels) as an 8-bit PNG, atomically
** (atomic_file.h); the sides within LN_PNG_MAX_SIDE, as for reading. */
LN_INTERNAL int ln_png_write(const char *path, const uint8_t *pixels,
                             int64_t height, int64_t width, int channels);
/* Reads any PNG libpng reads (palette, gray, gray+alpha, RGB, RGBA, 1 to
** 16 bits, interlaced) into a new (C,H,W) uint8 CPU tensor: palettes
** become RGB, a tRNS chunk becomes an alpha channel, 16-bit samples are
** scaled to 8 bits. */
LN_INTERNAL ln_tensor *ln_png_read(const char *path);
/* The same from len bytes in memory; name stands for the path. */
LN_INTERNAL ln_tensor *ln_png_read_memory(const void *data, size_t len,
                                          const char *name);

#endif
