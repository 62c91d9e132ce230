/*
** conv_simd.c: the float32 CPU kernels of stride-1 convolution
** (core/op_conv_direct.c), with no columns: every output is summed in
** registers.
**
** Each sample's image is first copied into padded planes: zeros around
** it, rows as wide as the output vectors need. Then every tap (c, a, b)
** of the kernel is one offset into the planes, the same for every output
** pixel. Two layouts of the vectors (V floats) share that:
**   - pixels in lanes: a vector holds V pixels of an output row, one
**     contiguous load per tap. Best for few channels and wide rows
**     (LeNet's first layer: 6 channels, rows of 28).
**   - channels in lanes: a vector holds V output channels of one pixel,
**     multiplied by that pixel's input, broadcast. No lane is wasted on
**     narrow rows (LeNet's second layer: 16 channels, rows of 10).
** The forward keeps a tile of outputs in registers across all taps; the
** weight gradient keeps a tile of (channel, tap) sums across all pixels.
** Each driver picks the layout and tile that do the fewest multiply-adds.
** Tiles that overhang pad the channels with zero weights and repeat the
** last pixels; nothing computed past the edges is stored.
**
** GCC's vector extensions, compiled twice: for AVX2 with FMA and for the
** baseline, picked at run time as the other CPU kernels are (cpu_isa.c,
** LUANN_CPU_ISA); the build never targets the machine it is built on. On AVX-512 parts of
** the AMD kind 256-bit vectors run as fast as 512-bit ones. The sums use
** FMA where the CPU has it, as BLIS does: these kernels are reductions, so
** their rounding depends on the build anyway.
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

enum { MAXA = 6, MAXB = 12 };          /* the largest tile: MAXA x MAXB */

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* ---- the padded planes of one sample ------------------------------------ */

typedef struct plane {
  int64_t hp, wp;      /* padded rows and width */
  int64_t nvec, npos;  /* vectors per output row; vectors per plane */
  int64_t pixels;      /* oh * ow */
  int64_t ntap;        /* ci * kh * kw */
} plane;

static plane plane_of(const ln_conv_job *j) {
  plane p;
  p.nvec = (j->ow + V - 1) / V;
  p.npos = j->oh * p.nvec;
  p.pixels = j->oh * j->ow;
  p.hp = j->oh + j->dh * (j->kh - 1);
  p.wp = p.nvec * V + j->dw * (j->kw - 1);
  p.ntap = j->ci * j->kh * j->kw;
  return p;
}

/* dst[0..n) = src[0..n) by vectors, the last one overlapping the one
** before: rows here are a few dozen floats, where a call to memcpy (which
** GCC makes of a plain loop) costs more than the copy. The barrier keeps
** the short loop a loop. */
static void copy_row(float *restrict dst, const float *restrict src,
                     int64_t n) {
  if (n < V) {
    for (int64_t i = 0; i < n; i++) {
      dst[i] = src[i];
      __asm__ volatile("" ::: "memory");
    }
    return;
  }
  for (int64_t i = 0; i + V <= n; i += V) *(vfu *)(dst + i) = LOADU(src + i);
  *(vfu *)(dst + n - V) = LOADU(src + n - V);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* xp[c][r][q] = x[n][c][r - ph][q - pw] inside the image. What lies
** outside it stays as it is: zero, set once per buffer (clear_planes). */
static void pad_sample(float *xp, const float *x, const ln_conv_job *j,
                       const plane *p, int64_t n) {
  int64_t q0 = clamp64(j->pw, 0, p->wp), q1 = clamp64(j->pw + j->w, 0, p->wp);
  int64_t r0 = clamp64(j->ph, 0, p->hp), r1 = clamp64(j->ph + j->h, 0, p->hp);
  for (int64_t c = 0; c < j->ci; c++)
    for (int64_t r = r0; r < r1 && q0 < q1; r++) {
      float *dst = xp + (c * p->hp + r) * p->wp + q0;
      const float *src = x + n * j->xs[0] + c * j->xs[1] + (r - j->ph) * j->xs[2] +
                         (q0 - j->pw) * j->xs[3];
      if (j->xs[3] == 1) {
        copy_row(dst, src, q1 - q0);
      } else {
        for (int64_t q = 0; q < q1 - q0; q++) dst[q] = src[q * j->xs[3]];
      }
    }
}

static void clear_planes(float *xp, const ln_conv_job *j, const plane *p) {
  memset(xp, 0, (size_t)(j->ci * p->hp * p->wp) * sizeof *xp);
}

/* tap[k], k = (c*kh + a)*kw + b: where tap k reads, relative to an output
** pixel's first input; taps past ntap (a tile's overhang) read 0. */
static void tap_offsets(int64_t *tap, int64_t count, const ln_conv_job *j,
                        const plane *p) {
  int64_t k = 0;
  for (int64_t c = 0; c < j->ci; c++)
    for (int64_t a = 0; a < j->kh; a++)
      for (int64_t b = 0; b < j->kw; b++)
        tap[k++] = (c * p->hp + a * j->dh) * p->wp + b * j->dw;
  for (; k < count; k++) tap[k] = 0;
}

/* Where each vector of V pixels (pixels in lanes) or each pixel (channels
** in lanes) starts in the padded plane, and for vectors the output pixel
** it starts at and how many of its lanes lie inside the row. */
static void fill_positions(int64_t *base, int64_t *dst, int64_t *lanes,
                           const ln_conv_job *j, const plane *p, bool per_pixel) {
  for (int64_t i = 0, k = 0; i < j->oh; i++) {
    if (per_pixel) {
      for (int64_t c = 0; c < j->ow; c++) base[k++] = i * p->wp + c;
      continue;
    }
    for (int64_t jc = 0; jc < p->nvec; jc++, k++) {
      base[k] = i * p->wp + jc * V;
      if (dst) dst[k] = i * j->ow + jc * V;
      if (lanes) lanes[k] = j->ow - jc * V < V ? j->ow - jc * V : V;
    }
  }
}

/* ---- forward ---------------------------------------------------------------
** wp is the weight packed (ntap, ldo): row k holds tap k's weight for every
** output channel, zeros past co; bias (ldo) likewise. */

typedef struct forward_args {
  float *y;              /* sample n's output (co, oh, ow) */
  const float *xp;       /* its padded planes */
  const float *wp, *bias;
  const int64_t *tap;
  const int64_t *base;   /* per vector (pixels in lanes) or per pixel */
  const int64_t *dst, *lanes;  /* per vector (pixels in lanes) */
  int64_t co, ldo, ntap, count, plane_size;  /* count: vectors or pixels */
  /* The kernel rows a of output row i that read inside the image, from
  ** alo[i] to ahi[i] (the others read padding: their taps are skipped);
  ** per_row vectors or pixels make an output row. */
  const int64_t *alo, *ahi;
  int64_t ci, kh, kw, per_row;
} forward_args;

/* The taps a tile from position p0 to p1 (inclusive) reads inside the
** image, as runs of consecutive taps (the kernel rows lo to lo + na - 1 of
** each input channel, kw taps each), or one run of all the taps when no
** kernel row reads only padding: run r has len taps from taps_from(). */
typedef struct tap_runs {
  int64_t runs, len, lo, na;
} tap_runs;

static inline tap_runs tile_runs(const forward_args *f, int64_t p0,
                                 int64_t p1) {
  if (p1 >= f->count) p1 = f->count - 1;
  tap_runs t = {.lo = f->alo[p1 / f->per_row]};
  t.na = f->ahi[p0 / f->per_row] - t.lo + 1;
  if (t.na < 0) t.na = 0;
  if (t.lo == 0 && t.na == f->kh) t.runs = 1, t.len = f->ntap, t.na = 0;
  else t.runs = f->ci * t.na, t.len = f->kw;
  return t;
}

static inline int64_t taps_from(const forward_args *f, const tap_runs *t,
                                int64_t r) {
  if (t->na == 0) return 0; /* the one run of all taps */
  return ((r / t->na) * f->kh + t->lo + r % t->na) * f->kw;
}

/* Pixels in lanes: OB channels x JB vectors, from base[p0..p0+JB). The
** vectors past count repeat the last and are not stored. */
static inline __attribute__((always_inline)) void
forward_pixels_tile(const int OB, const int JB, const forward_args *f,
                    int64_t o0, int64_t p0) {
  const float *xb[MAXB];
  for (int jb = 0; jb < JB; jb++)
    xb[jb] = f->xp + f->base[p0 + jb < f->count ? p0 + jb : f->count - 1];
  vf acc[MAXA][MAXB];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 12
    for (int jb = 0; jb < JB; jb++) acc[ob][jb] = (vf){0} + f->bias[o0 + ob];
  tap_runs t = tile_runs(f, p0, p0 + JB - 1);
  for (int64_t r = 0; r < t.runs; r++) {
    int64_t k0 = taps_from(f, &t, r);
    const float *wk = f->wp + o0 + k0 * f->ldo;
    for (int64_t k = k0; k < k0 + t.len; k++, wk += f->ldo) {
      int64_t off = f->tap[k];
      vf xv[MAXB];
#pragma GCC unroll 12
      for (int jb = 0; jb < JB; jb++) xv[jb] = LOADU(xb[jb] + off);
#pragma GCC unroll 8
      for (int ob = 0; ob < OB; ob++) {
        float w = wk[ob];
#pragma GCC unroll 12
        for (int jb = 0; jb < JB; jb++) acc[ob][jb] += xv[jb] * w;
      }
    }
  }
  for (int ob = 0; ob < OB && o0 + ob < f->co; ob++)
    for (int jb = 0; jb < JB && p0 + jb < f->count; jb++) {
      float *d = f->y + (o0 + ob) * f->plane_size + f->dst[p0 + jb];
      int64_t lanes = f->lanes[p0 + jb];
      if (lanes == V) {
        *(vfu *)d = acc[ob][jb];
      } else {
        for (int64_t l = 0; l < lanes; l++) d[l] = acc[ob][jb][l];
      }
    }
}

/* Channels in lanes: OV vectors of V channels x PB pixels. */
static inline __attribute__((always_inline)) void
forward_channels_tile(const int OV, const int PB, const forward_args *f,
                      int64_t o0, int64_t p0) {
  const float *xb[MAXB];
  for (int pb = 0; pb < PB; pb++)
    xb[pb] = f->xp + f->base[p0 + pb < f->count ? p0 + pb : f->count - 1];
  vf acc[MAXA][MAXB];
#pragma GCC unroll 8
  for (int ov = 0; ov < OV; ov++) {
    vf b = LOADA(f->bias + o0 + ov * V);
#pragma GCC unroll 12
    for (int pb = 0; pb < PB; pb++) acc[ov][pb] = b;
  }
  tap_runs t = tile_runs(f, p0, p0 + PB - 1);
  for (int64_t r = 0; r < t.runs; r++) {
    int64_t k0 = taps_from(f, &t, r);
    const float *wk = f->wp + o0 + k0 * f->ldo;
    for (int64_t k = k0; k < k0 + t.len; k++, wk += f->ldo) {
      int64_t off = f->tap[k];
      vf wv[MAXA];
#pragma GCC unroll 8
      for (int ov = 0; ov < OV; ov++) wv[ov] = LOADA(wk + ov * V);
#pragma GCC unroll 12
      for (int pb = 0; pb < PB; pb++) {
        float x = xb[pb][off];
#pragma GCC unroll 8
        for (int ov = 0; ov < OV; ov++) acc[ov][pb] += wv[ov] * x;
      }
    }
  }
  for (int ov = 0; ov < OV; ov++)
    for (int l = 0; l < V && o0 + ov * V + l < f->co; l++) {
      float *d = f->y + (o0 + ov * V + l) * f->plane_size + p0;
      for (int pb = 0; pb < PB && p0 + pb < f->count; pb++) d[pb] = acc[ov][pb][l];
    }
}

/* One sample in tiles of a x b: (OB, JB) or (OV, PB). */
static inline __attribute__((always_inline)) void
forward_sample_as(bool channels, const int A, const int B,
                  const forward_args *f) {
  int64_t oa = channels ? A * V : A;
  for (int64_t o0 = 0; o0 < f->co; o0 += oa)
    for (int64_t p0 = 0; p0 < f->count; p0 += B) {
      if (channels) forward_channels_tile(A, B, f, o0, p0);
      else forward_pixels_tile(A, B, f, o0, p0);
    }
}

/* ---- weight gradient -------------------------------------------------------
** gw[o][k] = sum over pixels of gy[o][pixel] * xp[pixel + tap[k]], summed
** into acc: (ldo, ktp, V) partial vectors (pixels in lanes) or (ktp, ldo)
** sums (channels in lanes). */

typedef struct weight_args {
  float *acc;
  const float *xp;       /* sample n's padded planes */
  const float *gp;       /* its gradient: (ldo, npos, V), zero past the row
                            and past co; or (pixels, ldo), zero past co */
  const int64_t *tap;    /* (ktp) */
  const int64_t *base;   /* per vector or per pixel */
  const vi *mask;        /* (nvec): lanes inside the row (pixels in lanes) */
  int64_t ldo, ktp, oh, nvec, pixels;
} weight_args;

/* Pixels in lanes: OB channels x TB taps. x is masked to the lanes inside
** the row: there gy is zero, but x may hold a NaN the sum must not see. */
static inline __attribute__((always_inline)) void
weight_pixels_tile(const int OB, const int TB, const weight_args *w,
                   int64_t o0, int64_t k0) {
  const float *restrict gp = w->gp + o0 * w->oh * w->nvec * V;
  const int64_t *restrict tap = w->tap + k0;
  int64_t npos = w->oh * w->nvec;
  vf acc[MAXA][MAXB];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 12
    for (int t = 0; t < TB; t++) acc[ob][t] = (vf){0};
  for (int64_t i = 0, p = 0; i < w->oh; i++) {
    for (int64_t jc = 0; jc < w->nvec; jc++, p++) {
      vi m = w->mask[jc];
      const float *xb = w->xp + w->base[p];
      vf gv[MAXA];
#pragma GCC unroll 8
      for (int ob = 0; ob < OB; ob++) gv[ob] = LOADA(gp + (ob * npos + p) * V);
#pragma GCC unroll 12
      for (int t = 0; t < TB; t++) {
        vf xv = (vf)((vi)LOADU(xb + tap[t]) & m);
#pragma GCC unroll 8
        for (int ob = 0; ob < OB; ob++) acc[ob][t] += gv[ob] * xv;
      }
    }
  }
  for (int ob = 0; ob < OB; ob++)
    for (int t = 0; t < TB; t++) {
      vf *a = (vf *)(w->acc + ((o0 + ob) * w->ktp + k0 + t) * V);
      *a += acc[ob][t];
    }
}

/* Channels in lanes: OV vectors of V channels x TB taps. */
static inline __attribute__((always_inline)) void
weight_channels_tile(const int OV, const int TB, const weight_args *w,
                     int64_t o0, int64_t k0) {
  const float *restrict gp = w->gp + o0;
  const int64_t *restrict tap = w->tap + k0;
  vf acc[MAXA][MAXB];
#pragma GCC unroll 8
  for (int ov = 0; ov < OV; ov++)
#pragma GCC unroll 12
    for (int t = 0; t < TB; t++) acc[ov][t] = (vf){0};
  for (int64_t p = 0; p < w->pixels; p++) {
    const float *xb = w->xp + w->base[p];
    vf gv[MAXA];
#pragma GCC unroll 8
    for (int ov = 0; ov < OV; ov++) gv[ov] = LOADA(gp + p * w->ldo + ov * V);
#pragma GCC unroll 12
    for (int t = 0; t < TB; t++) {
      float x = xb[tap[t]];
#pragma GCC unroll 8
      for (int ov = 0; ov < OV; ov++) acc[ov][t] += gv[ov] * x;
    }
  }
  for (int ov = 0; ov < OV; ov++)
    for (int t = 0; t < TB; t++) {
      vf *a = (vf *)(w->acc + (k0 + t) * w->ldo + o0 + ov * V);
      *a += acc[ov][t];
    }
}

static inline __attribute__((always_inline)) void
weight_sample_as(bool channels, const int A, const int B, const weight_args *w) {
  int64_t oa = channels ? A * V : A;
  for (int64_t o0 = 0; o0 < w->ldo; o0 += oa)
    for (int64_t k0 = 0; k0 < w->ktp; k0 += B) {
      if (channels) weight_channels_tile(A, B, w, o0, k0);
      else weight_pixels_tile(A, B, w, o0, k0);
    }
}

/* ---- the tiles and the two builds ----------------------------------------
** Each tile fits 16 vector registers: a x b sums, a or b operands, one
** broadcast (and a mask). */

typedef struct tile {
  bool channels;  /* channels in lanes */
  int a, b;       /* (OB, JB), (OV, PB), (OB, TB) or (OV, TB) */
} tile;

static const tile forward_tiles[] = {
  {false, 4, 3}, {false, 6, 2}, {false, 3, 3}, {false, 2, 4}, {false, 1, 4},
  {true, 2, 6}, {true, 1, 12}, {true, 3, 4},
};
static const tile weight_tiles[] = {
  {false, 4, 2}, {false, 3, 3}, {false, 2, 5}, {false, 2, 4}, {false, 1, 8},
  {true, 2, 6}, {true, 1, 12}, {true, 3, 4},
};
#define NTILES 8

/* Every entry of the tables above, as constants (so each unrolls). */
#define FORWARD_CASES(f)                                                   \
  switch (t) {                                                             \
    case 0: forward_sample_as(false, 4, 3, f); break;                      \
    case 1: forward_sample_as(false, 6, 2, f); break;                      \
    case 2: forward_sample_as(false, 3, 3, f); break;                      \
    case 3: forward_sample_as(false, 2, 4, f); break;                      \
    case 4: forward_sample_as(false, 1, 4, f); break;                      \
    case 5: forward_sample_as(true, 2, 6, f); break;                       \
    case 6: forward_sample_as(true, 1, 12, f); break;                      \
    default: forward_sample_as(true, 3, 4, f); break;                      \
  }
#define WEIGHT_CASES(w)                                                    \
  switch (t) {                                                             \
    case 0: weight_sample_as(false, 4, 2, w); break;                       \
    case 1: weight_sample_as(false, 3, 3, w); break;                       \
    case 2: weight_sample_as(false, 2, 5, w); break;                       \
    case 3: weight_sample_as(false, 2, 4, w); break;                       \
    case 4: weight_sample_as(false, 1, 8, w); break;                       \
    case 5: weight_sample_as(true, 2, 6, w); break;                        \
    case 6: weight_sample_as(true, 1, 12, w); break;                       \
    default: weight_sample_as(true, 3, 4, w); break;                       \
  }

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void
forward_avx2(int t, const forward_args *f) { FORWARD_CASES(f) }
__attribute__((target("avx2,fma"))) static void
weight_avx2(int t, const weight_args *w) { WEIGHT_CASES(w) }
#define HAVE_AVX2_BUILD 1
#else
#define HAVE_AVX2_BUILD 0
#define forward_avx2 forward_base
#define weight_avx2 weight_base
#endif
static void forward_base(int t, const forward_args *f) { FORWARD_CASES(f) }
static void weight_base(int t, const weight_args *w) { WEIGHT_CASES(w) }

/* The AVX2 build where the CPU kernels run theirs (core/cpu_isa.c: the CPU
** has AVX2 and FMA, and LUANN_CPU_ISA does not ask for generic). */
static bool use_avx2(void) {
  return HAVE_AVX2_BUILD && strcmp(ln_cpu_isa(), "generic") != 0;
}

/* ---- choosing a tile ------------------------------------------------------ */

/* The tile of tiles[] with the fewest vector multiply-adds, overhangs
** counted, and the loads each costs. A tile spans co channels by `side`
** (vectors or taps with pixels in lanes, pixels or taps with channels in
** lanes) and repeats `len` times (taps, or vectors or pixels): side[c] and
** len[c] for c = channels in lanes. only_channels leaves out the tiles
** with pixels in lanes. */
static int pick_tile(const tile *tiles, int64_t co, const int64_t side[2],
                     const int64_t len[2], bool only_channels) {
  int best = -1;
  double best_cost = 0;
  for (int s = 0; s < NTILES; s++) {
    const tile *t = &tiles[s];
    int c = t->channels;
    if (only_channels && !c) continue;
    int64_t oa = c ? t->a * V : t->a;
    double fmas = (double)(round_up(co, oa) / oa * t->a) *
                  (double)round_up(side[c], t->b) * (double)len[c];
    double cost = fmas * (1 + 0.5 * (t->a + t->b) / (double)(t->a * t->b));
    if (best < 0 || cost < best_cost) best = s, best_cost = cost;
  }
  return best;
}

/* Threads for m multiply-adds over n samples: each should get 2^21 or more
** (about 100 us of one core; a parallel region costs more on less), and
** no more than the others' load leaves us (core/cpu_load.c). */
static int threads_for(double m, int64_t n) {
  double most = m / (double)(1 << 21);
  if (most < 2 || n < 2) return 1;
  int t = ln_cpu_threads_now();
  if (most < t) t = (int)most;
  return t > n ? (int)n : t;
}

static double macs_of(const ln_conv_job *j, const plane *p) {
  return (double)j->n * (double)j->co * (double)p->pixels * (double)p->ntap;
}

/* n floats, 64-byte aligned, or NULL after an error. */
static float *scratch(int64_t n) {
  size_t bytes = (size_t)round_up(n > 0 ? n : 1, 16) * sizeof(float);
  float *p = aligned_alloc(64, bytes);
  if (!p) ln_error("conv2d: out of memory (%zu bytes of scratch)", bytes);
  return p;
}

/* count blocks of each floats, each 64-byte aligned, *stride apart. */
static float *scratch_each(int count, int64_t each, int64_t *stride) {
  *stride = round_up(each, 16);
  return scratch(count * *stride);
}

static int64_t *ints(int64_t n) {
  int64_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  if (!p) ln_error("conv2d: out of memory");
  return p;
}

/* ---- the forward ------------------------------------------------------------ */

/* For each output row i, the kernel rows alo[i]..ahi[i] that read inside
** the image (none: alo > ahi). */
static void kernel_rows(int64_t *alo, int64_t *ahi, const ln_conv_job *j) {
  for (int64_t i = 0; i < j->oh; i++) {
    int64_t lo = 0, hi = j->kh - 1;
    while (lo <= hi && i + lo * j->dh - j->ph < 0) lo++;
    while (hi >= lo && i + hi * j->dh - j->ph >= j->h) hi--;
    alo[i] = lo, ahi[i] = hi;
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
  int t = pick_tile(forward_tiles, j->co, (int64_t[]){p.npos, p.pixels},
                    (int64_t[]){p.ntap, p.ntap}, false);
  bool channels = forward_tiles[t].channels;
  int64_t ldo = round_up(j->co, forward_tiles[t].a * (channels ? V : 1));
  int64_t count = channels ? p.pixels : p.npos, stride;
  int nt = threads_for(macs_of(j, &p), j->n);
  float *wp = scratch(p.ntap * ldo + ldo);
  int64_t *tap = wp ? ints(p.ntap + 3 * count + 2 * j->oh) : NULL;
  float *planes = tap ? scratch_each(nt, j->ci * p.hp * p.wp, &stride) : NULL;
  if (!planes) return free(wp), free(tap), LN_ERR;
  float *bp = wp + p.ntap * ldo;
  int64_t *base = tap + p.ntap, *dst = base + count, *lanes = dst + count;
  int64_t *alo = lanes + count, *ahi = alo + j->oh;
  kernel_rows(alo, ahi, j);
  pack_weight(wp, bp, ldo, w, bias, j);
  tap_offsets(tap, p.ntap, j, &p);
  fill_positions(base, dst, lanes, j, &p, channels);
  void (*run)(int, const forward_args *) =
    use_avx2() ? forward_avx2 : forward_base;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int th = omp_get_thread_num(), step = omp_get_num_threads();
    float *xp = planes + th * stride;
    forward_args f = {.xp = xp, .wp = wp, .bias = bp, .tap = tap,
                      .base = base, .dst = dst, .lanes = lanes, .co = j->co,
                      .ldo = ldo, .ntap = p.ntap, .count = count,
                      .plane_size = p.pixels, .alo = alo, .ahi = ahi,
                      .ci = j->ci, .kh = j->kh, .kw = j->kw,
                      .per_row = channels ? j->ow : p.nvec};
    clear_planes(xp, j, &p);
    for (int64_t n = th; n < j->n; n += step) {
      pad_sample(xp, x, j, &p, n);
      f.y = y + n * j->co * p.pixels;
      run(t, &f);
    }
  }
  free(planes);
  free(wp);
  free(tap);
  return LN_OK;
}

/* ---- the weight gradient ------------------------------------------------------ */

/* gy[n] as the tile reads it: (ldo, npos, V) with zeros past each row
** (pixels in lanes), or (pixels, ldo) (channels in lanes); zeros past co,
** set once per buffer. */
static void pad_gradient(float *gp, const float *gy, const int64_t *gs,
                         const ln_conv_job *j, const plane *p, int64_t ldo,
                         int64_t n, bool channels) {
  for (int64_t o = 0; o < j->co; o++)
    for (int64_t i = 0; i < j->oh; i++) {
      const float *src = gy + n * gs[0] + o * gs[1] + i * gs[2];
      if (channels) {
        float *col = gp + i * j->ow * ldo + o;
        for (int64_t c = 0; c < j->ow; c++) col[c * ldo] = src[c * gs[3]];
      } else if (gs[3] == 1) {
        copy_row(gp + (o * p->npos + i * p->nvec) * V, src, j->ow);
      } else {
        float *row = gp + (o * p->npos + i * p->nvec) * V;
        for (int64_t c = 0; c < j->ow; c++) row[c] = src[c * gs[3]];
      }
    }
}

int ln_conv_simd_weight(float *gw, const float *x, const float *gy,
                        const int64_t *gs, const ln_conv_job *j) {
  plane p = plane_of(j);
  /* with pixels in lanes each thread sums V lanes per (channel, tap):
  ** past 2^23 floats (a wide layer), channels in lanes, which sum one */
  const int64_t side[2] = {p.ntap, p.ntap}, len[2] = {p.npos, p.pixels};
  int t = pick_tile(weight_tiles, j->co, side, len, false);
  if (!weight_tiles[t].channels &&
      round_up(j->co, weight_tiles[t].a) * p.ntap * V > (INT64_C(1) << 23))
    t = pick_tile(weight_tiles, j->co, side, len, true);
  bool channels = weight_tiles[t].channels;
  int64_t ldo = round_up(j->co, weight_tiles[t].a * (channels ? V : 1));
  int64_t ktp = round_up(p.ntap, weight_tiles[t].b);
  /* each thread's block: padded planes, gradient, partial sums */
  int64_t xsize = round_up(j->ci * p.hp * p.wp, 16);
  int64_t gsize = round_up(channels ? p.pixels * ldo : ldo * p.npos * V, 16);
  int64_t asize = channels ? ktp * ldo : ldo * ktp * V, stride;
  int nt = threads_for(macs_of(j, &p), j->n);
  int64_t count = channels ? p.pixels : p.npos;
  int64_t *tap = ints(ktp + count);
  float *work = tap ? scratch_each(nt, xsize + gsize + asize, &stride) : NULL;
  if (!work) return free(tap), LN_ERR;
  int64_t *base = tap + ktp;
  tap_offsets(tap, ktp, j, &p);
  fill_positions(base, NULL, NULL, j, &p, channels);
  vi mask[(j->ow + V - 1) / V]; /* lanes inside the row: -1, else 0 */
  for (int64_t jc = 0; jc < p.nvec; jc++)
    for (int l = 0; l < V; l++) mask[jc][l] = jc * V + l < j->ow ? -1 : 0;
  void (*run)(int, const weight_args *) =
    use_avx2() ? weight_avx2 : weight_base;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int th = omp_get_thread_num(), step = omp_get_num_threads();
    float *xp = work + th * stride, *gp = xp + xsize, *acc = gp + gsize;
    memset(xp, 0, (size_t)(xsize + gsize + asize) * sizeof *xp);
    weight_args w = {.acc = acc, .xp = xp, .gp = gp, .tap = tap, .base = base,
                     .mask = mask, .ldo = ldo, .ktp = ktp, .oh = j->oh,
                     .nvec = p.nvec, .pixels = p.pixels};
    for (int64_t n = th; n < j->n; n += step) {
      pad_sample(xp, x, j, &p, n);
      pad_gradient(gp, gy, gs, j, &p, ldo, n, channels);
      run(t, &w);
    }
  }
  /* the threads' partial sums (and, pixels in lanes, the lanes) */
  for (int64_t o = 0; o < j->co; o++)
    for (int64_t k = 0; k < p.ntap; k++) {
      float sum = 0;
      for (int th = 0; th < nt; th++) {
        const float *a = work + th * stride + xsize + gsize;
        if (channels) {
          sum += a[k * ldo + o];
        } else {
          for (int l = 0; l < V; l++) sum += a[(o * ktp + k) * V + l];
        }
      }
      gw[o * p.ntap + k] = sum;
    }
  free(work);
  free(tap);
  return LN_OK;
}
