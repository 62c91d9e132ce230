/*
** conv.cl: the OpenCL kernels of stride-1 convolution (core/op_conv_direct.c,
** whose algebra core/conv_direct.h states): the forward (with and without
** a bias), the input gradient and the weight gradient, one work item per
** output element summing everything that element needs. Any strides in.
*/

/* core/conv_direct.h's ln_conv_geometry. */
typedef struct conv_geometry {
  long ksize[2], pad[2], dilation[2]; /* ksize: kernel is a keyword */
  long insize[2];
  long outsize[2];
} conv_geometry;

/* sum_{c,a,b} w[o,c,a,b] x[n,c, i + a*dh - ph, j + b*dw - pw] */
acc conv_forward_at(__global const real *x, view_t xv, __global const real *w,
                    view_t wv, conv_geometry g, long n, long o, long i, long j) {
  long h = xv.size[2], wd = xv.size[3];
  acc s = 0;
  for (long c = 0; c < xv.size[1]; c++)
    for (long a = 0; a < g.ksize[0]; a++) {
      long r = i + a * g.dilation[0] - g.pad[0];
      if (r < 0 || r >= h) continue;
      for (long b = 0; b < g.ksize[1]; b++) {
        long col = j + b * g.dilation[1] - g.pad[1];
        if (col < 0 || col >= wd) continue;
        s += (acc)w[wv.offset + o * wv.st[0] + c * wv.st[1] + a * wv.st[2] + b * wv.st[3]] *
             (acc)x[xv.offset + n * xv.st[0] + c * xv.st[1] + r * xv.st[2] + col * xv.st[3]];
      }
    }
  return s;
}

__kernel void conv_forward(__global real *y, view_t yv, __global const real *x,
                           view_t xv, __global const real *w, view_t wv,
                           conv_geometry g) {
  long oh = g.outsize[0], ow = g.outsize[1], o1 = yv.size[1];
  long numel = yv.size[0] * o1 * oh * ow;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long j = e % ow, i = (e / ow) % oh, o = (e / (ow * oh)) % o1, n = e / (ow * oh * o1);
    y[yv.offset + e] = (real)conv_forward_at(x, xv, w, wv, g, n, o, i, j);
  }
}

__kernel void conv_forward_bias(__global real *y, view_t yv, __global const real *x,
                                view_t xv, __global const real *w, view_t wv,
                                __global const real *b, view_t bv, conv_geometry g) {
  long oh = g.outsize[0], ow = g.outsize[1], o1 = yv.size[1];
  long numel = yv.size[0] * o1 * oh * ow;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long j = e % ow, i = (e / ow) % oh, o = (e / (ow * oh)) % o1, n = e / (ow * oh * o1);
    acc s = (acc)b[bv.offset + o * bv.st[0]] + conv_forward_at(x, xv, w, wv, g, n, o, i, j);
    y[yv.offset + e] = (real)s;
  }
}

/* x'[n,c,h,v] = sum_{o,a,b} w[o,c,a,b] gy[n,o, h + ph - a*dh, v + pw - b*dw] */
__kernel void conv_input(__global real *xg, view_t xgv, __global const real *gy,
                         view_t gv, __global const real *w, view_t wv,
                         conv_geometry g) {
  long h = g.insize[0], wd = g.insize[1], c1 = xgv.size[1];
  long oh = gv.size[2], ow = gv.size[3];
  long numel = xgv.size[0] * c1 * h * wd;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long v = e % wd, r = (e / wd) % h, c = (e / (wd * h)) % c1, n = e / (wd * h * c1);
    acc s = 0;
    for (long o = 0; o < gv.size[1]; o++)
      for (long a = 0; a < g.ksize[0]; a++) {
        long i = r + g.pad[0] - a * g.dilation[0];
        if (i < 0 || i >= oh) continue;
        for (long b = 0; b < g.ksize[1]; b++) {
          long j = v + g.pad[1] - b * g.dilation[1];
          if (j < 0 || j >= ow) continue;
          s += (acc)w[wv.offset + o * wv.st[0] + c * wv.st[1] + a * wv.st[2] + b * wv.st[3]] *
               (acc)gy[gv.offset + n * gv.st[0] + o * gv.st[1] + i * gv.st[2] + j * gv.st[3]];
        }
      }
    xg[xgv.offset + e] = (real)s;
  }
}

/* w'[o,c,a,b] = sum_{n,i,j} gy[n,o,i,j] x[n,c, i + a*dh - ph, j + b*dw - pw] */
__kernel void conv_weight(__global real *wg, view_t wgv, __global const real *x,
                          view_t xv, __global const real *gy, view_t gv,
                          conv_geometry g) {
  long kh = g.ksize[0], kw = g.ksize[1], c1 = xv.size[1], h = xv.size[2], wd = xv.size[3];
  long numel = wgv.size[0] * c1 * kh * kw;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long b = e % kw, a = (e / kw) % kh, c = (e / (kw * kh)) % c1, o = e / (kw * kh * c1);
    acc s = 0;
    for (long n = 0; n < xv.size[0]; n++)
      for (long i = 0; i < gv.size[2]; i++) {
        long r = i + a * g.dilation[0] - g.pad[0];
        if (r < 0 || r >= h) continue;
        for (long j = 0; j < gv.size[3]; j++) {
          long col = j + b * g.dilation[1] - g.pad[1];
          if (col < 0 || col >= wd) continue;
          s += (acc)gy[gv.offset + n * gv.st[0] + o * gv.st[1] + i * gv.st[2] + j * gv.st[3]] *
               (acc)x[xv.offset + n * xv.st[0] + c * xv.st[1] + r * xv.st[2] + col * xv.st[3]];
        }
      }
    wg[wgv.offset + e] = (real)s;
  }
}
