/*
** scan.cl: the OpenCL kernel of cumsum and cumprod and their backward
** passes (core/op_scan.c, whose CPU kernel it mirrors): one work item per
** line along dim; out is contiguous.
*/

/* core/op_scan.c's scan_kind and scan_params. */
enum { SCAN_SUM, SCAN_PROD, SCAN_SUM_REVERSE, SCAN_PROD_BACKWARD };
typedef struct scan_params {
  long dim, kind;
} scan_params;

__kernel void scan(__global real *out, view_t o, __global const real *x,
                   view_t xv, __global const real *g, view_t gv,
                   scan_params p) {
  int dim = (int)p.dim, nd = (int)o.ndim;
  long n = o.size[dim], lines = 1, os = 1;
  for (int d = 0; d < nd; d++)
    if (d != dim) lines *= o.size[d];
  for (int d = dim + 1; d < nd; d++) os *= o.size[d];
  long xs = xv.st[dim], gs = gv.st[dim];
  for (long line = get_global_id(0); line < lines && n;
       line += get_global_size(0)) {
    long rest = line, xo = xv.offset, go = gv.offset, oo = o.offset, ostride = 1;
    for (int d = nd - 1; d >= 0; d--) {
      if (d == dim) { ostride *= n; continue; }
      long c = rest % o.size[d];
      rest /= o.size[d];
      xo += c * xv.st[d];
      go += c * gv.st[d];
      oo += c * ostride;
      ostride *= o.size[d];
    }
    acc a;
    if (p.kind == SCAN_SUM) {
      a = 0;
      for (long i = 0; i < n; i++) out[oo + i * os] = (real)(a += x[xo + i * xs]);
    } else if (p.kind == SCAN_PROD) {
      a = 1;
      for (long i = 0; i < n; i++) out[oo + i * os] = (real)(a *= x[xo + i * xs]);
    } else if (p.kind == SCAN_SUM_REVERSE) {
      a = 0;
      for (long i = n - 1; i >= 0; i--)
        out[oo + i * os] = (real)(a += x[xo + i * xs]);
    } else {
      a = 0;
      for (long i = n - 1; i >= 0; i--) {
        a = g[go + i * gs] + (i + 1 < n ? (acc)x[xo + (i + 1) * xs] * a : 0);
        out[oo + i * os] = (real)a;
      }
      a = 1;
      for (long i = 0; i < n; i++) {
        out[oo + i * os] = (real)((acc)out[oo + i * os] * a);
        a *= x[xo + i * xs];
      }
    }
  }
}
