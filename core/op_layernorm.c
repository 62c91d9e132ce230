/*
** op_layernorm.c: layer_norm, a primitive op (CPU kernels here, OpenCL in
** kernels/layernorm.cl). Each row of the last dims' elements is
** normalised in one pass over memory instead of the nine ops the
** composite took (mean, sub, mul, mean, add, rsqrt, mul, mul, add):
**   y = (x - mean) rstd w + b,  rstd = 1 / sqrt(var + eps), var biased.
** The forward also writes each row's mean and rstd, which the backward
** reads:
**   xhat = (x - mean) rstd,  gw = g w
**   dx = rstd (gw - mean(gw) - xhat mean(gw xhat)),  dw = sum g xhat,
**   db = sum g   (sums over the rows).
** Under create_graph the backward is that formula in recorded ops.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luann_nn.h"
#include "op.h"
#include "op_cpu.h"
#include "shape.h"

/* What Lua passes: luann.layer_norm(input, weight, bias, normalized_shape, eps). */
typedef struct norm_params {
  int64_t shape[LN_MAX_DIMS];
  int nshape;
  double eps;
} norm_params;

static const ln_param norm_param_list[] = {
  {"normalized_shape", LN_PARAM_LIST, LN_P(norm_params, shape),
   .count = LN_MAX_DIMS, .len_at = LN_P(norm_params, nshape), .required = true},
  {"eps", LN_PARAM_NUMBER, LN_P(norm_params, eps), .def = 1e-5},
  {NULL},
};

/* What the kernels get (kernels/layernorm.cl restates it): rows of cols
** contiguous elements; eps as the bits of a float and of a double. */
typedef struct norm_kparams {
  int64_t rows, cols;
  int64_t has_weight, has_bias;
  int64_t eps_f32, eps_f64;
} norm_kparams;

/* The node's parameters: the kernels' and the normalised dims' count. */
typedef struct norm_node {
  norm_kparams k;
  int64_t ndims;
  double eps;
} norm_node;

/* ---- CPU kernels ---------------------------------------------------------
** A float32 row sums in float over runs of RUN elements (across the vector
** lanes), and the runs in double; a float64 row sums in double. The row
** loops have per-ISA copies (core/op_cpu.h). */

enum { RUN = 256 };

/* sum of x[i] (sq: of (x[i] - mu)^2) over n floats. */
LN_INLINE double sum_f32(const float *x, int64_t n, bool sq, float mu) {
  double s = 0;
  for (int64_t i = 0; i < n; i += RUN) {
    int64_t m = n - i < RUN ? n - i : RUN;
    ln_vf16 t = {0};
    for (int64_t j = i; j < i + m; j += 16) {
      int64_t k = i + m - j < 16 ? i + m - j : 16;
      ln_vf16 v = ln_vf16_load_n(x + j, k);
      if (sq) {
        v = ln_vf16_select(ln_vf16_iota() < (int32_t)k, v - mu, (ln_vf16){0});
        t += v * v;
      } else {
        t += v;
      }
    }
    s += ln_vf16_hsum(t);
  }
  return s;
}

/* sum of gw and of gw * xhat over n floats, gw = g w (w NULL: g). */
LN_INLINE void sums_gw_f32(const float *g, const float *x, const float *w,
                           int64_t n, float mu, float rs, double *a,
                           double *c) {
  *a = *c = 0;
  for (int64_t i = 0; i < n; i += RUN) {
    int64_t m = n - i < RUN ? n - i : RUN;
    ln_vf16 ta = {0}, tc = {0};
    for (int64_t j = i; j < i + m; j += 16) {
      int64_t k = i + m - j < 16 ? i + m - j : 16;
      ln_vf16 gw = ln_vf16_load_n(g + j, k); /* zeros past k */
      if (w) gw *= ln_vf16_load_n(w + j, k);
      ta += gw;
      tc += gw * ((ln_vf16_load_n(x + j, k) - mu) * rs);
    }
    *a += ln_vf16_hsum(ta), *c += ln_vf16_hsum(tc);
  }
}

typedef struct norm_job {
  const ln_kernel_args *a;
  const norm_kparams *p;
} norm_job;

#define OUT(j, i, T) ((T *)ln_tensor_data((j)->a->out[i]))
#define IN(j, i, T) ((const T *)ln_tensor_data((j)->a->in[i]))

/* Rows [r0, r1): out {y, mean, rstd}, in {x, w, b}. */
LN_CLONES static void forward_f32(void *ctx, int64_t r0, int64_t r1) {
  const norm_job *j = ctx;
  const norm_kparams *p = j->p;
  int64_t n = p->cols;
  float *y = OUT(j, 0, float), *mean = OUT(j, 1, float), *rstd = OUT(j, 2, float);
  const float *x = IN(j, 0, float), *w = IN(j, 1, float), *b = IN(j, 2, float);
  int32_t bits = (int32_t)p->eps_f32;
  float eps;
  memcpy(&eps, &bits, sizeof eps);
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    float mu = (float)(sum_f32(xr, n, false, 0) / (double)n);
    float var = (float)(sum_f32(xr, n, true, mu) / (double)n);
    float rs = (float)(1.0 / sqrt((double)var + (double)eps));
    mean[r] = mu, rstd[r] = rs;
    if (p->has_weight && p->has_bias) {
#pragma omp simd
      for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mu) * rs * w[i] + b[i];
    } else if (p->has_weight) {
#pragma omp simd
      for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mu) * rs * w[i];
    } else if (p->has_bias) {
#pragma omp simd
      for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mu) * rs + b[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mu) * rs;
    }
  }
}

static void forward_f64(void *ctx, int64_t r0, int64_t r1) {
  const norm_job *j = ctx;
  const norm_kparams *p = j->p;
  int64_t n = p->cols;
  double *y = OUT(j, 0, double), *mean = OUT(j, 1, double), *rstd = OUT(j, 2, double);
  const double *x = IN(j, 0, double), *w = IN(j, 1, double), *b = IN(j, 2, double);
  double eps;
  memcpy(&eps, &p->eps_f64, sizeof eps);
  for (int64_t r = r0; r < r1; r++) {
    const double *xr = x + r * n;
    double s = 0, v = 0;
    for (int64_t i = 0; i < n; i++) s += xr[i];
    double mu = s / (double)n;
    for (int64_t i = 0; i < n; i++) v += (xr[i] - mu) * (xr[i] - mu);
    double rs = 1.0 / sqrt(v / (double)n + eps);
    mean[r] = mu, rstd[r] = rs;
    for (int64_t i = 0; i < n; i++) {
      double t = (xr[i] - mu) * rs;
      if (p->has_weight) t *= w[i];
      if (p->has_bias) t += b[i];
      y[r * n + i] = t;
    }
  }
}

/* Rows [r0, r1): out {dx}, in {g, x, mean, rstd, w}. */
LN_CLONES static void backward_f32(void *ctx, int64_t r0, int64_t r1) {
  const norm_job *j = ctx;
  const norm_kparams *p = j->p;
  int64_t n = p->cols;
  float *dx = OUT(j, 0, float);
  const float *g = IN(j, 0, float), *x = IN(j, 1, float);
  const float *mean = IN(j, 2, float), *rstd = IN(j, 3, float);
  const float *w = p->has_weight ? IN(j, 4, float) : NULL;
  for (int64_t r = r0; r < r1; r++) {
    const float *gr = g + r * n, *xr = x + r * n;
    float *dr = dx + r * n, mu = mean[r], rs = rstd[r];
    double a, c;
    sums_gw_f32(gr, xr, w, n, mu, rs, &a, &c);
    float ma = (float)(a / (double)n), mc = (float)(c / (double)n);
    if (w) {
#pragma omp simd
      for (int64_t i = 0; i < n; i++)
        dr[i] = rs * (gr[i] * w[i] - ma - (xr[i] - mu) * rs * mc);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; i++)
        dr[i] = rs * (gr[i] - ma - (xr[i] - mu) * rs * mc);
    }
  }
}

static void backward_f64(void *ctx, int64_t r0, int64_t r1) {
  const norm_job *j = ctx;
  const norm_kparams *p = j->p;
  int64_t n = p->cols;
  double *dx = OUT(j, 0, double);
  const double *g = IN(j, 0, double), *x = IN(j, 1, double);
  const double *mean = IN(j, 2, double), *rstd = IN(j, 3, double);
  const double *w = IN(j, 4, double);
  for (int64_t r = r0; r < r1; r++) {
    const double *gr = g + r * n, *xr = x + r * n;
    double mu = mean[r], rs = rstd[r], a = 0, c = 0;
    for (int64_t i = 0; i < n; i++) {
      double gw = p->has_weight ? gr[i] * w[i] : gr[i];
      a += gw;
      c += gw * ((xr[i] - mu) * rs);
    }
    double ma = a / (double)n, mc = c / (double)n;
    for (int64_t i = 0; i < n; i++) {
      double gw = p->has_weight ? gr[i] * w[i] : gr[i];
      dx[r * n + i] = rs * (gw - ma - (xr[i] - mu) * rs * mc);
    }
  }
}

/* dw = sum over the rows of g xhat, db = sum of g, into double columns
** sw, sb: out {dw, db}, in {g, x, mean, rstd}; one thread. */
LN_CLONES static void params_f32(const norm_job *j, double *sw, double *sb) {
  int64_t n = j->p->cols;
  const float *g = IN(j, 0, float), *x = IN(j, 1, float);
  const float *mean = IN(j, 2, float), *rstd = IN(j, 3, float);
  for (int64_t r = 0; r < j->p->rows; r++) {
    const float *gr = g + r * n, *xr = x + r * n;
    float mu = mean[r], rs = rstd[r];
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      sw[i] += (double)(gr[i] * ((xr[i] - mu) * rs));
      sb[i] += (double)gr[i];
    }
  }
}

static void params_f64(const norm_job *j, double *sw, double *sb) {
  int64_t n = j->p->cols;
  const double *g = IN(j, 0, double), *x = IN(j, 1, double);
  const double *mean = IN(j, 2, double), *rstd = IN(j, 3, double);
  for (int64_t r = 0; r < j->p->rows; r++)
    for (int64_t i = 0; i < n; i++) {
      sw[i] += g[r * n + i] * ((x[r * n + i] - mean[r]) * rstd[r]);
      sb[i] += g[r * n + i];
    }
}

static int cpu_norm_forward(const ln_kernel_args *a) {
  norm_job j = {a, a->params};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? forward_f32 : forward_f64, &j, j.p->rows, j.p->cols);
  return LN_OK;
}

static int cpu_norm_backward(const ln_kernel_args *a) {
  norm_job j = {a, a->params};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? backward_f32 : backward_f64, &j, j.p->rows, j.p->cols);
  return LN_OK;
}

static int cpu_norm_params(const ln_kernel_args *a) {
  norm_job j = {a, a->params};
  int64_t n = j.p->cols;
  double *acc = calloc((size_t)(2 * n), sizeof *acc);
  if (!acc) return ln_error("layer_norm: out of memory");
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  if (f32) params_f32(&j, acc, acc + n);
  else params_f64(&j, acc, acc + n);
  for (int64_t i = 0; i < n; i++) {
    if (f32) {
      OUT(&j, 0, float)[i] = (float)acc[i];
      OUT(&j, 1, float)[i] = (float)acc[n + i];
    } else {
      OUT(&j, 0, double)[i] = acc[i];
      OUT(&j, 1, double)[i] = acc[n + i];
    }
  }
  free(acc);
  return LN_OK;
}

static const ln_kernel forward_kernel = {
  .name = "layer_norm", .cpu = cpu_norm_forward, .opencl = "layer_norm_forward",
};
static const ln_kernel backward_kernel = {
  .name = "layer_norm backward", .cpu = cpu_norm_backward,
  .opencl = "layer_norm_backward",
};
static const ln_kernel params_kernel = {
  .name = "layer_norm backward", .cpu = cpu_norm_params,
  .opencl = "layer_norm_backward_params",
};

/* ---- backward ------------------------------------------------------------ */

/* The normalised dims of x, the last `ndims`, as reduction axes. */
static int norm_axes(const ln_tensor *x, int64_t ndims, int *axes) {
  for (int i = 0; i < ndims; i++) axes[i] = x->ndim - (int)ndims + i;
  return (int)ndims;
}

/* The formula of the header in recorded ops, for create_graph: x and w
** come back with their history, so these gradients have theirs. */
static int norm_backward_recorded(ln_node *n, ln_tensor *g, ln_tensor **gin) {
  const norm_node *p = n->params;
  ln_tensor *x = ln_node_saved(n, 0);
  ln_tensor *w = p->k.has_weight ? ln_node_saved(n, 1) : NULL;
  if (!x || (p->k.has_weight && !w)) return LN_ERR;
  int axes[LN_MAX_DIMS], na = norm_axes(x, p->ndims, axes);
  ln_scope s = {0};
  ln_tensor *mu = LN_TMP(&s, ln_reduce_dims(LN_REDUCE_MEAN, x, na, axes, true));
  ln_tensor *xc = LN_TMP(&s, ln_sub(x, mu));
  ln_tensor *sq = LN_TMP(&s, ln_mul(xc, xc));
  ln_tensor *var = LN_TMP(&s, ln_reduce_dims(LN_REDUCE_MEAN, sq, na, axes, true));
  ln_tensor *ve = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, var, p->eps));
  ln_tensor *rs = LN_TMP(&s, ln_unary(LN_UNARY_RSQRT, ve));
  ln_tensor *xhat = LN_TMP(&s, ln_mul(xc, rs));
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *gw = w ? LN_TMP(&s, ln_mul(g, w)) : g;
    ln_tensor *ma = LN_TMP(&s, ln_reduce_dims(LN_REDUCE_MEAN, gw, na, axes, true));
    ln_tensor *gx = LN_TMP(&s, ln_mul(gw, xhat));
    ln_tensor *mc = LN_TMP(&s, ln_reduce_dims(LN_REDUCE_MEAN, gx, na, axes, true));
    ln_tensor *t1 = LN_TMP(&s, ln_sub(gw, ma));
    ln_tensor *t2 = LN_TMP(&s, ln_mul(xhat, mc));
    ln_tensor *t3 = LN_TMP(&s, ln_sub(t1, t2));
    LN_GRAD(&s, gin[0], ln_mul(rs, t3));
  }
  if (ln_node_needs_grad(n, 1)) LN_GRAD(&s, gin[1], ln_mul(g, xhat)); /* summed by the engine */
  if (ln_node_needs_grad(n, 2)) gin[2] = ln_tensor_retain(g);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int norm_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  if (ln_creating_graph()) return norm_backward_recorded(n, gout, gin);
  const norm_node *p = n->params;
  ln_tensor *x = ln_node_saved(n, 0), *w = ln_node_saved(n, 1);
  ln_tensor *mean = ln_node_saved(n, 2), *rstd = ln_node_saved(n, 3);
  if (!x || !w || !mean || !rstd) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *g = LN_TMP(&s, ln_contiguous(gout));
  if (ln_node_needs_grad(n, 0)) {
    ln_tensor *dx = LN_TMP(&s, ln_empty(x->ndim, x->shape, x->dtype,
                                        ln_tensor_device(x)));
    const ln_tensor *in[] = {g, x, mean, rstd, w};
    ln_kernel_args a = {.out = &dx, .nout = 1, .in = in, .nin = 5,
                        .params = &p->k, .params_size = sizeof p->k,
                        .work = p->k.rows};
    if (ln_kernel_run(&backward_kernel, &a) != LN_OK) goto fail;
    gin[0] = ln_tensor_retain(dx);
  }
  if (ln_node_needs_grad(n, 1) || ln_node_needs_grad(n, 2)) {
    int nd = x->ndim - (int)p->ndims;
    ln_tensor *wb[2];
    for (int i = 0; i < 2; i++)
      wb[i] = LN_TMP(&s, ln_empty((int)p->ndims, x->shape + nd, x->dtype,
                                  ln_tensor_device(x)));
    const ln_tensor *in[] = {g, x, mean, rstd};
    ln_kernel_args a = {.out = wb, .nout = 2, .in = in, .nin = 4,
                        .params = &p->k, .params_size = sizeof p->k,
                        .work = p->k.cols};
    if (ln_kernel_run(&params_kernel, &a) != LN_OK) goto fail;
    for (int i = 0; i < 2; i++)
      if (ln_node_needs_grad(n, 1 + i)) gin[1 + i] = ln_tensor_retain(wb[i]);
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- front end ------------------------------------------------------------ */

static int norm_check(const ln_tensor *x, int nshape, const int64_t *shape,
                      const ln_tensor *w, const ln_tensor *b) {
  char s1[LN_SHAPE_STRLEN];
  if (nshape < 1 || nshape > x->ndim)
    return ln_error("layer_norm: normalized_shape has %d dims, but input shape "
                    "%s has %d", nshape,
                    ln_shape_str(x->ndim, x->shape, s1, sizeof s1), x->ndim);
  for (int i = 0; i < nshape; i++)
    if (x->shape[x->ndim - nshape + i] != shape[i])
      return ln_error("layer_norm: normalized_shape does not match the last "
                      "dims of input shape %s",
                      ln_shape_str(x->ndim, x->shape, s1, sizeof s1));
  const ln_tensor *wb[2] = {w, b};
  for (int k = 0; k < 2; k++) {
    const ln_tensor *t = wb[k];
    if (!t) continue;
    bool same = t->ndim == nshape;
    for (int i = 0; same && i < nshape; i++) same = t->shape[i] == shape[i];
    if (!same)
      return ln_error("layer_norm: %s of shape %s does not match "
                      "normalized_shape", k ? "bias" : "weight",
                      ln_shape_str(t->ndim, t->shape, s1, sizeof s1));
    if (ln_check_same_device("layer_norm", x, t) != LN_OK) return LN_ERR;
  }
  return LN_OK;
}

/* f(x, w, b) = (x - mean) / sqrt(var + eps) * w + b over the last nshape
** dims (of sizes shape); w and b may be NULL. */
ln_tensor *ln_layer_norm(ln_tensor *x, int nshape, const int64_t *shape,
                         ln_tensor *w, ln_tensor *b, double eps) {
  if (norm_check(x, nshape, shape, w, b) != LN_OK) return NULL;
  ln_dtype dt = x->dtype;
  if (w) dt = ln_dtype_promote(dt, w->dtype);
  if (b) dt = ln_dtype_promote(dt, b->dtype);
  if (!ln_dtype_is_float(dt))
    return ln_error("layer_norm: expected a floating point input, got %s",
                    ln_dtype_name(x->dtype)), NULL;
  ln_scope s = {0};
  ln_tensor *xt = LN_TMP(&s, ln_to_dtype(x, dt));
  ln_tensor *xc = LN_TMP(&s, ln_contiguous(xt));
  ln_tensor *wc = NULL, *bc = NULL;
  if (w) wc = LN_TMP(&s, ln_to_dtype(w, dt)), wc = LN_TMP(&s, ln_contiguous(wc));
  if (b) bc = LN_TMP(&s, ln_to_dtype(b, dt)), bc = LN_TMP(&s, ln_contiguous(bc));
  int64_t cols = ln_shape_numel(nshape, shape);
  int64_t rows = cols ? ln_tensor_numel(xc) / cols : 0;
  norm_node p = {.k = {rows, cols, w != NULL, b != NULL, 0, 0},
                 .ndims = nshape, .eps = eps};
  float ef = (float)eps;
  int32_t fbits;
  memcpy(&fbits, &ef, sizeof fbits);
  p.k.eps_f32 = fbits;
  memcpy(&p.k.eps_f64, &eps, sizeof eps);
  ln_device dev = ln_tensor_device(xc);
  int nd = xc->ndim - nshape;
  ln_tensor *out[3];
  out[0] = LN_TMP(&s, ln_empty(xc->ndim, xc->shape, dt, dev));
  out[1] = LN_TMP(&s, ln_empty(nd, xc->shape, dt, dev)); /* mean */
  out[2] = LN_TMP(&s, ln_empty(nd, xc->shape, dt, dev)); /* rstd */
  if (rows > 0) {
    const ln_tensor *in[] = {xc, wc ? wc : xc, bc ? bc : xc};
    ln_kernel_args a = {.out = out, .nout = 3, .in = in, .nin = 3,
                        .params = &p.k, .params_size = sizeof p.k, .work = rows};
    if (ln_kernel_run(&forward_kernel, &a) != LN_OK) goto fail;
  }
  ln_tensor *inputs[3] = {xc, wc, bc};
  ln_node *n;
  int rc = ln_record(&n, out[0], "LayerNormBackward", norm_backward, 3, inputs);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, xc);
  if (rc == LN_OK) rc = ln_node_save(n, wc ? wc : xc);
  if (rc == LN_OK) rc = ln_node_save(n, out[1]);
  if (rc == LN_OK) rc = ln_node_save(n, out[2]);
  if (rc == LN_OK) return ln_scope_keep(&s, out[0]);
fail:
  return ln_scope_end(&s);
}

/* ---- row ------------------------------------------------------------------ */

static int run_layer_norm(ln_tensor *const *in, const void *params,
                          ln_tensor **out) {
  const norm_params *p = params;
  out[0] = ln_layer_norm(in[0], p->nshape, p->shape, in[1], in[2], p->eps);
  return out[0] ? LN_OK : LN_ERR;
}

static const char *const norm_inputs[] = {"input", "weight", "bias", NULL};

LN_OP_ROW(layer_norm) = {
  .name = "layer_norm", .inputs = norm_inputs, .nrequired = 1,
  .params = norm_param_list, .params_size = sizeof(norm_params),
  .where = LN_OP_FUNCTION, .run = run_layer_norm,
};
