/*
** conv_direct.h: stride-1 convolution without columns (core/op_conv_direct.c),
** for the convolution composites of core/op_conv.c (internal).
**
** Three primitive ops share one geometry, that of a convolution
** y = x (*) w with x (N, C, H, W), w (O, C, kh, kw), y (N, O, OH, OW):
**
**   forward  y[n,o,i,j]  = sum_{c,a,b} w[o,c,a,b] X[n,c, i + a*dh - ph, j + b*dw - pw]
**   input    x'[n,c,h,v] = sum_{o,a,b} w[o,c,a,b] Y[n,o, h + ph - a*dh, v + pw - b*dw]
**   weight   w'[o,c,a,b] = sum_{n,i,j} Y[n,o,i,j] X[n,c, i + a*dh - ph, j + b*dw - pw]
**
** (X and Y read zero outside their images). Each is linear in each
** operand and the gradients of each are the other two, so the three close
** under backward, double backward included, with no flips or transposes.
*/
#ifndef LUANN_CONV_DIRECT_H
#define LUANN_CONV_DIRECT_H

#include "internal.h"
#include "luann_core.h"

/* The convolution's geometry (longs only: kernels/conv.cl has the same
** struct). pad is what lies before row 0 and column 0 of x; the sizes of
** x and y fix what lies after. */
typedef struct ln_conv_geometry {
  int64_t kernel[2], pad[2], dilation[2];
  int64_t in[2];   /* H, W */
  int64_t out[2];  /* OH, OW */
} ln_conv_geometry;

/* y = x (*) w + b (b may be NULL): x (N, C, H, W) -> y (N, O, OH, OW). */
LN_INTERNAL ln_tensor *ln_conv_direct(ln_tensor *x, ln_tensor *w, ln_tensor *b,
                                      const ln_conv_geometry *g);
/* The input gradient for y's gradient gy (N, O, OH, OW): (N, C, H, W). */
LN_INTERNAL ln_tensor *ln_conv_direct_input(ln_tensor *gy, ln_tensor *w,
                                            const ln_conv_geometry *g);
/* The weight gradient from x and gy: (O, C, kh, kw). */
LN_INTERNAL ln_tensor *ln_conv_direct_weight(ln_tensor *x, ln_tensor *gy,
                                             const ln_conv_geometry *g);

/* ---- the CPU kernels' common form ---------------------------------------
** A stride-1 correlation of an image x (N, CI, H, W) with a weight read as
** w[oc*ws[0] + ic*ws[1] + a*ws[2] + b*ws[3]] (signed strides: the input op
** reads the weight flipped and transposed through them):
**   y[n,oc,i,j] = bias[oc] + sum_{ic,a,b} w(oc,ic,a,b) X[n,ic, i + a*dh - ph, j + b*dw - pw]
** and its weight gradient. */
typedef struct ln_conv_job {
  int64_t n, ci, h, w;             /* the image */
  int64_t xs[4];                   /* its strides */
  int64_t co;                      /* output channels */
  int64_t ws[4];                   /* the weight's strides, as above */
  int64_t bs;                      /* the bias's stride */
  int64_t kh, kw, dh, dw, ph, pw;  /* pads may be negative (crops) */
  int64_t oh, ow;
} ln_conv_job;

/* float32 kernels (core/conv_simd.c); outputs contiguous. LN_ERR when out
** of memory. */
/* y (N, CO, OH, OW) = the correlation, plus bias (NULL: none). */
LN_INTERNAL int ln_conv_simd_forward(float *y, const float *x, const float *w,
                                     const float *bias, const ln_conv_job *j);
/* gw (CO, CI, kh, kw) = sum_{n,i,j} gy[n,oc,i,j] X[n,ic, i + a*dh - ph, ..]
** for gy (N, CO, OH, OW) with strides gs; the weight is not read. */
LN_INTERNAL int ln_conv_simd_weight(float *gw, const float *x, const float *gy,
                                    const int64_t *gs, const ln_conv_job *j);

#endif
