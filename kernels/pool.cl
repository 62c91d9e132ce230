/*
** pool.cl: the OpenCL kernel of max_pool2d_with_indices (core/op_pool.c,
** whose CPU kernel it mirrors): one work item per output element scans its
** window for the first maximum (a NaN wins) and its 0-based plane position.
*/

/* core/op_pool.c's pool_geometry. */
typedef struct pool_geometry {
  long kernel_size[2], stride[2], padding[2], dilation[2];
  long out[2];
} pool_geometry;

__kernel void max_pool2d(__global real *out, view_t o, __global long *idx,
                         view_t iv, __global const real *x, view_t xv,
                         pool_geometry p) {
  long oh = p.out[0], ow = p.out[1], c1 = xv.size[1];
  long h = xv.size[2], w = xv.size[3];
  long numel = o.size[0] * o.size[1] * oh * ow;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long j = e % ow, i = (e / ow) % oh, plane = e / (ow * oh);
    long base = xv.offset + (plane / c1) * xv.st[0] + (plane % c1) * xv.st[1];
    long top = i * p.stride[0] - p.padding[0];
    long left = j * p.stride[1] - p.padding[1];
    real best = 0;
    long at = -1;
    for (long a = 0; a < p.kernel_size[0]; a++) {
      long r = top + a * p.dilation[0];
      if (r < 0 || r >= h) continue;
      for (long b = 0; b < p.kernel_size[1]; b++) {
        long col = left + b * p.dilation[1];
        if (col < 0 || col >= w) continue;
        real v = x[base + r * xv.st[2] + col * xv.st[3]];
        if (at < 0 || v > best || (v != v && best == best)) {
          best = v;
          at = r * w + col;
        }
      }
    }
    out[o.offset + e] = best;
    idx[iv.offset + e] = at;
  }
}
