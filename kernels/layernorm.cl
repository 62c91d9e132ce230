/*
** layernorm.cl: the OpenCL kernels of layer_norm (core/op_layernorm.c,
** whose CPU kernels they mirror). Every operand is contiguous from its
** view's offset: rows of cols elements. The forward and dx kernels take
** one work item per row, the dw/db kernel one per column.
*/

/* core/op_layernorm.c's norm_kparams. */
typedef struct norm_kparams {
  long rows, cols;
  long has_weight, has_bias;
  long eps_f32, eps_f64;
} norm_kparams;

inline facc norm_eps(norm_kparams p) {
#if LN_DTYPE == LN_FLOAT64
  return as_double(p.eps_f64);
#else
  return as_float((uint)p.eps_f32);
#endif
}

/* y = (x - mean) rstd w + b; mean and rstd per row. */
__kernel void layer_norm_forward(__global real *y, view_t yv,
                                 __global real *mean, view_t mv,
                                 __global real *rstd, view_t rv,
                                 __global const real *x, view_t xv,
                                 __global const real *w, view_t wv,
                                 __global const real *b, view_t bv,
                                 norm_kparams p) {
  long n = p.cols;
  for (long r = get_global_id(0); r < p.rows; r += get_global_size(0)) {
    __global const real *xr = x + xv.offset + r * n;
    __global real *yr = y + yv.offset + r * n;
    acc s = 0, v = 0;
    for (long i = 0; i < n; i++) s += xr[i];
    real mu = (real)(s / (acc)n);
    for (long i = 0; i < n; i++) {
      real c = xr[i] - mu;
      v += (acc)c * c;
    }
    real rs = (real)(1 / sqrt((facc)(real)(v / (acc)n) + norm_eps(p)));
    mean[mv.offset + r] = mu;
    rstd[rv.offset + r] = rs;
    for (long i = 0; i < n; i++) {
      real t = (xr[i] - mu) * rs;
      if (p.has_weight) t = t * w[wv.offset + i];
      if (p.has_bias) t = t + b[bv.offset + i];
      yr[i] = t;
    }
  }
}

/* dx = rstd (gw - mean(gw) - xhat mean(gw xhat)), gw = g w. */
__kernel void layer_norm_backward(__global real *dx, view_t dv,
                                  __global const real *g, view_t gv,
                                  __global const real *x, view_t xv,
                                  __global const real *mean, view_t mv,
                                  __global const real *rstd, view_t rv,
                                  __global const real *w, view_t wv,
                                  norm_kparams p) {
  long n = p.cols;
  for (long r = get_global_id(0); r < p.rows; r += get_global_size(0)) {
    __global const real *gr = g + gv.offset + r * n, *xr = x + xv.offset + r * n;
    __global real *dr = dx + dv.offset + r * n;
    real mu = mean[mv.offset + r], rs = rstd[rv.offset + r];
    acc a = 0, c = 0;
    for (long i = 0; i < n; i++) {
      real gw = p.has_weight ? gr[i] * w[wv.offset + i] : gr[i];
      a += gw;
      c += (acc)gw * ((xr[i] - mu) * rs);
    }
    real ma = (real)(a / (acc)n), mc = (real)(c / (acc)n);
    for (long i = 0; i < n; i++) {
      real gw = p.has_weight ? gr[i] * w[wv.offset + i] : gr[i];
      dr[i] = rs * (gw - ma - (xr[i] - mu) * rs * mc);
    }
  }
}

/* dw = sum over rows of g xhat, db = sum of g, one column each. */
__kernel void layer_norm_backward_params(__global real *dw, view_t dwv,
                                         __global real *db, view_t dbv,
                                         __global const real *g, view_t gv,
                                         __global const real *x, view_t xv,
                                         __global const real *mean, view_t mv,
                                         __global const real *rstd, view_t rv,
                                         norm_kparams p) {
  long n = p.cols;
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    acc sw = 0, sb = 0;
    for (long r = 0; r < p.rows; r++) {
      real gi = g[gv.offset + r * n + i];
      real xhat = (x[xv.offset + r * n + i] - mean[mv.offset + r]) * rstd[rv.offset + r];
      sw += (acc)(gi * xhat);
      sb += gi;
    }
    dw[dwv.offset + i] = (real)sw;
    db[dbv.offset + i] = (real)sb;
  }
}
