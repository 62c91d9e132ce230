/*
** lstm.cl: the OpenCL kernels of _lstm's cell (core/op_lstm.c, whose CPU
** kernels they mirror), one work item per (row, unit). Every operand is a
** (B, H) or (B, 4H) view with unit column stride; act may be gates itself
** and dc may be dc_next (each item reads its elements before it writes
** them).
*/

/* core/op_lstm.c's cell_kparams. */
typedef struct cell_kparams {
  long B, H;
} cell_kparams;

inline facc lstm_sigmoid(facc x) { return 1 / (1 + exp(-x)); }

/* i, f, o = sigmoid, g = tanh of the gates; c = f c_prev + i g, h = o tanh(c). */
__kernel void lstm_cell_forward(__global real *act, view_t av,
                                __global real *c, view_t cv,
                                __global real *h, view_t hv,
                                __global const real *gates, view_t gv,
                                __global const real *cp, view_t pv,
                                cell_kparams k) {
  for (long item = get_global_id(0); item < k.B * k.H;
       item += get_global_size(0)) {
    long b = item / k.H, u = item % k.H;
    long go = gv.offset + b * gv.st[0] + u, ao = av.offset + b * av.st[0] + u;
    facc i = lstm_sigmoid((facc)gates[go]);
    facc f = lstm_sigmoid((facc)gates[go + k.H]);
    facc g = tanh((facc)gates[go + 2 * k.H]);
    facc o = lstm_sigmoid((facc)gates[go + 3 * k.H]);
    facc cn = f * (facc)cp[pv.offset + b * pv.st[0] + u] + i * g;
    act[ao] = (real)i;
    act[ao + k.H] = (real)f;
    act[ao + 2 * k.H] = (real)g;
    act[ao + 3 * k.H] = (real)o;
    c[cv.offset + b * cv.st[0] + u] = (real)cn;
    h[hv.offset + b * hv.st[0] + u] = (real)(o * tanh(cn));
  }
}

/* The gates' gradient and dc_prev from dy + dh and dc_next (see the CPU's
** cell_backward in core/op_lstm.c). */
__kernel void lstm_cell_backward(__global real *dgates, view_t dgv,
                                 __global real *dc, view_t dcv,
                                 __global const real *act, view_t av,
                                 __global const real *cp, view_t pv,
                                 __global const real *c, view_t cv,
                                 __global const real *dy, view_t dyv,
                                 __global const real *dh, view_t dhv,
                                 __global const real *dcn, view_t dnv,
                                 cell_kparams k) {
  for (long item = get_global_id(0); item < k.B * k.H;
       item += get_global_size(0)) {
    long b = item / k.H, u = item % k.H;
    long ao = av.offset + b * av.st[0] + u, go = dgv.offset + b * dgv.st[0] + u;
    facc i = act[ao], f = act[ao + k.H], g = act[ao + 2 * k.H];
    facc o = act[ao + 3 * k.H];
    facc dht = (facc)dy[dyv.offset + b * dyv.st[0] + u] +
               (facc)dh[dhv.offset + b * dhv.st[0] + u];
    facc tc = tanh((facc)c[cv.offset + b * cv.st[0] + u]);
    facc dct = (facc)dcn[dnv.offset + b * dnv.st[0] + u] + dht * o * (1 - tc * tc);
    dgates[go] = (real)(dct * g * (i * (1 - i)));
    dgates[go + k.H] = (real)(dct * (facc)cp[pv.offset + b * pv.st[0] + u] * (f * (1 - f)));
    dgates[go + 2 * k.H] = (real)(dct * i * (1 - g * g));
    dgates[go + 3 * k.H] = (real)(dht * tc * (o * (1 - o)));
    dc[dcv.offset + b * dcv.st[0] + u] = (real)(dct * f);
  }
}
