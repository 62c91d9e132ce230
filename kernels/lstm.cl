/*
** lstm.cl: the OpenCL kernels of _lstm's steps (core/op_lstm.c, whose CPU
** kernels they mirror), one work item per (row, unit). The states and
** gates are (B, H) or (B, 4H) views with unit column stride, the weights
** contiguous; act is gates itself and dc is dc_next itself (each item
** reads its elements before it writes them, and reads no other item's).
*/

/* core/op_lstm.c's cell_kparams. */
typedef struct cell_kparams {
  long B, H;
  long has_next;
} cell_kparams;

inline facc lstm_sigmoid(facc x) { return 1 / (1 + exp(-x)); }

/* gates += h_prev W_hh^T (wt is W_hh^T, (H, 4H)); i, f, o = sigmoid and
** g = tanh of the gates; c = f c_prev + i g, h = o tanh(c). */
__kernel void lstm_step_forward(__global real *act, view_t av,
                                __global real *c, view_t cv,
                                __global real *h, view_t hv,
                                __global const real *gates, view_t gv,
                                __global const real *hp, view_t hpv,
                                __global const real *cp, view_t pv,
                                __global const real *wt, view_t wv,
                                cell_kparams k) {
  for (long item = get_global_id(0); item < k.B * k.H;
       item += get_global_size(0)) {
    long b = item / k.H, u = item % k.H, H4 = 4 * k.H;
    long go = gv.offset + b * gv.st[0] + u, ao = av.offset + b * av.st[0] + u;
    __global const real *hr = hp + hpv.offset + b * hpv.st[0];
    __global const real *w = wt + wv.offset + u;
    acc s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (long q = 0; q < k.H; q++) {
      acc x = hr[q];
      s0 += x * w[q * H4];
      s1 += x * w[q * H4 + k.H];
      s2 += x * w[q * H4 + 2 * k.H];
      s3 += x * w[q * H4 + 3 * k.H];
    }
    facc i = lstm_sigmoid((facc)(real)(gates[go] + (real)s0));
    facc f = lstm_sigmoid((facc)(real)(gates[go + k.H] + (real)s1));
    facc g = tanh((facc)(real)(gates[go + 2 * k.H] + (real)s2));
    facc o = lstm_sigmoid((facc)(real)(gates[go + 3 * k.H] + (real)s3));
    facc cn = f * (facc)cp[pv.offset + b * pv.st[0] + u] + i * g;
    act[ao] = (real)i;
    act[ao + k.H] = (real)f;
    act[ao + 2 * k.H] = (real)g;
    act[ao + 3 * k.H] = (real)o;
    c[cv.offset + b * cv.st[0] + u] = (real)cn;
    h[hv.offset + b * hv.st[0] + u] = (real)(o * tanh(cn));
  }
}

/* dh = dy + dgates_next W_hh (w is W_hh, (4H, H); dy alone at the last
** step), then the gates' gradient and dc_prev (see the CPU's
** step_backward in core/op_lstm.c). */
__kernel void lstm_step_backward(__global real *dgates, view_t dgv,
                                 __global real *dc, view_t dcv,
                                 __global const real *act, view_t av,
                                 __global const real *cp, view_t pv,
                                 __global const real *c, view_t cv,
                                 __global const real *dy, view_t dyv,
                                 __global const real *dgn, view_t dnv,
                                 __global const real *w, view_t wv,
                                 __global const real *dcn, view_t dcnv,
                                 cell_kparams k) {
  for (long item = get_global_id(0); item < k.B * k.H;
       item += get_global_size(0)) {
    long b = item / k.H, u = item % k.H;
    long ao = av.offset + b * av.st[0] + u, go = dgv.offset + b * dgv.st[0] + u;
    acc s = 0;
    if (k.has_next) {
      __global const real *dr = dgn + dnv.offset + b * dnv.st[0];
      for (long q = 0; q < 4 * k.H; q++) s += (acc)dr[q] * w[wv.offset + q * k.H + u];
    }
    facc dht = (facc)(real)(dy[dyv.offset + b * dyv.st[0] + u] + (real)s);
    facc i = act[ao], f = act[ao + k.H], g = act[ao + 2 * k.H];
    facc o = act[ao + 3 * k.H];
    facc tc = tanh((facc)c[cv.offset + b * cv.st[0] + u]);
    facc dct = (facc)dcn[dcnv.offset + b * dcnv.st[0] + u] + dht * o * (1 - tc * tc);
    dgates[go] = (real)(dct * g * (i * (1 - i)));
    dgates[go + k.H] = (real)(dct * (facc)cp[pv.offset + b * pv.st[0] + u] * (f * (1 - f)));
    dgates[go + 2 * k.H] = (real)(dct * i * (1 - g * g));
    dgates[go + 3 * k.H] = (real)(dht * tc * (o * (1 - o)));
    dc[dcv.offset + b * dcv.st[0] + u] = (real)(dct * f);
  }
}
