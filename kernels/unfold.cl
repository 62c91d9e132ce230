/*
** unfold.cl: the OpenCL kernel of unfold_backward (core/op_unfold.c, whose
** CPU kernel it mirrors): each output element gathers the window entries
** that read it.
*/

/* core/op_unfold.c's unfold_params. */
typedef struct unfold_params {
  long dim, size, step, dilation;
} unfold_params;

__kernel void unfold_backward(__global real *out, view_t o,
                              __global const real *g, view_t gv,
                              unfold_params p) {
  int dim = (int)p.dim, nd = (int)o.ndim;
  long numel = 1;
  for (int d = 0; d < nd; d++) numel *= o.size[d];
  long nwin = gv.size[dim], kstride = gv.st[nd];
  for (long e = get_global_id(0); e < numel; e += get_global_size(0)) {
    long rest = e, base = gv.offset, i = 0;
    for (int d = nd - 1; d >= 0; d--) {
      long c = rest % o.size[d];
      rest /= o.size[d];
      if (d == dim) i = c;
      else base += c * gv.st[d];
    }
    acc s = 0;
    for (long k = 0; k < p.size; k++) {
      long j = i - k * p.dilation;
      if (j < 0) break;
      if (j % p.step || j / p.step >= nwin) continue;
      s += g[base + (j / p.step) * gv.st[dim] + k * kstride];
    }
    out[o.offset + e] = (real)s;
  }
}
