/*
** op_attention.c: _attention, scaled dot-product attention without a mask
** or with the causal one, as one primitive op (CPU kernels here, OpenCL in
** kernels/attention.cl). F.scaled_dot_product_attention and
** F.multi_head_attention_forward run it when they can (no mask, no
** dropout, no weights asked for), and the composite (matmul, softmax,
** matmul) otherwise.
**
**   P = softmax(scale q k^T + M),  out = P v
** q (..., L, E), k (..., S, E), v (..., S, Ev), the same batch dims; M is 0,
** or -inf where j > i when causal (query i sees keys 0..i, PyTorch's
** is_causal). The forward keeps P (..., L, S) for the backward:
**   dv = P^T g,  dP = g v^T,  dS = P (dP - rowsum(P dP)),
**   dq = scale dS k,  dk = scale dS^T q.
** Why one op: at the sizes of a character model (64 x 64 x 24 per head)
** the composite is three batched GEMMs of tiny matrices, where BLIS's
** per-call cost dominates, and a scale, a mask add and a softmax, each a
** pass over memory; its backward twice that. Here the CPU works one batch
** slice at a time in buffers that stay in L1/L2, with register tiles for
** the products, and the causal mask skips what it would hide. The output
** is laid out for the transpose that multi-head attention does next
** (heads_last_empty).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luann_nn.h"
#include "op.h"
#include "op_cpu.h"
#include "shape.h"

/* What Lua passes: luann._attention(q, k, v, scale, is_causal). */
typedef struct attn_params {
  double scale;
  bool causal;
} attn_params;

static const ln_param attn_param_list[] = {
  {"scale", LN_PARAM_NUMBER, LN_P(attn_params, scale), .required = true},
  {"is_causal", LN_PARAM_BOOL, LN_P(attn_params, causal)},
  {NULL},
};

/* What the kernels get (kernels/attention.cl restates it): batch slices of
** (L, E) queries, (S, E) keys, (S, Ev) values; scale as the bits of a
** float and of a double. Each tensor's view gives its batch strides. */
typedef struct attn_kparams {
  int64_t batch, L, S, E, Ev;
  int64_t causal;
  int64_t scale_f32, scale_f64;
} attn_kparams;

/* ---- CPU kernels -------------------------------------------------------- */

/* Element offset of batch slice b in t (its dims but the last two). */
static int64_t slice_offset(const ln_tensor *t, int64_t b) {
  int64_t off = t->offset;
  for (int d = t->ndim - 3; d >= 0; d--) {
    off += (b % t->shape[d]) * t->stride[d];
    b /= t->shape[d];
  }
  return off;
}

/* Where operand t's slice b starts, and its row and column strides. */
typedef struct mat {
  const char *base;
  int64_t rs, cs;
} mat;

static mat slice(const ln_tensor *t, int64_t b) {
  size_t es = ln_dtype_size(t->dtype);
  int nd = t->ndim;
  mat m = {(const char *)t->storage->data + slice_offset(t, b) * (int64_t)es,
           t->stride[nd - 2], t->stride[nd - 1]};
  return m;
}

/* A slice's (L, S) rows: keys row i sees. */
static inline int64_t keys_seen(const attn_kparams *k, int64_t i) {
  return k->causal && i + 1 < k->S ? i + 1 : k->S;
}

/* ---- float32: small products in registers --------------------------------
** Each slice's products are tiny (64 x 64 x 24 for the character model),
** too small for BLIS to pay off and too deep for a plain loop, which would
** keep its sums in memory: tile() (ln_tile_f32, core/op_cpu.h) holds up
** to a 4 x 32 block of C in registers over the whole reduction. Its right
** operand and its result are rows whose length is a multiple of 8: the
** tensors themselves when their rows are (read and written in place),
** else buffers padded with zeros. Score rows are padded to a multiple of
** 16 floats, so that the softmax works in whole vectors. */

static inline int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }
static inline int64_t pad8(int64_t n) { return (n + 7) / 8 * 8; }

LN_INLINE void tile(float *c, int64_t ldc, const float *a, int64_t ar,
                    int64_t ak, const float *b, int64_t ldb, int m,
                    int64_t ncols, int64_t k0, int64_t k1) {
  ln_tile_f32(c, ldc, a, ar, ak, b, ldb, m, ncols, k0, k1, false);
}

/* dst[0..n) = src[0..n) (unit stride): whole vectors, the last one
** overlapping the one before when n is not a multiple of 16. */
LN_INLINE void copy_run(float *dst, const float *src, int64_t n) {
  if (n < 16) {
    for (int64_t j = 0; j < n; j++) dst[j] = src[j];
    return;
  }
  for (int64_t j = 0; j + 16 <= n; j += 16) ln_vf16_store(dst + j, ln_vf16_load(src + j));
  if (n % 16) ln_vf16_store(dst + n - 16, ln_vf16_load(src + n - 16));
}

/* dst (rows, ld) = src (rows, cols), columns past cols zero; transposed:
** dst (cols, ld) = src^T, columns past rows zero. The transposed copy
** writes dst's rows in order and reads src down its columns (a slice's
** rows stay in L1), which is faster than scattering src's rows. */
LN_INLINE void gather_f32(float *dst, int64_t ld, mat src, int64_t rows,
                          int64_t cols, bool transposed) {
  const float *s = (const float *)src.base;
  int64_t n = transposed ? cols : rows, width = transposed ? rows : cols;
  for (int64_t i = 0; i < n; i++) {
    float *d = dst + i * ld;
    if (!transposed && src.cs == 1) {
      copy_run(d, s + i * src.rs, cols);
    } else {
      const float *r = s + i * (transposed ? src.cs : src.rs);
      int64_t step = transposed ? src.rs : src.cs;
      for (int64_t j = 0; j < width; j++) d[j] = r[j * step];
    }
    for (int64_t j = width; j < ld; j++) d[j] = 0;
  }
}

/* The sum of n floats, n a multiple of 16: in float across the vector
** lanes over runs of 256, the runs in double. */
LN_INLINE double sum16_f32(const float *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i += 256) {
    int64_t m = n - i < 256 ? n - i : 256;
    ln_vf16 t = {0};
    for (int64_t j = i; j < i + m; j += 16) t += ln_vf16_load(x + j);
    s += ln_vf16_hsum(t);
  }
  return s;
}

/* Row r (n scores seen, then Sp - n more) scaled and softmaxed in place,
** zeros past n. The loops run to n rounded up to 16, with -inf (exp: 0) in
** between, so that every loop is whole vectors. */
LN_INLINE void softmax_row_f32(float *r, int64_t n, int64_t Sp, float scale) {
  int64_t n16 = pad16(n);
  for (int64_t j = 0; j < n16; j += 16) ln_vf16_store(r + j, ln_vf16_load(r + j) * scale);
  for (int64_t j = n; j < n16; j++) r[j] = -INFINITY;
  ln_vf16 vm = ln_vf16_load(r);
  for (int64_t j = 16; j < n16; j += 16) vm = ln_vf16_max(ln_vf16_load(r + j), vm);
  float mx = ln_vf16_hmax(vm);
#pragma omp simd
  for (int64_t j = 0; j < n16; j++) r[j] = ln_exp_neg_f32(r[j] - mx);
  float inv = (float)(1.0 / sum16_f32(r, n16));
  for (int64_t j = 0; j < n16; j += 16) ln_vf16_store(r + j, ln_vf16_load(r + j) * inv);
  for (int64_t j = n16; j < Sp; j++) r[j] = 0;
}

/* dst rows (ld) = src rows (lds), the first n floats of each. */
LN_INLINE void copy_rows(float *dst, int64_t ld, const float *src,
                         int64_t lds, int64_t rows, int64_t n) {
  for (int64_t i = 0; i < rows; i++) copy_run(dst + i * ld, src + i * lds, n);
}

/* The causal mask's bound on a tile of rows [i0, i0 + m): keys below it. */
static inline int64_t tile_keys(const attn_kparams *k, int64_t i0, int m) {
  return keys_seen(k, i0 + m - 1);
}

/* Slice src (rows, cols) as a right operand of tile(): in place when its
** rows are unit-stride and a multiple of 8 long, else gathered into buf
** (rows of pad8(cols), zero-padded). */
LN_INLINE mat right_operand(mat src, int64_t rows, int64_t cols, float *buf) {
  if (cols % 8 == 0 && src.cs == 1) return src;
  gather_f32(buf, pad8(cols), src, rows, cols, false);
  return (mat){(const char *)buf, pad8(cols), 1};
}

#define F32(m) ((const float *)(m).base)

/* Forward of slice b: o (L, Ev) and p (L, S) into the outputs. q is read
** in place, k gathered transposed, v read in place where it can be. */
LN_CLONES static void forward_slice_f32(const ln_kernel_args *a,
                                        const attn_kparams *k, int64_t b,
                                        float *buf) {
  int64_t L = k->L, S = k->S, E = k->E, Ev = k->Ev;
  int64_t Sp = pad16(S), Evp = pad8(Ev);
  float *kt = buf, *vb = kt + E * Sp, *sc = vb + S * Evp, *ob = sc + L * Sp;
  float *p = (float *)ln_tensor_data(a->out[1]) + b * L * S;
  mat om = slice(a->out[0], b);
  float *o = (float *)om.base;
  if (S == Sp) sc = p; /* rows already padded: work in the outputs */
  int64_t ldo = Ev % 8 ? Evp : om.rs;
  if (Ev % 8 == 0) ob = o;
  float scale = ln_bits_float((int32_t)k->scale_f32);
  mat q = slice(a->in[0], b);
  gather_f32(kt, Sp, slice(a->in[1], b), S, E, true);
  mat v = right_operand(slice(a->in[2], b), S, Ev, vb);
  for (int64_t i0 = 0; i0 < L; i0 += 4) { /* scores */
    int m = L - i0 < 4 ? (int)(L - i0) : 4;
    tile(sc + i0 * Sp, Sp, F32(q) + i0 * q.rs, q.rs, q.cs, kt, Sp, m,
         pad16(tile_keys(k, i0, m)), 0, E);
  }
  for (int64_t i = 0; i < L; i++) { /* softmax over the keys seen */
    softmax_row_f32(sc + i * Sp, keys_seen(k, i), Sp, scale);
    if (sc != p) copy_run(p + i * S, sc + i * Sp, S);
  }
  for (int64_t i0 = 0; i0 < L; i0 += 4) { /* out = P v */
    int m = L - i0 < 4 ? (int)(L - i0) : 4;
    tile(ob + i0 * ldo, ldo, sc + i0 * Sp, Sp, 1, F32(v), v.rs, m, Evp, 0,
         tile_keys(k, i0, m));
  }
  if (ob != o) copy_rows(o, om.rs, ob, Evp, L, Ev);
}

static size_t forward_floats(const attn_kparams *k) {
  int64_t Sp = pad16(k->S), Evp = pad8(k->Ev);
  return (size_t)(k->E * Sp + k->S * Evp + k->L * Sp + k->L * Evp);
}

/* Backward of slice b: dq, dk, dv into the outputs; in {g, q, k, v, p}.
** v is gathered transposed; g, q and k are read in place where they can
** be, and the gradients written in place when their rows are a multiple of
** 8 long. */
LN_CLONES static void backward_slice_f32(const ln_kernel_args *a,
                                         const attn_kparams *k, int64_t b,
                                         float *buf) {
  int64_t L = k->L, S = k->S, E = k->E, Ev = k->Ev;
  int64_t Sp = pad16(S), Ep = pad8(E), Evp = pad8(Ev);
  float *gb = buf, *vt = gb + L * Evp, *qb = vt + Ev * Sp, *kb = qb + L * Ep;
  float *ps = kb + S * Ep, *ds = ps + L * Sp, *out = ds + L * Sp;
  float scale = ln_bits_float((int32_t)k->scale_f32);
  mat g = slice(a->in[0], b);
  mat gr = right_operand(g, L, Ev, gb);
  mat q = right_operand(slice(a->in[1], b), L, E, qb);
  mat kk = right_operand(slice(a->in[2], b), S, E, kb);
  gather_f32(vt, Sp, slice(a->in[3], b), S, Ev, true);
  const float *p = (const float *)ln_tensor_data(a->in[4]) + b * L * S;
  if (S == Sp) {
    ps = (float *)p; /* read only */
  } else {
    for (int64_t i = 0; i < L; i++) {
      copy_run(ps + i * Sp, p + i * S, S);
      for (int64_t j = S; j < Sp; j++) ps[i * Sp + j] = 0;
    }
  }
  for (int64_t i0 = 0; i0 < L; i0 += 4) { /* dP = g v^T */
    int m = L - i0 < 4 ? (int)(L - i0) : 4;
    tile(ds + i0 * Sp, Sp, F32(g) + i0 * g.rs, g.rs, g.cs, vt, Sp, m,
         pad16(tile_keys(k, i0, m)), 0, Ev);
  }
  for (int64_t i = 0; i < L; i++) { /* dS = P (dP - rowsum(P dP)) scale */
    float *d = ds + i * Sp;
    const float *pr = ps + i * Sp;
    int64_t n = keys_seen(k, i), n16 = pad16(n); /* as in softmax_row_f32 */
    for (int64_t j = n; j < Sp; j++) d[j] = 0;
    for (int64_t j = 0; j < n16; j += 16)
      ln_vf16_store(d + j, ln_vf16_load(d + j) * ln_vf16_load(pr + j));
    float dd = (float)sum16_f32(d, n16); /* rowsum(P dP) */
    for (int64_t j = 0; j < n16; j += 16)
      ln_vf16_store(d + j, (ln_vf16_load(d + j) - ln_vf16_load(pr + j) * dd) * scale);
  }
  float *dq = (float *)ln_tensor_data(a->out[0]) + b * L * E;
  float *dk = (float *)ln_tensor_data(a->out[1]) + b * S * E;
  float *dv = (float *)ln_tensor_data(a->out[2]) + b * S * Ev;
  float *c = E % 8 ? out : dq;
  for (int64_t i0 = 0; i0 < L; i0 += 4) { /* dq = dS k */
    int m = L - i0 < 4 ? (int)(L - i0) : 4;
    tile(c + i0 * Ep, Ep, ds + i0 * Sp, Sp, 1, F32(kk), kk.rs, m, Ep, 0,
         tile_keys(k, i0, m));
  }
  if (c != dq) copy_rows(dq, E, out, Ep, L, E);
  /* dS and P are zero above the diagonal when causal: key j's sums over
  ** the queries start at query j. */
  c = E % 8 ? out : dk;
  for (int64_t j0 = 0; j0 < S; j0 += 4) { /* dk = dS^T q */
    int m = S - j0 < 4 ? (int)(S - j0) : 4;
    int64_t first = k->causal ? (j0 < L ? j0 : L) : 0;
    tile(c + j0 * Ep, Ep, ds + j0, 1, Sp, F32(q), q.rs, m, Ep, first, L);
  }
  if (c != dk) copy_rows(dk, E, out, Ep, S, E);
  c = Ev % 8 ? out : dv;
  for (int64_t j0 = 0; j0 < S; j0 += 4) { /* dv = P^T g */
    int m = S - j0 < 4 ? (int)(S - j0) : 4;
    int64_t first = k->causal ? (j0 < L ? j0 : L) : 0;
    tile(c + j0 * Evp, Evp, ps + j0, 1, Sp, F32(gr), gr.rs, m, Evp, first, L);
  }
  if (c != dv) copy_rows(dv, Ev, out, Evp, S, Ev);
}

static size_t backward_floats(const attn_kparams *k) {
  int64_t Sp = pad16(k->S), Ep = pad8(k->E), Evp = pad8(k->Ev);
  int64_t wide = Ep > Evp ? Ep : Evp, rows = k->L > k->S ? k->L : k->S;
  return (size_t)(k->L * Evp + k->Ev * Sp + k->L * Ep + k->S * Ep +
                  2 * k->L * Sp + rows * wide);
}

/* ---- float64: plain loops (gradcheck's dtype) ------------------------------ */

#define AT(m, i, j) (((const double *)(m).base)[(i) * (m).rs + (j) * (m).cs])

static void forward_slice_f64(const ln_kernel_args *a, const attn_kparams *k,
                              int64_t b, double *s) {
  int64_t L = k->L, S = k->S, E = k->E, Ev = k->Ev;
  mat q = slice(a->in[0], b), kk = slice(a->in[1], b), v = slice(a->in[2], b);
  double scale;
  memcpy(&scale, &k->scale_f64, sizeof scale);
  mat om = slice(a->out[0], b);
  double *o = (double *)om.base;
  double *p = (double *)ln_tensor_data(a->out[1]) + b * L * S;
  for (int64_t i = 0; i < L; i++) {
    int64_t n = keys_seen(k, i);
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) {
      double d = 0;
      for (int64_t e = 0; e < E; e++) d += AT(q, i, e) * AT(kk, j, e);
      s[j] = d * scale;
      mx = s[j] > mx ? s[j] : mx;
    }
    for (int64_t j = 0; j < S; j++) {
      p[i * S + j] = j < n ? exp(s[j] - mx) : 0;
      sum += p[i * S + j];
    }
    for (int64_t j = 0; j < n; j++) p[i * S + j] /= sum;
    for (int64_t e = 0; e < Ev; e++) {
      double d = 0;
      for (int64_t j = 0; j < n; j++) d += p[i * S + j] * AT(v, j, e);
      o[i * om.rs + e] = d;
    }
  }
}

static void backward_slice_f64(const ln_kernel_args *a, const attn_kparams *k,
                               int64_t b, double *ds) {
  int64_t L = k->L, S = k->S, E = k->E, Ev = k->Ev;
  mat g = slice(a->in[0], b), q = slice(a->in[1], b);
  mat kk = slice(a->in[2], b), v = slice(a->in[3], b);
  double scale;
  memcpy(&scale, &k->scale_f64, sizeof scale);
  const double *p = (const double *)ln_tensor_data(a->in[4]) + b * L * S;
  double *dq = (double *)ln_tensor_data(a->out[0]) + b * L * E;
  double *dk = (double *)ln_tensor_data(a->out[1]) + b * S * E;
  double *dv = (double *)ln_tensor_data(a->out[2]) + b * S * Ev;
  for (int64_t i = 0; i < L; i++) { /* dS, row by row, then dq */
    double dot = 0;
    for (int64_t j = 0; j < S; j++) {
      double d = 0;
      for (int64_t e = 0; e < Ev; e++) d += AT(g, i, e) * AT(v, j, e);
      ds[i * S + j] = d;
      dot += p[i * S + j] * d;
    }
    for (int64_t j = 0; j < S; j++)
      ds[i * S + j] = p[i * S + j] * (ds[i * S + j] - dot) * scale;
    for (int64_t e = 0; e < E; e++) {
      double d = 0;
      for (int64_t j = 0; j < S; j++) d += ds[i * S + j] * AT(kk, j, e);
      dq[i * E + e] = d;
    }
  }
  for (int64_t j = 0; j < S; j++) { /* dk and dv, key by key */
    for (int64_t e = 0; e < E; e++) {
      double d = 0;
      for (int64_t i = 0; i < L; i++) d += ds[i * S + j] * AT(q, i, e);
      dk[j * E + e] = d;
    }
    for (int64_t e = 0; e < Ev; e++) {
      double d = 0;
      for (int64_t i = 0; i < L; i++) d += p[i * S + j] * AT(g, i, e);
      dv[j * Ev + e] = d;
    }
  }
}

/* A kernel call shared by the threads; a worker that cannot get its
** buffer sets failed. */
typedef struct attn_job {
  const ln_kernel_args *a;
  const attn_kparams *k;
  bool backward;
  int failed;
} attn_job;

static void run_slices(void *ctx, int64_t b0, int64_t b1) {
  attn_job *j = ctx;
  const attn_kparams *k = j->k;
  bool f32 = j->a->out[0]->dtype == LN_FLOAT32;
  size_t n = f32 ? (j->backward ? backward_floats(k) : forward_floats(k))
                 : (size_t)(j->backward ? k->L * k->S : k->S);
  void *buf = malloc(n * (f32 ? sizeof(float) : sizeof(double)));
  if (!buf) {
#pragma omp atomic write
    j->failed = 1;
    return;
  }
  for (int64_t b = b0; b < b1; b++) {
    if (f32 && j->backward) backward_slice_f32(j->a, k, b, buf);
    else if (f32) forward_slice_f32(j->a, k, b, buf);
    else if (j->backward) backward_slice_f64(j->a, k, b, buf);
    else forward_slice_f64(j->a, k, b, buf);
  }
  free(buf);
}

static int cpu_run(const ln_kernel_args *a, bool backward) {
  attn_job j = {a, a->params, backward, 0};
  int64_t cost = (backward ? 2 : 1) * j.k->L * j.k->S * (j.k->E + j.k->Ev);
  ln_cpu_split(run_slices, &j, j.k->batch, cost);
  return j.failed ? ln_error("scaled_dot_product_attention: out of memory")
                  : LN_OK;
}

static int cpu_forward(const ln_kernel_args *a) { return cpu_run(a, false); }
static int cpu_backward(const ln_kernel_args *a) { return cpu_run(a, true); }

static const ln_kernel forward_kernel = {
  .name = "scaled_dot_product_attention", .cpu = cpu_forward,
  .opencl = "attention_forward",
};
/* out {dq, dk, dv, ds}: ds is a (batch, L, S) scratch for OpenCL, which
** the CPU leaves alone. */
static const ln_kernel backward_kernel = {
  .name = "scaled_dot_product_attention backward", .cpu = cpu_backward,
  .opencl = "attention_backward",
};

/* ---- backward ------------------------------------------------------------ */

static ln_tensor *empty_like(const ln_tensor *t) {
  return ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
}

static int attn_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const attn_kparams *k = n->params;
  ln_tensor *q = ln_node_saved(n, 0), *kk = ln_node_saved(n, 1);
  ln_tensor *v = ln_node_saved(n, 2), *p = ln_node_saved(n, 3);
  if (!q || !kk || !v || !p) return LN_ERR;
  ln_scope s = {0};
  ln_tensor *out[4];
  out[0] = LN_TMP(&s, empty_like(q));
  out[1] = LN_TMP(&s, empty_like(kk));
  out[2] = LN_TMP(&s, empty_like(v));
  out[3] = LN_TMP(&s, empty_like(p)); /* OpenCL's scratch for dS */
  const ln_tensor *in[] = {gout, q, kk, v, p};
  ln_kernel_args a = {.out = out, .nout = 4, .in = in, .nin = 5,
                      .params = k, .params_size = sizeof *k, .work = k->batch};
  if (ln_kernel_run(&backward_kernel, &a) != LN_OK) goto fail;
  for (int i = 0; i < 3; i++)
    if (ln_node_needs_grad(n, i)) gin[i] = ln_tensor_retain(out[i]);
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* ---- front end ------------------------------------------------------------ */

static int attn_check(const ln_tensor *q, const ln_tensor *k,
                      const ln_tensor *v) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN], s3[LN_SHAPE_STRLEN];
  int nd = q->ndim;
  bool ok = nd >= 2 && k->ndim == nd && v->ndim == nd &&
            q->shape[nd - 1] == k->shape[nd - 1] &&
            k->shape[nd - 2] == v->shape[nd - 2];
  for (int d = 0; ok && d < nd - 2; d++)
    ok = q->shape[d] == k->shape[d] && q->shape[d] == v->shape[d];
  if (!ok)
    return ln_error("scaled_dot_product_attention: query %s, key %s and value "
                    "%s do not fit (expected (..., L, E), (..., S, E) and "
                    "(..., S, Ev) with the same batch dims)",
                    ln_shape_str(q->ndim, q->shape, s1, sizeof s1),
                    ln_shape_str(k->ndim, k->shape, s2, sizeof s2),
                    ln_shape_str(v->ndim, v->shape, s3, sizeof s3));
  if (q->dtype != k->dtype || q->dtype != v->dtype ||
      !ln_dtype_is_float(q->dtype))
    return ln_error("scaled_dot_product_attention: expected query, key and "
                    "value of one floating point dtype, got %s, %s and %s",
                    ln_dtype_name(q->dtype), ln_dtype_name(k->dtype),
                    ln_dtype_name(v->dtype));
  if (ln_check_same_device("scaled_dot_product_attention", q, k) != LN_OK ||
      ln_check_same_device("scaled_dot_product_attention", q, v) != LN_OK)
    return LN_ERR;
  return LN_OK;
}

/* An empty (..., H, L, Ev) tensor whose memory runs (..., L, H, Ev): what
** out:transpose(-3, -2):reshape(..., L, H * Ev), the usual next step of
** multi-head attention, reads as a plain view, and its gradient comes back
** without a copy. With fewer than 4 dims, contiguous. */
static ln_tensor *heads_last_empty(int nd, const int64_t *shape, ln_dtype dt,
                                   ln_device dev) {
  if (nd < 4) return ln_empty(nd, shape, dt, dev);
  int64_t mshape[LN_MAX_DIMS], mstride[LN_MAX_DIMS], stride[LN_MAX_DIMS];
  memcpy(mshape, shape, (size_t)nd * sizeof *shape);
  mshape[nd - 3] = shape[nd - 2], mshape[nd - 2] = shape[nd - 3];
  ln_contiguous_strides(nd, mshape, mstride);
  memcpy(stride, mstride, (size_t)nd * sizeof *stride);
  stride[nd - 3] = mstride[nd - 2], stride[nd - 2] = mstride[nd - 3];
  ln_tensor *m = ln_empty(nd, mshape, dt, dev);
  ln_tensor *v = m ? ln_view_raw(m, 0, nd, shape, stride) : NULL;
  ln_tensor_release(m);
  return v;
}

/* softmax(scale q k^T (+ the causal mask)) v; see the top of the file. */
ln_tensor *ln_attention(ln_tensor *q, ln_tensor *k, ln_tensor *v, double scale,
                        bool causal) {
  if (attn_check(q, k, v) != LN_OK) return NULL;
  int nd = q->ndim;
  int64_t L = q->shape[nd - 2], S = k->shape[nd - 2];
  int64_t E = q->shape[nd - 1], Ev = v->shape[nd - 1];
  int64_t batch = ln_shape_numel(nd - 2, q->shape);
  if (S == 0)
    return ln_error("scaled_dot_product_attention: no keys (key of shape with "
                    "S = 0)"), NULL;
  attn_kparams kp = {batch, L, S, E, Ev, causal, 0, 0};
  kp.scale_f32 = ln_float_bits((float)scale);
  memcpy(&kp.scale_f64, &scale, sizeof scale);
  int64_t oshape[LN_MAX_DIMS], pshape[LN_MAX_DIMS];
  memcpy(oshape, q->shape, sizeof oshape);
  memcpy(pshape, q->shape, sizeof pshape);
  oshape[nd - 1] = Ev;
  pshape[nd - 1] = S;
  ln_device dev = ln_tensor_device(q);
  ln_scope s = {0};
  ln_tensor *out[2];
  out[0] = LN_TMP(&s, heads_last_empty(nd, oshape, q->dtype, dev));
  out[1] = LN_TMP(&s, ln_empty(nd, pshape, q->dtype, dev));
  if (batch * L > 0) {
    const ln_tensor *in[] = {q, k, v};
    ln_kernel_args a = {.out = out, .nout = 2, .in = in, .nin = 3,
                        .params = &kp, .params_size = sizeof kp,
                        .work = batch * L};
    if (ln_kernel_run(&forward_kernel, &a) != LN_OK) goto fail;
  }
  ln_tensor *inputs[3] = {q, k, v};
  ln_node *n;
  int rc = ln_record(&n, out[0], "AttentionBackward", attn_backward, 3, inputs);
  if (rc == LN_OK) rc = ln_node_params(n, &kp, sizeof kp);
  for (int i = 0; i < 3 && rc == LN_OK; i++) rc = ln_node_save(n, inputs[i]);
  if (rc == LN_OK) rc = ln_node_save(n, out[1]);
  if (rc == LN_OK) return ln_scope_keep(&s, out[0]);
fail:
  return ln_scope_end(&s);
}

/* ---- row ------------------------------------------------------------------ */

static int run_attention(ln_tensor *const *in, const void *params,
                         ln_tensor **out) {
  const attn_params *p = params;
  out[0] = ln_attention(in[0], in[1], in[2], p->scale, p->causal);
  return out[0] ? LN_OK : LN_ERR;
}

static const char *const attn_inputs[] = {"query", "key", "value", NULL};

LN_OP_ROW(_attention) = {
  .name = "_attention", .inputs = attn_inputs, .nrequired = 3,
  .params = attn_param_list, .params_size = sizeof(attn_params),
  .where = LN_OP_FUNCTION, .run = run_attention,
};
