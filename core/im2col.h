/*
** im2col.h: the primitive pair under convolution (core/op_im2col.c), for
** the convolution composites (internal).
*/
#ifndef LUANN_IM2COL_H
#define LUANN_IM2COL_H

#include "internal.h"
#include "luann_core.h"

/* The window geometry of both kernels (longs only: kernels/im2col.cl has
** the same struct). Window (i, j) of kernel (kh, kw) starts at row
** i*stride[0] - pad[0] and column j*stride[1] - pad[1] of an image of
** image[0] x image[1]; there are blocks[0] x blocks[1] windows. Entries
** outside the image read as zeros (padding). */
typedef struct ln_im2col_geometry {
  int64_t kernel[2], stride[2], pad[2], dilation[2];
  int64_t blocks[2];
  int64_t image[2];
} ln_im2col_geometry;

/* x (N, C, H, W) -> columns (N, C*kh*kw, OH*OW), one pass, recorded: its
** backward is col2im. */
LN_INTERNAL ln_tensor *ln_im2col_geometry_run(ln_tensor *x,
                                              const ln_im2col_geometry *g);
/* columns (N, C*kh*kw, OH*OW) -> the image (N, C, H, W) they sum into,
** recorded: its backward is im2col. */
LN_INTERNAL ln_tensor *ln_col2im_geometry_run(ln_tensor *cols, int64_t n,
                                              int64_t c,
                                              const ln_im2col_geometry *g);

#endif
