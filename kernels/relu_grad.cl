/*
** relu_grad.cl: the OpenCL kernel of ReLU's backward (core/op_relu_grad.c,
** whose CPU kernel it mirrors): g where y > 0, else 0; all three
** contiguous.
*/

__kernel void relu_grad(__global real *out, view_t o, __global const real *g,
                        view_t gv, __global const real *y, view_t yv) {
  long numel = 1;
  for (long d = 0; d < o.ndim; d++) numel *= o.size[d];
  for (long e = get_global_id(0); e < numel; e += get_global_size(0))
    out[o.offset + e] = y[yv.offset + e] > 0 ? g[gv.offset + e] : (real)0;
}
