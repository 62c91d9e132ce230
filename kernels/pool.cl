/*
** pool.cl: the OpenCL kernels of max_pool2d_with_indices (core/op_pool.c,
** whose CPU kernels they mirror): one work item per output element scans
** its window for the first maximum (a NaN wins) and its 0-based plane
** position; the backward has one work item per input element, summing the
** gradient of every window that picked it (no atomics).
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

__kernel void max_pool2d_backward(__global real *dx, view_t dv, __global const real *g,
                                  view_t gv, __global const long *idx, view_t iv,
                                  pool_geometry p) {
  long h = dv.size[2], w = dv.size[3], c1 = dv.size[1];
  long oh = p.out[0], ow = p.out[1];
  long numel = dv.size[0] * c1 * h * w;
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long pos = e % (h * w), plane = e / (h * w);
    long r = pos / w, col = pos % w, n = plane / c1, c = plane % c1;
    acc s = 0;
    for (long a = 0; a < p.kernel_size[0]; a++) {
      long ti = r + p.padding[0] - a * p.dilation[0];
      if (ti < 0 || ti % p.stride[0]) continue;
      long i = ti / p.stride[0];
      if (i >= oh) continue;
      for (long b = 0; b < p.kernel_size[1]; b++) {
        long tj = col + p.padding[1] - b * p.dilation[1];
        if (tj < 0 || tj % p.stride[1]) continue;
        long j = tj / p.stride[1];
        if (j >= ow) continue;
        if (idx[iv.offset + n * iv.st[0] + c * iv.st[1] + i * iv.st[2] + j * iv.st[3]] == pos)
          s += g[gv.offset + n * gv.st[0] + c * gv.st[1] + i * gv.st[2] + j * gv.st[3]];
      }
    }
    dx[dv.offset + e] = (real)s;
  }
}
