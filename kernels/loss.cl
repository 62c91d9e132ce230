/*
** loss.cl: the OpenCL kernels of cross entropy over logits with class
** targets and no class weights (core/op_loss.c, whose CPU kernels they
** mirror), one work item per row. x (N, C), dx and the per-row outputs are
** contiguous from their views' offsets; the targets are int64 (N, 1),
** 0-based, the coefficients (N, 3): alpha, beta, A. The host may not have
** checked the targets (core/op_loss.c keeps them on the device): forward
** reports one out of range in the error flag, and both kernels skip its
** row (forward's loss and lse are NaN there).
*/

/* core/op_loss.c's ce_kparams. */
typedef struct ce_kparams {
  long N, C;
  long r_rows;
  long base; /* the targets' base (0 or 1), for the error's message */
} ce_kparams;

inline facc ce_lse(__global const real *x, long C) {
  facc m = -INFINITY, s = 0;
  for (long c = 0; c < C; c++) m = (facc)x[c] > m ? (facc)x[c] : m;
  if (isinf(m) || isnan(m)) return m;
  for (long c = 0; c < C; c++) s += exp((facc)x[c] - m);
  return m + log(s);
}

/* loss_i = -(alpha (x_iy - lse) + beta (sum_c x_ic - C lse)) */
__kernel void cross_entropy_forward(__global real *loss, view_t lv,
                                    __global real *lse, view_t sv,
                                    __global const real *x, view_t xv,
                                    __global const long *y, view_t yv,
                                    __global const real *coef, view_t cv,
                                    ce_kparams k, __global int *flag) {
  for (long r = get_global_id(0); r < k.N; r += get_global_size(0)) {
    long yr = y[yv.offset + r];
    if (yr < 0 || yr >= k.C) {
      flag_index(flag, OCL_FLAG_CLASS_TARGET, (int)k.base, yr + k.base, k.C);
      lse[sv.offset + r] = loss[lv.offset + r] = (real)NAN;
      continue;
    }
    __global const real *xr = x + xv.offset + r * k.C;
    __global const real *cr = coef + cv.offset + 3 * r;
    facc l = ce_lse(xr, k.C), sx = 0, beta = cr[1];
    if (beta != 0)
      for (long c = 0; c < k.C; c++) sx += xr[c];
    lse[sv.offset + r] = (real)l;
    loss[lv.offset + r] = (real)-((facc)cr[0] * ((facc)xr[yr] - l) +
                                  (beta != 0 ? beta * (sx - (facc)k.C * l) : 0));
  }
}

/* dx_ic = r_i (A_i softmax_ic - beta_i - alpha_i [c = y_i]) */
__kernel void cross_entropy_backward(__global real *dx, view_t dv,
                                     __global const real *x, view_t xv,
                                     __global const real *lse, view_t sv,
                                     __global const long *y, view_t yv,
                                     __global const real *coef, view_t cv,
                                     __global const real *rg, view_t rv,
                                     ce_kparams k) {
  for (long r = get_global_id(0); r < k.N; r += get_global_size(0)) {
    long yr = y[yv.offset + r];
    if (yr < 0 || yr >= k.C) continue; /* forward flagged it */
    __global const real *xr = x + xv.offset + r * k.C;
    __global const real *cr = coef + cv.offset + 3 * r;
    __global real *d = dx + dv.offset + r * k.C;
    real g = rg[rv.offset + (k.r_rows ? r : 0)], l = lse[sv.offset + r];
    real ga = g * cr[2], gb = g * cr[1];
    for (long c = 0; c < k.C; c++) d[c] = ga * (real)exp((facc)(xr[c] - l)) - gb;
    d[yr] -= g * cr[0];
  }
}
