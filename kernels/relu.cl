/*
** relu.cl: relu's backward in one kernel (core/op_pointwise.c's
** relu_grad, whose CPU kernel it mirrors): out = y > 0 ? g : 0, every
** operand contiguous from its view's offset.
*/
__kernel void relu_backward(__global real *o, view_t ov,
                            __global const real *y, view_t yv,
                            __global const real *g, view_t gv) {
  long n = 1;
  for (long d = 0; d < ov.ndim; d++) n *= ov.size[d];
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    o[ov.offset + i] = y[yv.offset + i] > 0 ? g[gv.offset + i] : (real)0;
}
