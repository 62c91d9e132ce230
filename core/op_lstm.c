/*
** op_lstm.c: _lstm, one LSTM layer in one direction over a whole sequence
** as a single autograd node. The input projection (x W_ih^T + b_ih + b_hh
** for every step, one GEMM) comes in as xg; then each step is one
** primitive kernel (CPU here, OpenCL in kernels/lstm.cl) that adds
** h_{t-1} W_hh^T to the step's gates and applies the cell in place:
**   i, f, o = sigmoid(.), g = tanh(.)   (PyTorch's gate order i, f, g, o)
**   c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
** The backward runs the steps in reverse, again one kernel each: dh_t =
** dy_t + dG_{t+1} W_hh, then the gates' gradient dG_t (which is also xg's
** gradient) and dc_{t-1}. W_hh's gradient is a single GEMM over every
** step, dG^T [h_0, h_1, ..., h_{T-1}], instead of one per step.
**
** On the CPU the per-step products (a batch of rows times W_hh) run in
** register tiles (ln_tile_f32) with W_hh^T copied once per call: BLIS
** would pack the whole weight again at every step for a product of a few
** dozen rows. The composite took a dozen ops per step forward and more
** backward; PyTorch takes a GEMM and five ops forward, two GEMMs and more
** backward.
**
** The output is one flat tensor: the hidden states in xg's layout, (B, T, H)
** with batch_first, else (T, B, H), followed by the last cell state (B, H);
** F.recurrent views it as the layer's output, h_n and c_n. The step
** kernels write strided views of the op's own buffers (a step of the
** gates, the states), in place where their comment says so.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "luann_nn.h"
#include "op.h"
#include "op_cpu.h"
#include "shape.h"

/* What Lua passes: luann._lstm(xg, w_hh, h0, c0, batch_first, reverse). */
typedef struct lstm_params {
  bool batch_first, reverse;
} lstm_params;

static const ln_param lstm_param_list[] = {
  {"batch_first", LN_PARAM_BOOL, LN_P(lstm_params, batch_first)},
  {"reverse", LN_PARAM_BOOL, LN_P(lstm_params, reverse)},
  {NULL},
};

/* What the step kernels get (kernels/lstm.cl restates it): B rows of H
** units; the states and gates are (B, H) or (B, 4H) views with unit column
** stride, whose row stride their view gives; the weights are contiguous. */
typedef struct cell_kparams {
  int64_t B, H;
  int64_t has_next;          /* backward: a later step's gradient to add */
} cell_kparams;

/* ---- CPU kernels -----------------------------------------------------------
** float32: sigmoid and tanh from a Cephes-style expf written on 16-float
** vectors (within 2 ulp of libm's, where the composite called libm once per
** element); float64: libm. */

/* exp(x): x = n ln2 + r, |r| <= ln2/2, Cephes' polynomial for exp(r), 2^n
** in the exponent bits; +inf above 88.72, 0 below -87.34 (the denormals),
** NaN kept. */
LN_INLINE ln_vf16 vexp(ln_vf16 x) {
  ln_vi16 big = x > 88.7228391f, tiny = x < -87.3365447f;
  ln_vf16 xc = ln_vf16_select(x > 88.3762626f, (ln_vf16){0} + 88.3762626f, x);
  xc = ln_vf16_select(tiny, (ln_vf16){0}, xc);
  ln_vf16 n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* rounded */
  ln_vf16 r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  ln_vf16 p = 1.9875691500e-4f * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  ln_vi16 ni = __builtin_convertvector(n, ln_vi16);
  ln_vf16 y = p * (ln_vf16)((ni + 127) << 23);
  y = ln_vf16_select(big, (ln_vf16){0} + INFINITY, y);
  return ln_vf16_select(tiny, (ln_vf16){0}, y); /* NaN compares false: kept */
}

LN_INLINE ln_vf16 vsigmoid(ln_vf16 x) { return 1.0f / (1.0f + vexp(-x)); }

/* tanh: Cephes' odd polynomial below 0.625, else 1 - 2 / (exp(2|x|) + 1)
** with x's sign. */
LN_INLINE ln_vf16 vtanh(ln_vf16 x) {
  ln_vi16 sign = (ln_vi16)x & (int32_t)0x80000000;
  ln_vf16 a = (ln_vf16)((ln_vi16)x & 0x7FFFFFFF);
  ln_vf16 z = x * x;
  ln_vf16 s = -5.70498872745e-3f * z + 2.06390887954e-2f;
  s = s * z - 5.37397155531e-2f;
  s = s * z + 1.33314422036e-1f;
  s = s * z - 3.33332819422e-1f;
  s = s * z * x + x;
  ln_vf16 l = 1.0f - 2.0f / (vexp(a + a) + 1.0f);
  l = (ln_vf16)((ln_vi16)l | sign);
  return ln_vf16_select(a < 0.625f, s, l);
}




typedef struct cell_job {
  const ln_kernel_args *a;
  const cell_kparams *k;
  int failed;                 /* a worker could not get its buffer */
} cell_job;

#define ROWS(t) ((t)->stride[0])
#define PTR(t, T) ((T *)ln_tensor_data(t))

/* The cell on one row of float pre-activations gt (i, f, g, o blocks of H):
** activations into act (may be gt), c and h. */
LN_INLINE void cell_row_f32(float *act, float *c, float *h, const float *gt,
                            const float *cp, int64_t H) {
  for (int64_t u = 0; u < H; u += 16) {
    int64_t n = H - u < 16 ? H - u : 16;
    ln_vf16 i = vsigmoid(ln_vf16_load_n(gt + u, n));
    ln_vf16 f = vsigmoid(ln_vf16_load_n(gt + H + u, n));
    ln_vf16 g = vtanh(ln_vf16_load_n(gt + 2 * H + u, n));
    ln_vf16 o = vsigmoid(ln_vf16_load_n(gt + 3 * H + u, n));
    ln_vf16 cn = f * ln_vf16_load_n(cp + u, n) + i * g;
    ln_vf16_store_n(act + u, i, n), ln_vf16_store_n(act + H + u, f, n);
    ln_vf16_store_n(act + 2 * H + u, g, n), ln_vf16_store_n(act + 3 * H + u, o, n);
    ln_vf16_store_n(c + u, cn, n);
    ln_vf16_store_n(h + u, o * vtanh(cn), n);
  }
}

/* The cell's backward on one float row (see cell_backward in the header of
** the backward kernel): dgates and dc from dh (dy + the next step's). */
LN_INLINE void cell_back_row_f32(float *dgt, float *dc, const float *act,
                                 const float *cp, const float *c,
                                 const float *dh, const float *dcn, int64_t H) {
  for (int64_t u = 0; u < H; u += 16) {
    int64_t n = H - u < 16 ? H - u : 16;
    ln_vf16 i = ln_vf16_load_n(act + u, n), f = ln_vf16_load_n(act + H + u, n);
    ln_vf16 g = ln_vf16_load_n(act + 2 * H + u, n);
    ln_vf16 o = ln_vf16_load_n(act + 3 * H + u, n);
    ln_vf16 dht = ln_vf16_load_n(dh + u, n), tc = vtanh(ln_vf16_load_n(c + u, n));
    ln_vf16 dct = ln_vf16_load_n(dcn + u, n) + dht * o * (1.0f - tc * tc);
    ln_vf16_store_n(dgt + u, dct * g * (i * (1.0f - i)), n);
    ln_vf16_store_n(dgt + H + u, dct * ln_vf16_load_n(cp + u, n) * (f * (1.0f - f)), n);
    ln_vf16_store_n(dgt + 2 * H + u, dct * i * (1.0f - g * g), n);
    ln_vf16_store_n(dgt + 3 * H + u, dht * tc * (o * (1.0f - o)), n);
    ln_vf16_store_n(dc + u, dct * f, n);
  }
}

/* c[0..m)[0..n) += a[0..m)[0..k) b[0..k)[0..n) (row strides lda, ldb,
** ldc): register tiles where n is a multiple of 8, plain sums else. */
LN_INLINE void rows_product_f32(float *c, int64_t ldc, const float *a,
                                int64_t lda, const float *b, int64_t ldb,
                                int m, int64_t n, int64_t k) {
  if (n % 8 == 0) {
    ln_tile_f32(c, ldc, a, lda, 1, b, ldb, m, n, 0, k, true);
    return;
  }
  for (int r = 0; r < m; r++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0;
      for (int64_t q = 0; q < k; q++) s += a[r * lda + q] * b[q * ldb + j];
      c[r * ldc + j] += s;
    }
}

/* Forward, rows [r0, r1): out {act (B, 4H), c, h (B, H)}, in {gates
** (B, 4H), h_prev, c_prev (B, H), wt (H, 4H)}; act is gates itself. Four
** rows at a time: gates += h_prev W_hh^T (in registers), then the cell on
** them while they are in L1. */
LN_CLONES static void step_forward_f32(void *ctx, int64_t r0, int64_t r1) {
  const cell_job *j = ctx;
  ln_tensor *const *out = j->a->out;
  const ln_tensor *const *in = j->a->in;
  int64_t H = j->k->H, ga = ROWS(out[0]), hs = ROWS(in[1]);
  float *act = PTR(out[0], float);
  const float *hp = PTR(in[1], float), *wt = PTR(in[3], float);
  /* 32 columns of W_hh^T (H x 32: in L1 for H up to ~200) over every row */
  int64_t panel = 4 * H % 8 ? 4 * H : 32;
  for (int64_t c0 = 0; c0 < 4 * H; c0 += panel) {
    int64_t w = 4 * H - c0 < panel ? 4 * H - c0 : panel;
    for (int64_t r = r0; r < r1; r += 4) {
      int m = r1 - r < 4 ? (int)(r1 - r) : 4;
      rows_product_f32(act + r * ga + c0, ga, hp + r * hs, hs, wt + c0, 4 * H,
                       m, w, H);
    }
  }
  for (int64_t q = r0; q < r1; q++)
    cell_row_f32(act + q * ga, PTR(out[1], float) + q * ROWS(out[1]),
                 PTR(out[2], float) + q * ROWS(out[2]), act + q * ga,
                 PTR(in[2], float) + q * ROWS(in[2]), H);
}

static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

static void step_forward_f64(void *ctx, int64_t r0, int64_t r1) {
  const cell_job *j = ctx;
  ln_tensor *const *out = j->a->out;
  const ln_tensor *const *in = j->a->in;
  int64_t H = j->k->H;
  const double *wt = PTR(in[3], double);
  for (int64_t r = r0; r < r1; r++) {
    double *gt = PTR(out[0], double) + r * ROWS(out[0]);
    const double *hp = PTR(in[1], double) + r * ROWS(in[1]);
    const double *cp = PTR(in[2], double) + r * ROWS(in[2]);
    double *c = PTR(out[1], double) + r * ROWS(out[1]);
    double *h = PTR(out[2], double) + r * ROWS(out[2]);
    for (int64_t col = 0; col < 4 * H; col++) {
      double s = 0;
      for (int64_t q = 0; q < H; q++) s += hp[q] * wt[q * 4 * H + col];
      gt[col] += s;
    }
    for (int64_t u = 0; u < H; u++) {
      double i = sigmoid_d(gt[u]), f = sigmoid_d(gt[H + u]);
      double g = tanh(gt[2 * H + u]), o = sigmoid_d(gt[3 * H + u]);
      double cn = f * cp[u] + i * g;
      gt[u] = i, gt[H + u] = f, gt[2 * H + u] = g, gt[3 * H + u] = o;
      c[u] = cn;
      h[u] = o * tanh(cn);
    }
  }
}

/* Backward, rows [r0, r1): out {dgates (B, 4H), dc (B, H)}, in {act
** (B, 4H), c_prev, c, dy (B, H), dgates_next (B, 4H), w (4H, H), dc_next
** (B, H)}; dc is dc_next itself. With the next step's gradient:
**   dh = dy + dgates_next W_hh   (dy alone at the last step)
**   tc = tanh(c),  dc' = dc_next + dh o (1 - tc^2)
**   di = dc' g,  df = dc' c_prev,  dg = dc' i,  do = dh tc,
**   dgates = (di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)),  dc = dc' f */
LN_CLONES static void step_backward_f32(void *ctx, int64_t r0, int64_t r1) {
  cell_job *j = ctx;
  ln_tensor *const *out = j->a->out;
  const ln_tensor *const *in = j->a->in;
  int64_t H = j->k->H, gs = ROWS(in[4]);
  float *dh = malloc((size_t)(4 * H) * sizeof *dh);
  if (!dh) {
#pragma omp atomic write
    j->failed = 1;
    return;
  }
  for (int64_t r = r0; r < r1; r += 4) {
    int m = r1 - r < 4 ? (int)(r1 - r) : 4;
    for (int q = 0; q < m; q++)
      memcpy(dh + q * H, PTR(in[3], float) + (r + q) * ROWS(in[3]),
             (size_t)H * sizeof *dh);
    if (j->k->has_next)
      rows_product_f32(dh, H, PTR(in[4], float) + r * gs, gs,
                       PTR(in[5], float), H, m, H, 4 * H);
    for (int64_t q = r; q < r + m; q++)
      cell_back_row_f32(PTR(out[0], float) + q * ROWS(out[0]),
                        PTR(out[1], float) + q * ROWS(out[1]),
                        PTR(in[0], float) + q * ROWS(in[0]),
                        PTR(in[1], float) + q * ROWS(in[1]),
                        PTR(in[2], float) + q * ROWS(in[2]), dh + (q - r) * H,
                        PTR(in[6], float) + q * ROWS(in[6]), H);
  }
  free(dh);
}

static void step_backward_f64(void *ctx, int64_t r0, int64_t r1) {
  const cell_job *j = ctx;
  ln_tensor *const *out = j->a->out;
  const ln_tensor *const *in = j->a->in;
  int64_t H = j->k->H;
  const double *w = PTR(in[5], double);
  for (int64_t r = r0; r < r1; r++) {
    double *dgt = PTR(out[0], double) + r * ROWS(out[0]);
    double *dc = PTR(out[1], double) + r * ROWS(out[1]);
    const double *act = PTR(in[0], double) + r * ROWS(in[0]);
    const double *cp = PTR(in[1], double) + r * ROWS(in[1]);
    const double *c = PTR(in[2], double) + r * ROWS(in[2]);
    const double *dy = PTR(in[3], double) + r * ROWS(in[3]);
    const double *dgn = PTR(in[4], double) + r * ROWS(in[4]);
    const double *dcn = PTR(in[6], double) + r * ROWS(in[6]);
    for (int64_t u = 0; u < H; u++) {
      double dht = dy[u];
      for (int64_t q = 0; j->k->has_next && q < 4 * H; q++) dht += dgn[q] * w[q * H + u];
      double i = act[u], f = act[H + u], g = act[2 * H + u], o = act[3 * H + u];
      double tc = tanh(c[u]), dct = dcn[u] + dht * o * (1 - tc * tc);
      dgt[u] = dct * g * (i * (1 - i));
      dgt[H + u] = dct * cp[u] * (f * (1 - f));
      dgt[2 * H + u] = dct * i * (1 - g * g);
      dgt[3 * H + u] = dht * tc * (o * (1 - o));
      dc[u] = dct * f;
    }
  }
}

static int cpu_step_forward(const ln_kernel_args *a) {
  cell_job j = {a, a->params, 0};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? step_forward_f32 : step_forward_f64, &j, j.k->B,
               10 * j.k->H * j.k->H);
  return LN_OK;
}

static int cpu_step_backward(const ln_kernel_args *a) {
  cell_job j = {a, a->params, 0};
  bool f32 = a->out[0]->dtype == LN_FLOAT32;
  ln_cpu_split(f32 ? step_backward_f32 : step_backward_f64, &j, j.k->B,
               10 * j.k->H * j.k->H);
  return j.failed ? ln_error("lstm: out of memory") : LN_OK;
}

static const ln_kernel forward_kernel = {
  .name = "lstm", .cpu = cpu_step_forward, .opencl = "lstm_step_forward",
};
static const ln_kernel backward_kernel = {
  .name = "lstm backward", .cpu = cpu_step_backward,
  .opencl = "lstm_step_backward",
};

/* ---- the sequence ---------------------------------------------------------- */

/* A layer's geometry: B rows, T steps, H units; steps of a (.., .., w)
** buffer in xg's layout are (B, w) views at offset step * st, rows rs apart. */
typedef struct geom {
  int64_t B, T, H;
  bool batch_first, reverse;
} geom;

/* Step t of buf (xg's layout, last dim w) as a raw (B, w) view. */
static ln_tensor *step_view(ln_tensor *buf, const geom *g, int64_t t,
                            int64_t w) {
  int64_t shape[2] = {g->B, w};
  int64_t stride[2] = {g->batch_first ? g->T * w : w, 1};
  int64_t off = buf->offset + t * (g->batch_first ? w : g->B * w);
  return ln_view_raw(buf, off, 2, shape, stride);
}

/* The step processed s-th: forward order, or backward with reverse. */
static int64_t step_at(const geom *g, int64_t s) {
  return g->reverse ? g->T - 1 - s : s;
}

static ln_matview matview(const ln_tensor *t, bool transposed) {
  ln_matview v = {t->storage, t->offset, t->stride[0], t->stride[1], 0};
  if (transposed) v.rs = t->stride[1], v.cs = t->stride[0];
  return v;
}

/* c = alpha a @ b + beta c (a, b seen transposed when asked); 2-D raw views. */
static int gemm(ln_tensor *c, const ln_tensor *a, bool at, const ln_tensor *b,
                bool bt, double beta) {
  int64_t m = c->shape[0], n = c->shape[1];
  int64_t k = at ? a->shape[0] : a->shape[1];
  return LN_BACKEND(c)->gemm(c->dtype, 1, m, n, k, 1, matview(a, at),
                             matview(b, bt), beta, matview(c, false));
}

static int run_step(const ln_kernel *k, ln_tensor **out, int nout,
                    const ln_tensor **in, int nin, const geom *g,
                    bool has_next) {
  cell_kparams p = {g->B, g->H, has_next};
  ln_kernel_args a = {.out = out, .nout = nout, .in = in, .nin = nin,
                      .params = &p, .params_size = sizeof p,
                      .work = g->B * g->H};
  return ln_kernel_run(k, &a);
}

/* The node's parameters. */
typedef struct lstm_node {
  geom g;
} lstm_node;

/* Saved: act (the gates after their nonlinearity), cs (every c_t), ys
** (every h_t, a view of the output), h0, c0, w_hh. */
enum { SAVED_ACT, SAVED_CS, SAVED_YS, SAVED_H0, SAVED_C0, SAVED_W, NSAVED };

/* Fills hp (xg's layout, (.., .., H)) with the state before each step:
** h0 before the first, else the previous step's h. */
static int previous_states(ln_tensor *hp, ln_tensor *ys, ln_tensor *h0,
                           const geom *g) {
  int rc = LN_OK;
  for (int64_t s = 0; s < g->T && rc == LN_OK; s++) {
    ln_tensor *dst = step_view(hp, g, step_at(g, s), g->H);
    ln_tensor *src = s ? step_view(ys, g, step_at(g, s - 1), g->H)
                       : ln_tensor_retain(h0);
    rc = dst && src ? LN_BACKEND(hp)->copy(dst, src) : LN_ERR;
    ln_tensor_release(dst);
    ln_tensor_release(src);
  }
  return rc;
}

/* The k-th step processed, backward: dgates' step from dy and the next
** step's dgates (the step processed after it, none for the last), and dc
** in place. */
static int backward_step(ln_tensor *dgates, ln_tensor *dc, ln_tensor *dys,
                         ln_tensor *const *sv, const geom *g, int64_t k) {
  int64_t t = step_at(g, k), H = g->H;
  bool last = k == g->T - 1;
  ln_scope s = {0};
  ln_tensor *out[2] = {LN_TMP(&s, step_view(dgates, g, t, 4 * H)), dc};
  const ln_tensor *in[7] = {
    LN_TMP(&s, step_view(sv[SAVED_ACT], g, t, 4 * H)),
    k ? LN_TMP(&s, step_view(sv[SAVED_CS], g, step_at(g, k - 1), H))
      : sv[SAVED_C0],
    LN_TMP(&s, step_view(sv[SAVED_CS], g, t, H)),
    LN_TMP(&s, step_view(dys, g, t, H)),
    last ? out[0] : LN_TMP(&s, step_view(dgates, g, step_at(g, k + 1), 4 * H)),
    sv[SAVED_W], dc};
  return ln_scope_done(&s, run_step(&backward_kernel, out, 2, in, 7, g, !last));
fail:
  return ln_scope_done(&s, LN_ERR);
}

static int lstm_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const geom *g = &((const lstm_node *)n->params)->g;
  ln_tensor *sv[NSAVED];
  for (int i = 0; i < NSAVED; i++)
    if (!(sv[i] = ln_node_saved(n, i))) return LN_ERR;
  ln_tensor *act = sv[SAVED_ACT], *ys = sv[SAVED_YS];
  int64_t B = g->B, H = g->H, BTH = B * g->T * H;
  ln_device dev = ln_tensor_device(act);
  ln_dtype dt = act->dtype;
  ln_scope s = {0};
  ln_tensor *go = LN_TMP(&s, ln_contiguous(gout));
  ln_tensor *dys = LN_TMP(&s, ln_view_raw(go, go->offset, ys->ndim, ys->shape,
                                          ys->stride));
  ln_tensor *dgates = LN_TMP(&s, ln_empty(act->ndim, act->shape, dt, dev));
  int64_t bh[2] = {B, H};
  ln_tensor *dh = LN_TMP(&s, ln_empty(2, bh, dt, dev));
  ln_tensor *dc = LN_TMP(&s, ln_empty(2, bh, dt, dev));
  ln_tensor *dcn = LN_TMP(&s, ln_view_raw(go, go->offset + BTH, 2, bh,
                                          (int64_t[]){H, 1}));
  if (LN_BACKEND(dc)->copy(dc, dcn) != LN_OK) goto fail;
  for (int64_t k = g->T - 1; k >= 0; k--)
    if (backward_step(dgates, dc, dys, sv, g, k) != LN_OK) goto fail;
  if (ln_node_needs_grad(n, 2)) { /* dh0 = the first step's dgates W_hh */
    ln_tensor *first = LN_TMP(&s, step_view(dgates, g, step_at(g, 0), 4 * H));
    if (gemm(dh, first, false, sv[SAVED_W], false, 0) != LN_OK) goto fail;
  }
  if (ln_node_needs_grad(n, 1)) { /* dW_hh = dG^T [h_prev of every step] */
    ln_tensor *hp = LN_TMP(&s, ln_empty(ys->ndim, ys->shape, dt, dev));
    if (previous_states(hp, ys, sv[SAVED_H0], g) != LN_OK) goto fail;
    int64_t rows = B * g->T, wshape[2] = {4 * H, H};
    ln_tensor *dg2 = LN_TMP(&s, ln_view_raw(dgates, dgates->offset, 2,
                                            (int64_t[]){rows, 4 * H},
                                            (int64_t[]){4 * H, 1}));
    ln_tensor *hp2 = LN_TMP(&s, ln_view_raw(hp, hp->offset, 2,
                                            (int64_t[]){rows, H},
                                            (int64_t[]){H, 1}));
    ln_tensor *dw = LN_TMP(&s, ln_empty(2, wshape, dt, dev));
    if (gemm(dw, dg2, true, hp2, false, 0) != LN_OK) goto fail;
    gin[1] = ln_tensor_retain(dw);
  }
  if (ln_node_needs_grad(n, 0)) gin[0] = ln_tensor_retain(dgates);
  if (ln_node_needs_grad(n, 2)) gin[2] = ln_tensor_retain(dh);
  if (ln_node_needs_grad(n, 3)) gin[3] = ln_tensor_retain(dc);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- front end ------------------------------------------------------------- */

static int lstm_check(const ln_tensor *xg, const ln_tensor *w,
                      const ln_tensor *h0, const ln_tensor *c0, geom *g) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN], s3[LN_SHAPE_STRLEN];
  bool ok = xg->ndim == 3 && w->ndim == 2 && h0->ndim == 2 && c0->ndim == 2;
  if (ok) {
    g->B = xg->shape[g->batch_first ? 0 : 1];
    g->T = xg->shape[g->batch_first ? 1 : 0];
    g->H = w->shape[1];
    ok = w->shape[0] == 4 * g->H && xg->shape[2] == 4 * g->H &&
         h0->shape[0] == g->B && h0->shape[1] == g->H &&
         c0->shape[0] == g->B && c0->shape[1] == g->H;
  }
  if (!ok)
    return ln_error("lstm: gates %s, w_hh %s and state %s do not fit "
                    "(expected (B, T, 4H) or (T, B, 4H), (4H, H) and (B, H))",
                    ln_shape_str(xg->ndim, xg->shape, s1, sizeof s1),
                    ln_shape_str(w->ndim, w->shape, s2, sizeof s2),
                    ln_shape_str(h0->ndim, h0->shape, s3, sizeof s3));
  const ln_tensor *ts[3] = {w, h0, c0};
  for (int i = 0; i < 3; i++) {
    if (ts[i]->dtype != xg->dtype)
      return ln_error("lstm: expected one dtype, got %s and %s",
                      ln_dtype_name(xg->dtype), ln_dtype_name(ts[i]->dtype));
    if (ln_check_same_device("lstm", xg, ts[i]) != LN_OK) return LN_ERR;
  }
  if (!ln_dtype_is_float(xg->dtype))
    return ln_error("lstm: expected floating point tensors, got %s",
                    ln_dtype_name(xg->dtype));
  return LN_OK;
}

/* The k-th step processed: one kernel adds h_prev W_hh^T to the gates'
** step (wt is W_hh^T, contiguous), turns it into its activations (in
** place) and writes c_t and h_t. */
static int forward_step(ln_tensor *gates, ln_tensor *cs, ln_tensor *ys,
                        ln_tensor *wt, ln_tensor *h0, ln_tensor *c0,
                        const geom *g, int64_t k) {
  int64_t t = step_at(g, k), H = g->H;
  ln_scope s = {0};
  ln_tensor *gt = LN_TMP(&s, step_view(gates, g, t, 4 * H));
  ln_tensor *hp = k ? LN_TMP(&s, step_view(ys, g, step_at(g, k - 1), H)) : h0;
  ln_tensor *cp = k ? LN_TMP(&s, step_view(cs, g, step_at(g, k - 1), H)) : c0;
  ln_tensor *out[3] = {gt, LN_TMP(&s, step_view(cs, g, t, H)),
                       LN_TMP(&s, step_view(ys, g, t, H))};
  const ln_tensor *in[4] = {gt, hp, cp, wt};
  return ln_scope_done(&s, run_step(&forward_kernel, out, 3, in, 4, g, false));
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* One LSTM layer over xg = x W_ih^T + b_ih + b_hh (B, T, 4H) with
** batch_first, else (T, B, 4H); w_hh (4H, H); h0, c0 (B, H). Returns the
** flat tensor of every h_t (xg's layout) and then c_T (see the top). */
ln_tensor *ln_lstm(ln_tensor *xg, ln_tensor *w_hh, ln_tensor *h0,
                   ln_tensor *c0, bool batch_first, bool reverse) {
  lstm_node p = {.g = {.batch_first = batch_first, .reverse = reverse}};
  geom *g = &p.g;
  if (lstm_check(xg, w_hh, h0, c0, g) != LN_OK) return NULL;
  int64_t B = g->B, T = g->T, H = g->H;
  ln_device dev = ln_tensor_device(xg);
  ln_dtype dt = xg->dtype;
  ln_scope s = {0};
  ln_tensor *xc = LN_TMP(&s, ln_contiguous(xg));
  ln_tensor *wc = LN_TMP(&s, ln_contiguous(w_hh));
  ln_tensor *h0c = LN_TMP(&s, ln_contiguous(h0));
  ln_tensor *c0c = LN_TMP(&s, ln_contiguous(c0));
  ln_tensor *gates = LN_TMP(&s, ln_empty(3, xc->shape, dt, dev));
  if (LN_BACKEND(gates)->copy(gates, xc) != LN_OK) goto fail;
  int64_t yshape[3] = {xc->shape[0], xc->shape[1], H}, ystride[3];
  ln_contiguous_strides(3, yshape, ystride);
  ln_tensor *cs = LN_TMP(&s, ln_empty(3, yshape, dt, dev));
  ln_tensor *out = LN_TMP(&s, ln_empty(1, (int64_t[]){B * T * H + B * H}, dt, dev));
  ln_tensor *ys = LN_TMP(&s, ln_view_raw(out, 0, 3, yshape, ystride));
  ln_tensor *wtv = LN_TMP(&s, ln_view_raw(wc, wc->offset, 2, (int64_t[]){H, 4 * H},
                                          (int64_t[]){1, H}));
  ln_tensor *wt = LN_TMP(&s, ln_empty(2, wtv->shape, dt, dev));
  if (LN_BACKEND(wt)->copy(wt, wtv) != LN_OK) goto fail;
  for (int64_t k = 0; k < T; k++)
    if (forward_step(gates, cs, ys, wt, h0c, c0c, g, k) != LN_OK) goto fail;
  if (T > 0) { /* c_T after the hidden states */
    int64_t bh[2] = {B, H};
    ln_tensor *last = LN_TMP(&s, step_view(cs, g, step_at(g, T - 1), H));
    ln_tensor *tail = LN_TMP(&s, ln_view_raw(out, B * T * H, 2, bh,
                                             (int64_t[]){H, 1}));
    if (LN_BACKEND(out)->copy(tail, last) != LN_OK) goto fail;
  }
  ln_tensor *inputs[4] = {xc, wc, h0c, c0c};
  ln_node *n;
  int rc = ln_record(&n, out, "LstmBackward", lstm_backward, 4, inputs);
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  ln_tensor *saved[NSAVED] = {gates, cs, ys, h0c, c0c, wc};
  for (int i = 0; i < NSAVED && rc == LN_OK; i++) rc = ln_node_save(n, saved[i]);
  if (rc == LN_OK) return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

/* ---- row -------------------------------------------------------------------- */

static int run_lstm(ln_tensor *const *in, const void *params, ln_tensor **out) {
  const lstm_params *p = params;
  out[0] = ln_lstm(in[0], in[1], in[2], in[3], p->batch_first, p->reverse);
  return out[0] ? LN_OK : LN_ERR;
}

static const char *const lstm_inputs[] = {"gates", "w_hh", "h0", "c0", NULL};

LN_OP_ROW(_lstm) = {
  .name = "_lstm", .inputs = lstm_inputs, .nrequired = 4,
  .params = lstm_param_list, .params_size = sizeof(lstm_params),
  .where = LN_OP_FUNCTION, .run = run_lstm,
};
