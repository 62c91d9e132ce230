/*
** conv_simd.c: the float32 CPU kernels of stride-1 convolution
** (core/op_conv_direct.c), with no columns: every output is summed in
** registers.
**
** Each sample's image is first copied into padded planes: zeros around
** it, rows as wide as the output vectors need. Then every tap (c, a, b)
** of the kernel is one offset into the planes, and every vector of V
** output pixels of a row is one contiguous load per tap. The forward
** holds a tile of OB output channels x JB vectors in registers across all
** taps; the weight gradient holds OB channels x TB taps across all pixels.
** Tiles that overhang pad the channels with zero weights and repeat the
** last vector; nothing they compute past the edges is stored.
**
** GCC's vector extensions, compiled twice: for AVX2 with FMA and for the
** baseline, picked at run time (the build never uses -march=native). On
** AVX-512 parts of the AMD kind 256-bit vectors run as fast as 512-bit
** ones.
*/
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conv_direct.h"

#define V 8                            /* floats per vector */
typedef float vf __attribute__((vector_size(4 * V)));
typedef int32_t vi __attribute__((vector_size(4 * V)));
typedef float vfu __attribute__((vector_size(4 * V), aligned(4), may_alias));
#define LOADU(p) (*(const vfu *)(p))
#define LOADA(p) (*(const vf *)(p))

enum { MAXOB = 6, MAXJB = 4, MAXTB = 8 };

/* ---- the padded planes of one sample ------------------------------------ */

typedef struct plane {
  int64_t hp, wp;      /* padded rows and width */
  int64_t nvec, npos;  /* vectors per output row; vectors per plane */
  int64_t ntap;        /* ci * kh * kw */
} plane;

static plane plane_of(const ln_conv_job *j) {
  plane p;
  p.nvec = (j->ow + V - 1) / V;
  p.npos = j->oh * p.nvec;
  p.hp = j->oh + j->dh * (j->kh - 1);
  p.wp = p.nvec * V + j->dw * (j->kw - 1);
  p.ntap = j->ci * j->kh * j->kw;
  return p;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* xp[c][r][q] = x[n][c][r - ph][q - pw], zero outside the image. */
static void pad_sample(float *xp, const float *x, const ln_conv_job *j,
                       const plane *p, int64_t n) {
  int64_t q0 = clamp64(j->pw, 0, p->wp), q1 = clamp64(j->pw + j->w, 0, p->wp);
  for (int64_t c = 0; c < j->ci; c++)
    for (int64_t r = 0; r < p->hp; r++) {
      float *dst = xp + (c * p->hp + r) * p->wp;
      int64_t row = r - j->ph;
      if (row < 0 || row >= j->h || q0 >= q1) {
        memset(dst, 0, (size_t)p->wp * sizeof *dst);
        continue;
      }
      const float *src = x + n * j->xs[0] + c * j->xs[1] + row * j->xs[2] +
                         (q0 - j->pw) * j->xs[3];
      memset(dst, 0, (size_t)q0 * sizeof *dst);
      if (j->xs[3] == 1) {
        memcpy(dst + q0, src, (size_t)(q1 - q0) * sizeof *dst);
      } else {
        for (int64_t q = q0; q < q1; q++) dst[q] = src[(q - q0) * j->xs[3]];
      }
      memset(dst + q1, 0, (size_t)(p->wp - q1) * sizeof *dst);
    }
}

/* tap[k], k = (c*kh + a)*kw + b: where tap k reads, relative to a
** vector's first pixel; taps past ntap (a tile's overhang) read 0. */
static void tap_offsets(int64_t *tap, int64_t count, const ln_conv_job *j,
                        const plane *p) {
  int64_t k = 0;
  for (int64_t c = 0; c < j->ci; c++)
    for (int64_t a = 0; a < j->kh; a++)
      for (int64_t b = 0; b < j->kw; b++)
        tap[k++] = (c * p->hp + a * j->dh) * p->wp + b * j->dw;
  for (; k < count; k++) tap[k] = 0;
}

/* ---- forward: OB channels x JB vectors --------------------------------- */

/* Where a forward tile's vectors go: dst[jb] + ob * plane, lanes[jb]
** pixels of each (0: a repeated vector, not stored), channels ob < nob. */
typedef struct tile_out {
  float *dst[MAXJB];
  int64_t lanes[MAXJB];
  int64_t plane, nob;
} tile_out;

/* out[ob][jb][:] = bias + sum_k w[k][ob] * xp[tap[k] + base[jb] + :] */
static inline __attribute__((always_inline)) void
forward_tile(const int OB, const int JB, const tile_out *out,
             const float *restrict xp, const int64_t *restrict base,
             const int64_t *restrict tap, int64_t ntap,
             const float *restrict wk, int64_t ldo,
             const float *restrict bias) {
  vf acc[MAXOB][MAXJB];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 8
    for (int jb = 0; jb < JB; jb++) acc[ob][jb] = (vf){0} + bias[ob];
  for (int64_t k = 0; k < ntap; k++, wk += ldo) {
    const float *xk = xp + tap[k];
    vf xv[MAXJB];
#pragma GCC unroll 8
    for (int jb = 0; jb < JB; jb++) xv[jb] = LOADU(xk + base[jb]);
#pragma GCC unroll 8
    for (int ob = 0; ob < OB; ob++) {
      float w = wk[ob];
#pragma GCC unroll 8
      for (int jb = 0; jb < JB; jb++) acc[ob][jb] += xv[jb] * w;
    }
  }
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++) {
    if (ob >= out->nob) break;
#pragma GCC unroll 8
    for (int jb = 0; jb < JB; jb++) {
      float *d = out->dst[jb] + ob * out->plane;
      if (out->lanes[jb] == V) {
        *(vfu *)d = acc[ob][jb];
      } else {
        for (int64_t l = 0; l < out->lanes[jb]; l++) d[l] = acc[ob][jb][l];
      }
    }
  }
}

/* The tile shapes, by the registers they take (16 vector registers). */
typedef struct shape {
  int ob, jb;
} shape;
static const shape forward_shapes[] = {{4, 3}, {6, 2}, {3, 3}, {2, 4}, {1, 4}};
static const shape weight_shapes[] = {{4, 2}, {3, 3}, {2, 5}, {2, 4}, {1, 8}};
#define NSHAPES 5

/* Where each output vector reads and writes. */
typedef struct positions {
  const int64_t *base;   /* its first pixel in the padded plane */
  const int64_t *dst;    /* its first pixel in an output plane */
  const int64_t *lanes;  /* its pixels inside the output row */
} positions;

typedef struct forward_args {
  float *y;              /* sample n's output (CO, OH, OW) */
  const float *xp;       /* its padded planes */
  const float *wp;       /* (ntap, ldo) */
  const float *bias;     /* (ldo) */
  const int64_t *tap;
  positions pos;
  int64_t co, ldo, ntap, npos, plane_size;
} forward_args;

/* One sample, in tiles of OB x JB. */
static inline __attribute__((always_inline)) void
forward_sample_as(const int OB, const int JB, const forward_args *f) {
  for (int64_t o0 = 0; o0 < f->co; o0 += OB) {
    tile_out out = {.plane = f->plane_size,
                    .nob = f->co - o0 < OB ? f->co - o0 : OB};
    for (int64_t p0 = 0; p0 < f->npos; p0 += JB) {
      int64_t base[MAXJB];
      for (int jb = 0; jb < JB; jb++) {
        int64_t p = p0 + jb < f->npos ? p0 + jb : f->npos - 1;
        base[jb] = f->pos.base[p];
        out.dst[jb] = f->y + o0 * f->plane_size + f->pos.dst[p];
        out.lanes[jb] = p0 + jb < f->npos ? f->pos.lanes[p] : 0;
      }
      forward_tile(OB, JB, &out, f->xp, base, f->tap, f->ntap, f->wp + o0,
                   f->ldo, f->bias + o0);
    }
  }
}

static inline __attribute__((always_inline)) void
forward_sample(int s, const forward_args *f) {
  switch (s) {
    case 0: forward_sample_as(4, 3, f); break;
    case 1: forward_sample_as(6, 2, f); break;
    case 2: forward_sample_as(3, 3, f); break;
    case 3: forward_sample_as(2, 4, f); break;
    default: forward_sample_as(1, 4, f); break;
  }
}

/* ---- weight gradient: OB channels x TB taps ----------------------------- */

typedef struct weight_args {
  float *acc;            /* (ldo, ktp, V) partial sums, added to */
  const float *xp;       /* sample n's padded planes */
  const float *gp;       /* its gradient (ldo, npos, V), zero past the edges */
  const int64_t *tap;    /* (ktp) */
  const int64_t *base;   /* (npos) */
  const vi *mask;        /* (nvec): the lanes inside the row */
  int64_t ldo, ktp, oh, nvec;
} weight_args;

/* acc[ob][t] += sum_p gp[ob][p] * (xp[base[p] + tap[t] + :] & mask) */
static inline __attribute__((always_inline)) void
weight_tile(const int OB, const int TB, float *restrict accp,
            const weight_args *w, const float *restrict gp,
            const int64_t *restrict tap) {
  vf acc[MAXOB][MAXTB];
  int64_t npos = w->oh * w->nvec;
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 8
    for (int t = 0; t < TB; t++) acc[ob][t] = (vf){0};
  for (int64_t i = 0, p = 0; i < w->oh; i++) {
    for (int64_t jc = 0; jc < w->nvec; jc++, p++) {
      vi m = w->mask[jc];
      const float *xb = w->xp + w->base[p];
      vf gv[MAXOB];
#pragma GCC unroll 8
      for (int ob = 0; ob < OB; ob++) gv[ob] = LOADA(gp + (ob * npos + p) * V);
#pragma GCC unroll 8
      for (int t = 0; t < TB; t++) {
        vf xv = (vf)((vi)LOADU(xb + tap[t]) & m);
#pragma GCC unroll 8
        for (int ob = 0; ob < OB; ob++) acc[ob][t] += gv[ob] * xv;
      }
    }
  }
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 8
    for (int t = 0; t < TB; t++) {
      vf *a = (vf *)(accp + (ob * w->ktp + t) * V);
      *a += acc[ob][t];
    }
}

static inline __attribute__((always_inline)) void
weight_sample_as(const int OB, const int TB, const weight_args *w) {
  int64_t npos = w->oh * w->nvec;
  for (int64_t o0 = 0; o0 < w->ldo; o0 += OB)
    for (int64_t k0 = 0; k0 < w->ktp; k0 += TB)
      weight_tile(OB, TB, w->acc + (o0 * w->ktp + k0) * V, w,
                  w->gp + o0 * npos * V, w->tap + k0);
}

static inline __attribute__((always_inline)) void
weight_sample(int s, const weight_args *w) {
  switch (s) {
    case 0: weight_sample_as(4, 2, w); break;
    case 1: weight_sample_as(3, 3, w); break;
    case 2: weight_sample_as(2, 5, w); break;
    case 3: weight_sample_as(2, 4, w); break;
    default: weight_sample_as(1, 8, w); break;
  }
}

/* ---- the two builds, picked once ---------------------------------------- */

__attribute__((target("avx2,fma"))) static void
forward_avx2(int s, const forward_args *f) { forward_sample(s, f); }
static void forward_base(int s, const forward_args *f) { forward_sample(s, f); }
__attribute__((target("avx2,fma"))) static void
weight_avx2(int s, const weight_args *w) { weight_sample(s, w); }
static void weight_base(int s, const weight_args *w) { weight_sample(s, w); }

static bool use_avx2(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return known;
}

/* ---- drivers -------------------------------------------------------------- */

/* The shape of shapes[] that wastes least on co channels and count tiles
** along the other side, and loads least per multiply-add. */
static int pick_shape(const shape *shapes, int64_t co, int64_t count) {
  int best = 0;
  double best_score = -1;
  for (int s = 0; s < NSHAPES; s++) {
    int64_t ob = shapes[s].ob, jb = shapes[s].jb;
    double used = (double)co / (double)((co + ob - 1) / ob * ob) *
                  (double)count / (double)((count + jb - 1) / jb * jb);
    double score = used * (double)(ob * jb) / (double)(ob + jb);
    if (score > best_score + 1e-9) best = s, best_score = score;
  }
  return best;
}

/* Threads for m multiply-adds over n samples: each should get 2^21 or more
** (about 100 us of one core); a parallel region costs more on less. */
static int threads_for(double m, int64_t n) {
  int t = ln_get_num_threads();
  double most = m / (double)(1 << 21);
  if (most < t) t = most < 1 ? 1 : (int)most;
  if (t > n) t = n < 1 ? 1 : (int)n;
  return t;
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* n floats, 64-byte aligned, or NULL after an error. */
static float *scratch(int64_t n) {
  size_t bytes = (size_t)round_up(n > 0 ? n : 1, 16) * sizeof(float);
  float *p = aligned_alloc(64, bytes);
  if (!p) ln_error("conv2d: out of memory (%zu bytes of scratch)", bytes);
  return p;
}

/* count blocks of each floats, each block 64-byte aligned at *stride. */
static float *scratch_each(int count, int64_t each, int64_t *stride) {
  *stride = round_up(each, 16);
  return scratch(count * *stride);
}

static int64_t *ints(int64_t n) {
  int64_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  if (!p) ln_error("conv2d: out of memory");
  return p;
}

static double macs_of(const ln_conv_job *j, const plane *p) {
  return (double)j->n * (double)j->co * (double)(j->oh * j->ow) *
         (double)p->ntap;
}

/* The output vectors of one plane: where they read and write. */
static void fill_positions(int64_t *base, int64_t *dst, int64_t *lanes,
                           const ln_conv_job *j, const plane *p) {
  for (int64_t i = 0, k = 0; i < j->oh; i++)
    for (int64_t jc = 0; jc < p->nvec; jc++, k++) {
      base[k] = i * p->wp + jc * V;
      if (dst) dst[k] = i * j->ow + jc * V;
      if (lanes) lanes[k] = j->ow - jc * V < V ? j->ow - jc * V : V;
    }
}

/* The weight packed as (ntap, ldo) and the bias as (ldo), zeros past co. */
static void pack_weight(float *wp, float *bp, int64_t ldo, const float *w,
                        const float *bias, const ln_conv_job *j) {
  for (int64_t ic = 0, k = 0; ic < j->ci; ic++)
    for (int64_t a = 0; a < j->kh; a++)
      for (int64_t b = 0; b < j->kw; b++, k++) {
        const float *wk = w + ic * j->ws[1] + a * j->ws[2] + b * j->ws[3];
        for (int64_t oc = 0; oc < ldo; oc++)
          wp[k * ldo + oc] = oc < j->co ? wk[oc * j->ws[0]] : 0.0f;
      }
  for (int64_t oc = 0; oc < ldo; oc++)
    bp[oc] = bias && oc < j->co ? bias[oc * j->bs] : 0.0f;
}

int ln_conv_simd_forward(float *y, const float *x, const float *w,
                         const float *bias, const ln_conv_job *j) {
  plane p = plane_of(j);
  int s = pick_shape(forward_shapes, j->co, p.npos);
  int64_t ldo = round_up(j->co, forward_shapes[s].ob), stride;
  int nt = threads_for(macs_of(j, &p), j->n);
  float *wp = scratch(p.ntap * ldo + ldo);
  int64_t *tap = wp ? ints(p.ntap + 3 * p.npos) : NULL;
  float *planes = tap ? scratch_each(nt, j->ci * p.hp * p.wp, &stride) : NULL;
  if (!planes) return free(wp), free(tap), LN_ERR;
  float *bp = wp + p.ntap * ldo;
  int64_t *base = tap + p.ntap, *dst = base + p.npos, *lanes = dst + p.npos;
  pack_weight(wp, bp, ldo, w, bias, j);
  tap_offsets(tap, p.ntap, j, &p);
  fill_positions(base, dst, lanes, j, &p);
  void (*run)(int, const forward_args *) =
    use_avx2() ? forward_avx2 : forward_base;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int t = omp_get_thread_num(), step = omp_get_num_threads();
    forward_args f = {.xp = planes + t * stride, .wp = wp, .bias = bp,
                      .tap = tap, .pos = {base, dst, lanes}, .co = j->co,
                      .ldo = ldo, .ntap = p.ntap, .npos = p.npos,
                      .plane_size = j->oh * j->ow};
    for (int64_t n = t; n < j->n; n += step) {
      pad_sample((float *)f.xp, x, j, &p, n);
      f.y = y + n * j->co * j->oh * j->ow;
      run(s, &f);
    }
  }
  free(planes);
  free(wp);
  free(tap);
  return LN_OK;
}

/* gp[o][p][:] = the output vector p of gy[n][o], zero past the row and
** past co. */
static void pad_gradient(float *gp, const float *gy, const int64_t *gs,
                         const ln_conv_job *j, const plane *p, int64_t ldo,
                         int64_t n) {
  memset(gp, 0, (size_t)(ldo * p->npos * V) * sizeof *gp);
  for (int64_t o = 0; o < j->co; o++)
    for (int64_t i = 0; i < j->oh; i++) {
      const float *src = gy + n * gs[0] + o * gs[1] + i * gs[2];
      float *row = gp + (o * p->npos + i * p->nvec) * V;
      for (int64_t c = 0; c < j->ow; c++) row[c] = src[c * gs[3]];
    }
}

int ln_conv_simd_weight(float *gw, const float *x, const float *gy,
                        const int64_t *gs, const ln_conv_job *j) {
  plane p = plane_of(j);
  int s = pick_shape(weight_shapes, j->co, p.ntap);
  int64_t ldo = round_up(j->co, weight_shapes[s].ob);
  int64_t ktp = round_up(p.ntap, weight_shapes[s].jb);
  /* each thread's block: padded planes, gradient vectors, partial sums */
  int64_t xsize = round_up(j->ci * p.hp * p.wp, 16);
  int64_t gsize = ldo * p.npos * V, stride;
  int nt = threads_for(macs_of(j, &p), j->n);
  int64_t *tap = ints(ktp + p.npos);
  float *work = tap ? scratch_each(nt, xsize + gsize + ldo * ktp * V, &stride)
                    : NULL;
  if (!work) return free(tap), LN_ERR;
  int64_t *base = tap + ktp;
  tap_offsets(tap, ktp, j, &p);
  fill_positions(base, NULL, NULL, j, &p);
  vi mask[(j->ow + V - 1) / V]; /* lanes inside the row: -1, else 0 */
  for (int64_t jc = 0; jc < p.nvec; jc++)
    for (int l = 0; l < V; l++) mask[jc][l] = jc * V + l < j->ow ? -1 : 0;
  void (*run)(int, const weight_args *) =
    use_avx2() ? weight_avx2 : weight_base;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int t = omp_get_thread_num(), step = omp_get_num_threads();
    float *xp = work + t * stride, *gp = xp + xsize, *acc = gp + gsize;
    memset(acc, 0, (size_t)(ldo * ktp * V) * sizeof *acc);
    weight_args w = {.acc = acc, .xp = xp, .gp = gp, .tap = tap, .base = base,
                     .mask = mask, .ldo = ldo, .ktp = ktp, .oh = j->oh,
                     .nvec = p.nvec};
    for (int64_t n = t; n < j->n; n += step) {
      pad_sample(xp, x, j, &p, n);
      pad_gradient(gp, gy, gs, j, &p, ldo, n);
      run(s, &w);
    }
  }
  /* the threads' partial sums, then the lanes */
  for (int64_t o = 0; o < j->co; o++)
    for (int64_t k = 0; k < p.ntap; k++) {
      float sum = 0;
      for (int t = 0; t < nt; t++) {
        const float *a = work + t * stride + xsize + gsize + (o * ktp + k) * V;
        for (int l = 0; l < V; l++) sum += a[l];
      }
      gw[o * p.ntap + k] = sum;
    }
  free(work);
  free(tap);
  return LN_OK;
}
