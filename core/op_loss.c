/*
** op_loss.c: cross entropy and negative log likelihood as fused ops.
**
** Both are loss_i = -sum_c a_ic * lp_ic, with lp the log-probabilities
** (log_softmax of the logits, or the input itself for nll_loss) and a_i the
** row's target distribution times the class weights w:
**   class targets:  a_i = (1-eps) w[y_i] e_{y_i} + (eps/C) w   (0 if ignored)
**   probabilities:  a_i = ((1-eps) t_i + eps/C) * w
** which is PyTorch's cross_entropy with label smoothing eps. The gradient
** w.r.t. the logits is then r_i * (softmax_i * sum_c a_ic - a_i), r being
** the reduction's scale: one node and a few passes over (N,C), where the
** composed chain log_softmax -> gather -> mul -> sum would record four.
** For class targets, the per-row scalars (alpha_i = (1-eps) w[y_i],
** beta_i = eps/C, A_i = sum_c a_ic) come from the host, which reads the
** targets once anyway to check their range; the (N,C) work runs as
** ordinary ops, so every backend has these losses.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luann_nn.h"
#include "op.h"
#include "op_cpu.h"
#include "shape.h"

int ln_reduction_parse(const char *op, const char *name, ln_reduction *out) {
  static const char *const names[] = {"none", "mean", "sum"};
  for (int i = 0; i < 3; i++)
    if (strcmp(name, names[i]) == 0) return *out = (ln_reduction)i, LN_OK;
  return ln_error("%s: reduction must be \"none\", \"mean\" or \"sum\", got "
                  "\"%s\"", op, name);
}

/* ---- class targets --------------------------------------------------------- */

/* What the host works out from class targets (N) for logits (N,C). */
typedef struct class_rows {
  ln_tensor *index;  /* (N,1) int64 0-based; ignored rows point at class 0 */
  ln_tensor *coef;   /* (N,3) of the input's dtype: alpha, beta, A */
  double total;      /* sum of w[y_i] over counted rows: mean's divisor */
} class_rows;

int ln_class_target_error(const char *op, int64_t target, int64_t classes,
                          int64_t base) {
  return ln_error("%s: target %lld is out of range for %lld classes%s", op,
                  (long long)target, (long long)classes,
                  base == 1 && target == 0
                      ? " (class indices are 1-based in luann; add 1 to 0-based labels)"
                      : "");
}

/* Fills idx, coef (row-major N x 3) and the total from host copies of the
** targets and weights. */
static int fill_rows(const char *op, const int64_t *y, const double *w,
                     int64_t n, int64_t c, const ln_loss_options *o,
                     int64_t *idx, double *coef, double *total) {
  /* w holds c values when given; without it, no loop over c: an empty
  ** batch may have a huge class dim */
  double eps = o->label_smoothing, sumw = w ? 0 : (double)c;
  for (int64_t k = 0; w && k < c; k++) sumw += w[k];
  *total = 0;
  for (int64_t i = 0; i < n; i++) {
    bool counted = !(o->has_ignore_index && y[i] == o->ignore_index);
    int64_t k = y[i] - o->target_base;
    if (counted && (k < 0 || k >= c))
      return ln_class_target_error(op, y[i], c, o->target_base);
    double wy = counted ? (w ? w[k] : 1) : 0;
    idx[i] = counted ? k : 0;
    coef[3 * i] = (1 - eps) * wy;
    coef[3 * i + 1] = counted ? eps / (double)c : 0;
    coef[3 * i + 2] = coef[3 * i] + coef[3 * i + 1] * sumw;
    *total += wy;
  }
  return LN_OK;
}

/* on_device (targets on a device, with neither class weights nor
** ignore_index): the 0-based index is made there, the cross entropy
** kernels check its range (their error flag), and the coefficients, the
** same for every row then, come from a row of the first class: nothing is
** read back. A read waits for every kernel queued before it: reading the
** targets cost a training step one full wait. */
static int class_rows_init(const char *op, ln_tensor *x, ln_tensor *target,
                           const ln_loss_options *o, bool on_device,
                           class_rows *r) {
  int64_t n = x->shape[0], c = x->shape[1];
  int64_t *y = malloc((size_t)(n ? n : 1) * 2 * sizeof *y);
  double *coef = malloc((size_t)(n ? n : 1) * 3 * sizeof *coef);
  double *w = o->weight ? malloc((size_t)(c ? c : 1) * sizeof *w) : NULL;
  int rc = y && coef && (w || !o->weight) ? LN_OK : ln_error("%s: out of memory", op);
  for (int64_t i = 0; rc == LN_OK && on_device && i < n; i++) y[i] = o->target_base;
  if (rc == LN_OK && !on_device) rc = ln_to_buffer(target, y, LN_INT64);
  if (rc == LN_OK && w) rc = ln_to_buffer(o->weight, w, LN_FLOAT64);
  if (rc == LN_OK) rc = fill_rows(op, y, w, n, c, o, y + n, coef, &r->total);
  ln_device dev = ln_tensor_device(x);
  int64_t ishape[2] = {n, 1}, cshape[2] = {n, 3};
  ln_tensor *k = rc == LN_OK && on_device
                     ? ln_binary_scalar(LN_BINARY_SUB, target, (double)o->target_base)
                     : NULL;
  if (on_device) r->index = k ? ln_reshape(k, 2, ishape) : NULL;
  else r->index = rc == LN_OK ? ln_from_buffer(y + n, 2, ishape, LN_INT64, dev) : NULL;
  ln_tensor *c64 = r->index ? ln_from_buffer(coef, 2, cshape, LN_FLOAT64, dev) : NULL;
  r->coef = c64 ? ln_cast_raw(c64, x->dtype) : NULL;
  ln_tensor_release(k);
  ln_tensor_release(c64);
  free(y);
  free(coef);
  free(w);
  if (!r->coef) {
    ln_tensor_release(r->index);
    r->index = NULL;
    return LN_ERR;
  }
  return LN_OK;
}

/* Column k of the (N,3) coefficients as an (N,1) view. */
static ln_tensor *coef_col(ln_tensor *coef, int k) {
  return ln_narrow(coef, 1, k, 1);
}

/* The reduction of per-row losses (N), and the scale r that backward
** applies to the incoming gradient. */
static ln_tensor *reduce_rows(ln_tensor *loss, ln_reduction red, double total,
                              double *scale) {
  *scale = red == LN_REDUCTION_MEAN ? 1 / total : 1;
  if (red == LN_REDUCTION_NONE) return ln_tensor_retain(loss);
  ln_tensor *s = ln_reduce(LN_REDUCE_SUM, loss, -1, false);
  if (!s || red == LN_REDUCTION_SUM) return s;
  ln_tensor *m = ln_binary_scalar(LN_BINARY_DIV, s, total);
  ln_tensor_release(s);
  return m;
}

/* The incoming gradient as (N,1) (reduction none) or a scalar, times the
** reduction's scale. */
static ln_tensor *row_scale(ln_tensor *gout, double scale) {
  ln_tensor *g = gout->ndim == 1
                     ? ln_unsqueeze(gout, 1)
                     : ln_tensor_retain(gout);
  if (!g || scale == 1) return g;
  ln_tensor *r = ln_binary_scalar(LN_BINARY_MUL, g, scale);
  ln_tensor_release(g);
  return r;
}

/* A loss node's parameters (the probability targets' node has no nll). */
typedef struct loss_params {
  double scale;              /* the reduction's, on the incoming gradient */
  double eps;                /* label smoothing */
  bool nll;                  /* the input is log-probabilities */
} loss_params;

/* saved: index, coef, [lp, weight] */
static int class_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const loss_params *p = n->params;
  ln_tensor *index = ln_node_saved(n, 0), *coef = ln_node_saved(n, 1);
  bool nll = p->nll, smooth = p->eps > 0;
  ln_tensor *lp = nll ? NULL : ln_node_saved(n, 2);
  ln_tensor *w = n->nsaved > 3 ? ln_node_saved(n, 3) : NULL;
  if (!index || !coef || (!nll && !lp) || (n->nsaved > 3 && !w)) return LN_ERR;
  ln_tensor *x = n->inputs[0];
  ln_scope s = {0};
  ln_tensor *r = LN_TMP(&s, row_scale(gout, p->scale));
  ln_tensor *alpha = LN_TMP(&s, coef_col(coef, 0));
  ln_tensor *ra = LN_TMP(&s, ln_mul(alpha, r));
  ln_tensor *neg = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, ra, -1));
  ln_tensor *g;
  if (nll) {
    g = LN_TMP(&s, ln_zeros(x->ndim, x->shape, x->dtype, ln_tensor_device(x)));
  } else { /* softmax * A r - beta r w */
    ln_tensor *sm = LN_TMP(&s, ln_unary(LN_UNARY_EXP, lp));
    ln_tensor *a = LN_TMP(&s, coef_col(coef, 2));
    ln_tensor *ar = LN_TMP(&s, ln_mul(a, r));
    g = LN_TMP(&s, ln_mul(sm, ar));
    if (smooth) {
      ln_tensor *b = LN_TMP(&s, coef_col(coef, 1));
      ln_tensor *bw = LN_TMP(&s, ln_mul(b, r));
      if (w) bw = LN_TMP(&s, ln_mul(bw, w));
      g = LN_TMP(&s, ln_sub(g, bw));
    }
  }
  LN_GRAD(&s, gin[0], ln_scatter_add(g, 1, index, neg));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* -(alpha * lp[y] + beta * sum_c w_c lp_c) per row, for x (N,C). */
static ln_tensor *class_rows_loss(ln_tensor *lp, const class_rows *rows,
                                  ln_tensor *w, bool smooth) {
  int64_t n = lp->shape[0];
  ln_scope s = {0};
  ln_tensor *picked = LN_TMP(&s, ln_gather(lp, 1, rows->index));
  ln_tensor *alpha = LN_TMP(&s, coef_col(rows->coef, 0));
  ln_tensor *sum = LN_TMP(&s, ln_mul(picked, alpha));
  if (smooth) {
    ln_tensor *lw = w ? LN_TMP(&s, ln_mul(lp, w)) : lp;
    ln_tensor *ls = LN_TMP(&s, ln_reduce(LN_REDUCE_SUM, lw, 1, true));
    ln_tensor *beta = LN_TMP(&s, coef_col(rows->coef, 1));
    ln_tensor *bs = LN_TMP(&s, ln_mul(ls, beta));
    sum = LN_TMP(&s, ln_add(sum, bs));
  }
  ln_tensor *neg = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, sum, -1));
  return ln_scope_keep(&s, LN_TMP(&s, ln_reshape(neg, 1, &n)));
fail:
  return ln_scope_end(&s);
}

/* ---- cross entropy of logits without class weights, in one kernel -------
** The common case (a language model's loss over (B*T, V)) as one pass
** forward and one backward instead of log_softmax, gather, mul, exp, mul
** and scatter_add: per row, with lse_i = logsumexp(x_i),
**   loss_i = -(alpha_i (x_iy - lse_i) + beta_i (sum_c x_ic - C lse_i))
**   dx_ic  = r_i (A_i softmax_ic - beta_i - alpha_i [c = y_i])
** alpha, beta and A from class_rows; x contiguous (kernels/loss.cl for
** OpenCL). */

typedef struct ce_kparams {
  int64_t N, C;
  int64_t r_rows;        /* r has a value per row, else one for all */
  int64_t base;          /* the targets' base, for OpenCL's range error */
} ce_kparams;

typedef struct ce_job {
  const ln_kernel_args *a;
  const ce_kparams *k;
} ce_job;

/* logsumexp of a float row: the sum of exp in float across the vector
** lanes over runs of 256, the runs in double. */
LN_INLINE double lse_f32(const float *x, int64_t n) {
  float m = -INFINITY;
#pragma omp simd reduction(max:m)
  for (int64_t c = 0; c < n; c++) m = x[c] > m ? x[c] : m;
  if (m == -INFINITY || m == INFINITY || m != m) return m; /* as log(sum exp) */
  double s = 0;
  for (int64_t i = 0; i < n; i += 256) {
    int64_t len = n - i < 256 ? n - i : 256;
    float t = 0;
#pragma omp simd reduction(+:t)
    for (int64_t c = i; c < i + len; c++) t += ln_exp_neg_f32(x[c] - m);
    s += t;
  }
  return m + log(s);
}

/* Rows [r0, r1): out {loss (N), lse (N)}, in {x (N,C), index (N,1), coef (N,3)}. */
LN_CLONES static void ce_forward_f32(void *ctx, int64_t r0, int64_t r1) {
  const ce_job *j = ctx;
  int64_t C = j->k->C;
  float *loss = ln_tensor_data(j->a->out[0]), *lse = ln_tensor_data(j->a->out[1]);
  const float *x = ln_tensor_data(j->a->in[0]), *coef = ln_tensor_data(j->a->in[2]);
  const int64_t *y = ln_tensor_data(j->a->in[1]);
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * C;
    double l = lse_f32(xr, C), beta = coef[3 * r + 1], sx = 0;
    if (beta) {
#pragma omp simd reduction(+:sx)
      for (int64_t c = 0; c < C; c++) sx += xr[c];
    }
    lse[r] = (float)l;
    loss[r] = (float)-(coef[3 * r] * ((double)xr[y[r]] - l) +
                       (beta ? beta * (sx - (double)C * l) : 0));
  }
}

/* Rows [r0, r1): out {dx (N,C)}, in {x, lse, index, coef, r}. */
LN_CLONES static void ce_backward_f32(void *ctx, int64_t r0, int64_t r1) {
  const ce_job *j = ctx;
  int64_t C = j->k->C;
  float *dx = ln_tensor_data(j->a->out[0]);
  const float *x = ln_tensor_data(j->a->in[0]), *lse = ln_tensor_data(j->a->in[1]);
  const int64_t *y = ln_tensor_data(j->a->in[2]);
  const float *coef = ln_tensor_data(j->a->in[3]), *rv = ln_tensor_data(j->a->in[4]);
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * C;
    float *d = dx + r * C, l = lse[r], g = rv[j->k->r_rows ? r : 0];
    float ga = g * coef[3 * r + 2], gb = g * coef[3 * r + 1];
#pragma omp simd
    for (int64_t c = 0; c < C; c++) d[c] = ga * ln_exp_neg_f32(xr[c] - l) - gb;
    d[y[r]] -= g * coef[3 * r];
  }
}

static void ce_forward_f64(void *ctx, int64_t r0, int64_t r1) {
  const ce_job *j = ctx;
  int64_t C = j->k->C;
  double *loss = ln_tensor_data(j->a->out[0]), *lse = ln_tensor_data(j->a->out[1]);
  const double *x = ln_tensor_data(j->a->in[0]), *coef = ln_tensor_data(j->a->in[2]);
  const int64_t *y = ln_tensor_data(j->a->in[1]);
  for (int64_t r = r0; r < r1; r++) {
    const double *xr = x + r * C;
    double m = -INFINITY, s = 0, sx = 0;
    for (int64_t c = 0; c < C; c++) m = xr[c] > m ? xr[c] : m;
    for (int64_t c = 0; c < C; c++) s += exp(xr[c] - m), sx += xr[c];
    double l = m == -INFINITY || m == INFINITY || m != m ? m : m + log(s);
    double beta = coef[3 * r + 1];
    lse[r] = l;
    loss[r] = -(coef[3 * r] * (xr[y[r]] - l) + (beta ? beta * (sx - (double)C * l) : 0));
  }
}

static void ce_backward_f64(void *ctx, int64_t r0, int64_t r1) {
  const ce_job *j = ctx;
  int64_t C = j->k->C;
  double *dx = ln_tensor_data(j->a->out[0]);
  const double *x = ln_tensor_data(j->a->in[0]), *lse = ln_tensor_data(j->a->in[1]);
  const int64_t *y = ln_tensor_data(j->a->in[2]);
  const double *coef = ln_tensor_data(j->a->in[3]), *rv = ln_tensor_data(j->a->in[4]);
  for (int64_t r = r0; r < r1; r++) {
    double g = rv[j->k->r_rows ? r : 0];
    for (int64_t c = 0; c < C; c++)
      dx[r * C + c] = g * coef[3 * r + 2] * exp(x[r * C + c] - lse[r]) - g * coef[3 * r + 1];
    dx[r * C + y[r]] -= g * coef[3 * r];
  }
}

static int cpu_ce_forward(const ln_kernel_args *a) {
  ce_job j = {a, a->params};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? ce_forward_f32 : ce_forward_f64, &j, j.k->N, 20 * j.k->C);
  return LN_OK;
}

static int cpu_ce_backward(const ln_kernel_args *a) {
  ce_job j = {a, a->params};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? ce_backward_f32 : ce_backward_f64, &j, j.k->N, 20 * j.k->C);
  return LN_OK;
}

static const ln_kernel ce_forward_kernel = {
  .name = "cross_entropy", .cpu = cpu_ce_forward, .opencl = "cross_entropy_forward",
  .error_flag = true,
};
static const ln_kernel ce_backward_kernel = {
  .name = "cross_entropy backward", .cpu = cpu_ce_backward,
  .opencl = "cross_entropy_backward",
};

/* saved: index, coef, lse, x */
static int fused_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const loss_params *p = n->params;
  ln_tensor *sv[4];
  for (int i = 0; i < 4; i++)
    if (!(sv[i] = ln_node_saved(n, i))) return LN_ERR;
  ln_tensor *x = sv[3];
  ln_scope s = {0};
  ln_tensor *r = LN_TMP(&s, row_scale(gout, p->scale));
  r = LN_TMP(&s, ln_contiguous(r));
  ln_tensor *dx = LN_TMP(&s, ln_empty(2, x->shape, x->dtype, ln_tensor_device(x)));
  ce_kparams k = {x->shape[0], x->shape[1], ln_tensor_numel(r) > 1, 0};
  const ln_tensor *in[5] = {x, sv[2], sv[0], sv[1], r};
  ln_kernel_args a = {.out = &dx, .nout = 1, .in = in, .nin = 5, .params = &k,
                      .params_size = sizeof k, .work = k.N};
  if (ln_kernel_run(&ce_backward_kernel, &a) != LN_OK) goto fail;
  gin[0] = ln_tensor_retain(dx);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* Cross entropy of logits x (N,C) against class targets, no weights. */
static ln_tensor *fused_class_loss(const char *op, ln_tensor *x, ln_tensor *target,
                                   const ln_loss_options *o) {
  class_rows rows;
  bool on_device = !ln_device_equal(ln_tensor_device(target), ln_device_cpu()) &&
                   !o->has_ignore_index;
  if (class_rows_init(op, x, target, o, on_device, &rows) != LN_OK) return NULL;
  ln_scope s = {0};
  ln_scope_add(&s, rows.index);
  ln_scope_add(&s, rows.coef);
  bool was = ln_set_grad_enabled(false);
  ln_tensor *xc = LN_TMP(&s, ln_contiguous(x));
  int64_t N = x->shape[0];
  ln_device dev = ln_tensor_device(x);
  ln_tensor *out[2];
  out[0] = LN_TMP(&s, ln_empty(1, &N, x->dtype, dev));
  out[1] = LN_TMP(&s, ln_empty(1, &N, x->dtype, dev));
  ce_kparams k = {N, x->shape[1], 0, o->target_base};
  const ln_tensor *in[3] = {xc, rows.index, rows.coef};
  ln_kernel_args a = {.out = out, .nout = 2, .in = in, .nin = 3, .params = &k,
                      .params_size = sizeof k, .work = N};
  if (ln_kernel_run(&ce_forward_kernel, &a) != LN_OK) goto fail;
  double scale = 1;
  ln_tensor *red = LN_TMP(&s, reduce_rows(out[0], o->reduction, rows.total, &scale));
  ln_set_grad_enabled(was);
  loss_params p = {scale, o->label_smoothing, false};
  ln_node *n;
  int rc = ln_record(&n, red, "CrossEntropyLossBackward", fused_backward, 1, &x);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, rows.index);
  if (rc == LN_OK) rc = ln_node_save(n, rows.coef);
  if (rc == LN_OK) rc = ln_node_save(n, out[1]);
  if (rc == LN_OK) rc = ln_node_save(n, xc);
  if (rc == LN_OK) return ln_scope_keep(&s, red);
fail:
  ln_set_grad_enabled(was);
  return ln_scope_end(&s);
}

/* x is (N,C) logits (or log-probabilities when nll), target (N) int64. */
static ln_tensor *class_loss(const char *op, ln_tensor *x, ln_tensor *target,
                             ln_tensor *w, const ln_loss_options *o, bool nll) {
  if (!nll && !w) return fused_class_loss(op, x, target, o);
  class_rows rows;
  if (class_rows_init(op, x, target, o, false, &rows) != LN_OK) return NULL;
  bool smooth = o->label_smoothing > 0, was = ln_set_grad_enabled(false);
  ln_scope s = {0};
  ln_scope_add(&s, rows.index);
  ln_scope_add(&s, rows.coef);
  ln_tensor *lp = LN_TMP(&s, nll ? ln_tensor_retain(x) : ln_log_softmax(x, 1));
  ln_tensor *loss = LN_TMP(&s, class_rows_loss(lp, &rows, w, smooth));
  double scale = 1;
  ln_tensor *out = LN_TMP(&s, reduce_rows(loss, o->reduction, rows.total,
                                          &scale));
  ln_set_grad_enabled(was);
  loss_params p = {scale, o->label_smoothing, nll};
  ln_node *n;
  int rc = ln_record(&n, out, nll ? "NllLossBackward"
                                  : "CrossEntropyLossBackward",
                     class_backward, 1, &x);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, rows.index);
  if (rc == LN_OK) rc = ln_node_save(n, rows.coef);
  if (rc == LN_OK && !nll) rc = ln_node_save(n, lp);
  if (rc == LN_OK && !nll && smooth && w) rc = ln_node_save(n, w);
  if (rc == LN_OK) return ln_scope_keep(&s, out);
fail:
  ln_set_grad_enabled(was);
  return ln_scope_end(&s);
}

/* ---- probability targets ------------------------------------------------- */

/* saved: lp, a, [w] */
static int prob_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const loss_params *p = n->params;
  ln_tensor *lp = ln_node_saved(n, 0), *a = ln_node_saved(n, 1);
  ln_tensor *w = n->nsaved > 2 ? ln_node_saved(n, 2) : NULL;
  if (!lp || !a || (n->nsaved > 2 && !w)) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *r = LN_TMP(&s, row_scale(gout, p->scale));
  if (ln_node_needs_grad(n, 0)) { /* softmax * sum(a) r - a r */
    ln_tensor *sm = LN_TMP(&s, ln_unary(LN_UNARY_EXP, lp));
    ln_tensor *asum = LN_TMP(&s, ln_reduce(LN_REDUCE_SUM, a, 1, true));
    ln_tensor *ar = LN_TMP(&s, ln_mul(asum, r));
    ln_tensor *sa = LN_TMP(&s, ln_mul(sm, ar));
    ln_tensor *rr = LN_TMP(&s, ln_mul(a, r));
    LN_GRAD(&s, gin[0], ln_sub(sa, rr));
  }
  if (ln_node_needs_grad(n, 1)) { /* -(1-eps) r w lp */
    ln_tensor *lw = w ? LN_TMP(&s, ln_mul(lp, w)) : lp;
    ln_tensor *lr = LN_TMP(&s, ln_mul(lw, r));
    LN_GRAD(&s, gin[1], ln_binary_scalar(LN_BINARY_MUL, lr, -(1 - p->eps)));
  }
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* a = ((1-eps) t + eps/C) * w, the (N,C) coefficients. */
static ln_tensor *prob_coefficients(ln_tensor *t, ln_tensor *w, double eps) {
  int64_t c = t->shape[1];
  ln_scope s = {0};
  ln_tensor *a = t;
  if (eps > 0) {
    ln_tensor *ts = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, t, 1 - eps));
    a = LN_TMP(&s, ln_binary_scalar(LN_BINARY_ADD, ts, eps / (double)c));
  }
  if (w) a = LN_TMP(&s, ln_mul(a, w));
  return ln_scope_keep(&s, a);
fail:
  return ln_scope_end(&s);
}

/* x (N,C) logits, target (N,C) probabilities of x's dtype. */
static ln_tensor *prob_loss(ln_tensor *x, ln_tensor *target, ln_tensor *w,
                            const ln_loss_options *o) {
  ln_scope s = {0};
  bool was = ln_set_grad_enabled(false);
  ln_tensor *a = LN_TMP(&s, prob_coefficients(target, w, o->label_smoothing));
  ln_tensor *lp = LN_TMP(&s, ln_log_softmax(x, 1));
  ln_tensor *al = LN_TMP(&s, ln_mul(a, lp));
  ln_tensor *sum = LN_TMP(&s, ln_reduce(LN_REDUCE_SUM, al, 1, false));
  ln_tensor *loss = LN_TMP(&s, ln_binary_scalar(LN_BINARY_MUL, sum, -1));
  double scale = 1;
  ln_tensor *out = LN_TMP(&s, reduce_rows(loss, o->reduction,
                                          (double)x->shape[0], &scale));
  ln_set_grad_enabled(was);
  loss_params p = {scale, o->label_smoothing, false};
  ln_tensor *inputs[2] = {x, target};
  ln_node *n;
  int rc = ln_record(&n, out, "CrossEntropyLossBackward", prob_backward, 2,
                     inputs);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, lp);
  if (rc == LN_OK) rc = ln_node_save(n, a);
  if (rc == LN_OK && w) rc = ln_node_save(n, w);
  if (rc == LN_OK) return ln_scope_keep(&s, out);
fail:
  ln_set_grad_enabled(was);
  return ln_scope_end(&s);
}

/* ---- shapes and checks ------------------------------------------------------ */

static int check_options(const char *op, ln_tensor *x, int64_t c,
                         const ln_loss_options *o) {
  if (!(o->label_smoothing >= 0 && o->label_smoothing <= 1))
    return ln_error("%s: label_smoothing must be in [0, 1], got %g", op,
                    o->label_smoothing);
  if ((unsigned)o->reduction > LN_REDUCTION_SUM)
    return ln_error("%s: invalid reduction", op);
  ln_tensor *w = o->weight;
  if (!w) return LN_OK;
  if (w->ndim != 1 || w->shape[0] != c || !ln_dtype_is_float(w->dtype)) {
    char s[LN_SHAPE_STRLEN];
    return ln_error("%s: weight must be a float tensor of shape (%lld,) (one "
                    "per class), got %s of shape %s", op, (long long)c,
                    ln_dtype_name(w->dtype), ln_shape_str(w->ndim, w->shape, s, sizeof s));
  }
  return ln_check_same_device(op, x, w);
}

/* The class-index target shape for input x: x's shape without dim 1. */
static int class_target_shape(const ln_tensor *x, int64_t *shape) {
  if (x->ndim == 1) return 0;
  int n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (d != 1) shape[n++] = x->shape[d];
  return n;
}

/* Whether t has the shape of class indices for input x. */
static bool is_class_shape(const ln_tensor *x, const ln_tensor *t) {
  int64_t want[LN_MAX_DIMS];
  int n = class_target_shape(x, want);
  if (t->ndim != n) return false;
  for (int d = 0; d < n; d++)
    if (t->shape[d] != want[d]) return false;
  return true;
}

static int check_target(const char *op, ln_tensor *x, ln_tensor *t, bool nll) {
  bool probs = !nll && ln_dtype_is_float(t->dtype);
  if (t->dtype != LN_INT64 && !probs)
    return ln_error("%s: target must be int64 class indices%s, got %s", op,
                    nll ? "" : " or float class probabilities",
                    ln_dtype_name(t->dtype));
  int64_t want[LN_MAX_DIMS];
  int nwant = probs ? x->ndim : class_target_shape(x, want);
  if (probs) memcpy(want, x->shape, sizeof want);
  bool same = t->ndim == nwant;
  for (int d = 0; same && d < nwant; d++) same = t->shape[d] == want[d];
  if (!same && probs && is_class_shape(x, t)) {
    /* float labels, as a PyTorch user's y.float() or a float tensor of labels */
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    return ln_error("%s: target is %s of shape %s: class indices must be int64, or pass "
                    "probabilities of shape %s", op, ln_dtype_name(t->dtype),
                    ln_shape_str(t->ndim, t->shape, s1, sizeof s1),
                    ln_shape_str(x->ndim, x->shape, s2, sizeof s2));
  }
  if (!same) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN], s3[LN_SHAPE_STRLEN];
    return ln_error("%s: target shape %s does not match input shape %s "
                    "(expected %s)", op, ln_shape_str(t->ndim, t->shape, s1, sizeof s1),
                    ln_shape_str(x->ndim, x->shape, s2, sizeof s2),
                    ln_shape_str(nwant, want, s3, sizeof s3));
  }
  return ln_check_same_device(op, x, t);
}

/* x as (M,C) with the class dim last: (C) -> (1,C), (N,C,d..) -> (N*d..,C).
** Recorded views, so gradients flow back to x. */
static ln_tensor *rows_of(ln_tensor *x) {
  if (x->ndim == 1) return ln_unsqueeze(x, 0);
  if (x->ndim == 2) return ln_tensor_retain(x);
  int perm[LN_MAX_DIMS], k = 0;
  perm[k++] = 0;
  for (int d = 2; d < x->ndim; d++) perm[k++] = d;
  perm[k++] = 1;
  ln_tensor *p = ln_permute(x, perm);
  int64_t shape[2] = {-1, x->shape[1]};
  ln_tensor *r = p ? ln_reshape(p, 2, shape) : NULL;
  ln_tensor_release(p);
  return r;
}

/* Class targets as (M): () -> (1), (N,d..) -> (N*d..). */
static ln_tensor *flat_targets(ln_tensor *t) {
  int64_t m = -1;
  return ln_reshape(t, 1, &m);
}

static ln_tensor *loss_entry(const char *op, ln_tensor *input, ln_tensor *target,
                             const ln_loss_options *o, bool nll) {
  if (!ln_dtype_is_float(input->dtype))
    return ln_error("%s: input must be float32 or float64, got %s", op,
                    ln_dtype_name(input->dtype)), NULL;
  if (input->ndim < 1)
    return ln_error("%s: input must have a class dim, got a 0-dim tensor", op), NULL;
  int64_t c = input->shape[input->ndim == 1 ? 0 : 1];
  if (check_options(op, input, c, o) != LN_OK ||
      check_target(op, input, target, nll) != LN_OK)
    return NULL;
  bool probs = ln_dtype_is_float(target->dtype);
  if (probs && o->has_ignore_index)
    return ln_error("%s: ignore_index is not supported with class probability "
                    "targets", op), NULL;
  ln_scope s = {0};
  ln_tensor *x = LN_TMP(&s, rows_of(input));
  ln_tensor *t = LN_TMP(&s, probs ? rows_of(target) : flat_targets(target));
  if (probs && t->dtype != x->dtype) t = LN_TMP(&s, ln_to_dtype(t, x->dtype));
  ln_tensor *w = o->weight ? LN_TMP(&s, ln_cast_raw(o->weight, x->dtype)) : NULL;
  ln_tensor *out = LN_TMP(&s, probs ? prob_loss(x, t, w, o)
                                    : class_loss(op, x, t, w, o, nll));
  if (o->reduction == LN_REDUCTION_NONE && input->ndim != 2) {
    /* back to the shape of class targets */
    int64_t shape[LN_MAX_DIMS];
    int nd = class_target_shape(input, shape);
    out = LN_TMP(&s, ln_reshape(out, nd, shape));
  }
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

ln_tensor *ln_cross_entropy(ln_tensor *input, ln_tensor *target,
                            const ln_loss_options *o) {
  return loss_entry("cross_entropy", input, target, o, false);
}

ln_tensor *ln_nll_loss(ln_tensor *input, ln_tensor *target,
                       const ln_loss_options *o) {
  if (o->label_smoothing != 0)
    return ln_error("nll_loss: label_smoothing is not supported"), NULL;
  return loss_entry("nll_loss", input, target, o, true);
}
