/*
** random.c: a counter-based generator (SplitMix64 over seed and counter),
** so a seed gives the same numbers on every machine and every backend:
** values are always drawn on the host, in element order, then uploaded.
*/
#include <math.h>
#include <stdlib.h>

#include "backend.h"
#include "shape.h"

static ln_generator default_generator = {0x2545F4914F6CDD1DULL, 0};

ln_generator *ln_default_generator(void) { return &default_generator; }

void ln_generator_init(ln_generator *g, uint64_t seed) {
  g->seed = seed;
  g->counter = 0;
}

void ln_manual_seed(uint64_t seed) { ln_generator_init(&default_generator, seed); }

uint64_t ln_generator_next(ln_generator *g) {
  uint64_t z = g->seed + (++g->counter) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double ln_generator_uniform(ln_generator *g) {
  return (double)(ln_generator_next(g) >> 11) * 0x1.0p-53;
}

/* Box-Muller; one normal per two uniforms keeps the stream position simple. */
double ln_generator_normal(ln_generator *g) {
  double u1 = ln_generator_uniform(g), u2 = ln_generator_uniform(g);
  return sqrt(-2.0 * log1p(-u1)) * cos(2.0 * M_PI * u2);
}

typedef double (*draw_fn)(ln_generator *g, const double *p);

/* A float64 host tensor of draws, then converted and moved to t. */
static int fill_from(ln_generator *g, ln_tensor *t, draw_fn draw,
                     const double *p) {
  ln_tensor *h = ln_empty(t->ndim, t->shape, LN_FLOAT64, ln_device_cpu());
  if (!h) return LN_ERR;
  double *d = ln_tensor_data(h);
  int64_t n = ln_tensor_numel(h);
  for (int64_t i = 0; i < n; i++) d[i] = draw(g, p);
  bool was = ln_set_grad_enabled(false);
  int rc = ln_copy_(t, h);
  ln_set_grad_enabled(was);
  ln_tensor_release(h);
  return rc;
}

static double draw_uniform(ln_generator *g, const double *p) {
  return p[0] + (p[1] - p[0]) * ln_generator_uniform(g);
}

static double draw_normal(ln_generator *g, const double *p) {
  return p[0] + p[1] * ln_generator_normal(g);
}

static double draw_bernoulli(ln_generator *g, const double *p) {
  return ln_generator_uniform(g) < p[0] ? 1.0 : 0.0;
}

/* An integer in [low, low + range): multiply-shift keeps the bias below
** 2^-64. Unsigned arithmetic, so any int64 range is exact (high - low may
** not fit in an int64, and doubles lose integers past 2^53). */
static int64_t draw_int(ln_generator *g, int64_t low, uint64_t range) {
  unsigned __int128 m = (unsigned __int128)ln_generator_next(g) * range;
  return (int64_t)((uint64_t)low + (uint64_t)(m >> 64));
}

int ln_uniform_(ln_generator *g, ln_tensor *t, double lo, double hi) {
  return fill_from(g, t, draw_uniform, (double[]){lo, hi});
}

int ln_normal_(ln_generator *g, ln_tensor *t, double mean, double std) {
  if (std < 0) return ln_error("normal: std must be >= 0, got %g", std);
  return fill_from(g, t, draw_normal, (double[]){mean, std});
}

int ln_bernoulli_(ln_generator *g, ln_tensor *t, double p) {
  if (!(p >= 0 && p <= 1)) return ln_error("bernoulli: p must be in [0, 1], got %g", p);
  return fill_from(g, t, draw_bernoulli, (double[]){p});
}

static ln_tensor *drawn(ln_generator *g, int ndim, const int64_t *shape,
                        ln_dtype dt, ln_device dev, draw_fn draw,
                        const double *p) {
  ln_tensor *t = ln_empty(ndim, shape, dt, dev);
  if (t && fill_from(g, t, draw, p) != LN_OK) {
    ln_tensor_release(t);
    return NULL;
  }
  return t;
}

ln_tensor *ln_rand(ln_generator *g, int ndim, const int64_t *shape,
                   ln_dtype dt, ln_device dev) {
  if (!ln_dtype_is_float(dt))
    return ln_error("rand: expected a float dtype, got %s", ln_dtype_name(dt)), NULL;
  return drawn(g, ndim, shape, dt, dev, draw_uniform, (double[]){0, 1});
}

ln_tensor *ln_randn(ln_generator *g, int ndim, const int64_t *shape,
                    ln_dtype dt, ln_device dev) {
  if (!ln_dtype_is_float(dt))
    return ln_error("randn: expected a float dtype, got %s", ln_dtype_name(dt)), NULL;
  return drawn(g, ndim, shape, dt, dev, draw_normal, (double[]){0, 1});
}

ln_tensor *ln_randint(ln_generator *g, int64_t low, int64_t high, int ndim,
                      const int64_t *shape, ln_dtype dt, ln_device dev) {
  if (high <= low)
    return ln_error("randint: high (%lld) must be greater than low (%lld)",
                    (long long)high, (long long)low),
           NULL;
  int64_t top = dt == LN_UINT8 ? 256 : dt == LN_BOOL ? 2 : INT64_MAX;
  if ((dt == LN_UINT8 || dt == LN_BOOL) && (low < 0 || high > top))
    return ln_error("randint: the range [%lld, %lld) does not fit in %s",
                    (long long)low, (long long)high, ln_dtype_name(dt)),
           NULL;
  ln_tensor *h = ln_empty(ndim, shape, LN_INT64, ln_device_cpu());
  if (!h) return NULL;
  int64_t *d = ln_tensor_data(h), n = ln_tensor_numel(h);
  uint64_t range = (uint64_t)high - (uint64_t)low;
  for (int64_t i = 0; i < n; i++) d[i] = draw_int(g, low, range);
  ln_tensor *r = ln_to(h, dt, dev);
  ln_tensor_release(h);
  return r;
}

ln_tensor *ln_randperm(ln_generator *g, int64_t n, ln_dtype dt, ln_device dev) {
  if (n < 0) return ln_error("randperm: n must be >= 0, got %lld", (long long)n), NULL;
  ln_tensor *h = ln_empty(1, &n, LN_INT64, ln_device_cpu());
  if (!h) return NULL;
  int64_t *d = ln_tensor_data(h);
  for (int64_t i = 0; i < n; i++) d[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t j = draw_int(g, 0, (uint64_t)i + 1);
    int64_t tmp = d[i];
    d[i] = d[j];
    d[j] = tmp;
  }
  ln_tensor *r = ln_to(h, dt, dev);
  ln_tensor_release(h);
  return r;
}
