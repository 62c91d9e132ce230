/*
** im2col.cl: the OpenCL kernels of im2col and col2im (core/op_im2col.c,
** whose CPU kernels they mirror): im2col has one work item per column
** entry; col2im one per image element, gathering the entries that read it
** (no atomics).
*/

/* core/im2col.h's ln_im2col_geometry. */
typedef struct im2col_geometry {
  long ksize[2], stride[2], pad[2], dilation[2]; /* ksize: kernel is a keyword */
  long blocks[2];
  long image[2];
} im2col_geometry;

__kernel void im2col(__global real *cols, view_t o, __global const real *x,
                     view_t xv, im2col_geometry g) {
  long kh = g.ksize[0], kw = g.ksize[1], oh = g.blocks[0], ow = g.blocks[1];
  long c = xv.size[1], h = g.image[0], w = g.image[1];
  long numel = o.size[0] * o.size[1] * o.size[2];
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long j = e % ow, i = (e / ow) % oh, row = e / (ow * oh);
    long b = row % kw, a = (row / kw) % kh, ci = (row / (kw * kh)) % c;
    long ni = row / (kw * kh * c);
    long r = i * g.stride[0] - g.pad[0] + a * g.dilation[0];
    long col = j * g.stride[1] - g.pad[1] + b * g.dilation[1];
    real v = 0;
    if (r >= 0 && r < h && col >= 0 && col < w)
      v = x[xv.offset + ni * xv.st[0] + ci * xv.st[1] + r * xv.st[2] + col * xv.st[3]];
    cols[o.offset + e] = v;
  }
}

__kernel void col2im(__global real *x, view_t o, __global const real *cols,
                     view_t cv, im2col_geometry g) {
  long kh = g.ksize[0], kw = g.ksize[1], oh = g.blocks[0], ow = g.blocks[1];
  long c = o.size[1], h = g.image[0], w = g.image[1];
  long numel = o.size[0] * c * h * w;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long col = e % w, r = (e / w) % h, ci = (e / (w * h)) % c, ni = e / (w * h * c);
    acc s = 0;
    for (long a = 0; a < kh; a++) {
      long ri = r + g.pad[0] - a * g.dilation[0];
      if (ri < 0 || ri % g.stride[0]) continue;
      long i = ri / g.stride[0];
      if (i >= oh) continue;
      for (long b = 0; b < kw; b++) {
        long cj = col + g.pad[1] - b * g.dilation[1];
        if (cj < 0 || cj % g.stride[1]) continue;
        long j = cj / g.stride[1];
        if (j >= ow) continue;
        s += cols[cv.offset + ni * cv.st[0] + ((ci * kh + a) * kw + b) * cv.st[1] +
                  (i * ow + j) * cv.st[2]];
      }
    }
    x[o.offset + e] = (real)s;
  }
}
