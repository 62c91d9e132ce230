/*
** cpu_optim.c: fused optimizer updates for the CPU backend.
**
** Each step reads and writes every element once, where PyTorch's
** single-tensor path makes a pass per tensor op. The arithmetic follows
** torch.optim's formulas in their order, in the tensor's own precision
** (float32 math for float32 tensors, as ATen's kernels do), with the
** scalar factors computed in double first as Python does. The front end
** (op_optim.c) has checked that every tensor is contiguous, of the param's
** dtype and shape; large tensors are split over threads.
**
** The loops themselves are plain: their branches test values fixed for the
** whole step (momentum, weight decay, ...), which -O3 hoists out so that
** each variant vectorizes. OPTIM_SPLIT cuts a large step into one piece
** per thread; a small one runs with no OpenMP region at all.
*/
#include <math.h>
#include <omp.h>

#include "cpu.h"

/* Splits from this many elements, far below the elementwise ops' limit: a
** thread's piece is a band of a weight's rows, the band that thread wrote
** the gradient of and reads in the forward (cpu_sgemm.c), so the update
** stays in its core's cache instead of pulling half of it from the other. */
#define OPTIM_PARALLEL_MIN 32768

/* Runs CALL, which reads `from` and `len`, over [0, n): once, or in one
** contiguous piece per thread. */
#define OPTIM_SPLIT(n, CALL)                                                  \
  do {                                                                        \
    int nt_ = (n) >= OPTIM_PARALLEL_MIN                                       \
                  ? cpu_free_threads(ln_get_num_threads()) : 1;               \
    if (nt_ <= 1) {                                                           \
      int64_t from = 0, len = (n);                                            \
      CALL;                                                                   \
    } else {                                                                  \
      _Pragma("omp parallel num_threads(nt_)") {                              \
        int64_t k_ = omp_get_num_threads(), i_ = omp_get_thread_num();        \
        int64_t from = (n) * i_ / k_, len = (n) * (i_ + 1) / k_ - from;       \
        CALL;                                                                 \
      }                                                                       \
    }                                                                         \
  } while (0)

/* ---- SGD ---------------------------------------------------------------- */
/* d = g + wd*p; buf = first ? d : momentum*buf + (1-dampening)*d;
** d = nesterov ? d + momentum*buf : buf; p = p - lr*d */

static void sgd_f32(float *p, const float *g, float *buf, int64_t n,
                    const ln_optim_step *s) {
  const float wd = (float)s->weight_decay, mom = (float)s->momentum;
  const float damp = (float)(1 - s->dampening), neglr = (float)-s->lr;
  const bool use_buf = s->momentum != 0, first = s->first_step;
  if (!use_buf && wd == 0) { /* plain SGD */
    for (int64_t i = 0; i < n; i++) p[i] = p[i] + neglr * g[i];
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    float d = g[i];
    if (wd != 0) d = d + wd * p[i];
    if (use_buf) {
      float b = first ? d : buf[i] * mom + damp * d;
      buf[i] = b;
      d = s->nesterov ? d + mom * b : b;
    }
    p[i] = p[i] + neglr * d;
  }
}

static void sgd_f64(double *p, const double *g, double *buf, int64_t n,
                    const ln_optim_step *s) {
  const double wd = s->weight_decay, mom = s->momentum;
  const double damp = 1 - s->dampening, neglr = -s->lr;
  const bool use_buf = s->momentum != 0, first = s->first_step;
  for (int64_t i = 0; i < n; i++) {
    double d = g[i];
    if (wd != 0) d = d + wd * p[i];
    if (use_buf) {
      double b = first ? d : buf[i] * mom + damp * d;
      buf[i] = b;
      d = s->nesterov ? d + mom * b : b;
    }
    p[i] = p[i] + neglr * d;
  }
}

int cpu_sgd_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *buf,
                 const ln_optim_step *s) {
  int64_t n = ln_tensor_numel(param);
  if (param->dtype == LN_FLOAT32) {
    float *p = ln_tensor_data(param), *b = buf ? ln_tensor_data(buf) : NULL;
    const float *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, sgd_f32(p + from, g + from, b ? b + from : NULL, len, s));
  } else {
    double *p = ln_tensor_data(param), *b = buf ? ln_tensor_data(buf) : NULL;
    const double *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, sgd_f64(p + from, g + from, b ? b + from : NULL, len, s));
  }
  return LN_OK;
}

/* ---- Adam / AdamW -------------------------------------------------------- */
/* g = g + wd*p (Adam) or p = p*(1 - lr*wd) (AdamW);
** m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; vmax = max(vmax, v);
** p = p - lr/(1-b1^t) * m / (sqrt(v or vmax)/sqrt(1-b2^t) + eps) */

typedef struct adam_consts {
  double wd, decay, b1, c1, b2, c2, bc2_sqrt, neg_step, eps;
} adam_consts;

static adam_consts adam_setup(const ln_optim_step *s) {
  adam_consts k;
  k.wd = s->decoupled ? 0 : s->weight_decay;
  k.decay = s->decoupled ? 1 - s->lr * s->weight_decay : 1;
  k.b1 = s->beta1;
  k.c1 = 1 - s->beta1;
  k.b2 = s->beta2;
  k.c2 = 1 - s->beta2;
  k.bc2_sqrt = sqrt(1 - pow(s->beta2, (double)s->step));
  k.neg_step = -(s->lr / (1 - pow(s->beta1, (double)s->step)));
  k.eps = s->eps;
  return k;
}

static void adam_f32(float *p, const float *g, float *m, float *v,
                     float *vmax, int64_t n, const adam_consts *k) {
  const float wd = (float)k->wd, decay = (float)k->decay;
  const float b1 = (float)k->b1, c1 = (float)k->c1, b2 = (float)k->b2;
  const float c2 = (float)k->c2, bc2 = (float)k->bc2_sqrt;
  const float neg_step = (float)k->neg_step, eps = (float)k->eps;
  const bool decoupled = k->decay != 1;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i], pi = p[i];
    if (decoupled) pi = pi * decay;
    if (wd != 0) gi = gi + wd * pi;
    float mi = m[i] * b1 + c1 * gi;
    float vi = v[i] * b2 + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    if (vmax) {
      vi = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vi;
    }
    float denom = sqrtf(vi) / bc2 + eps;
    p[i] = pi + neg_step * (mi / denom);
  }
}

static void adam_f64(double *p, const double *g, double *m, double *v,
                     double *vmax, int64_t n, const adam_consts *k) {
  const bool decoupled = k->decay != 1;
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i], pi = p[i];
    if (decoupled) pi = pi * k->decay;
    if (k->wd != 0) gi = gi + k->wd * pi;
    double mi = m[i] * k->b1 + k->c1 * gi;
    double vi = v[i] * k->b2 + k->c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    if (vmax) {
      vi = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vi;
    }
    double denom = sqrt(vi) / k->bc2_sqrt + k->eps;
    p[i] = pi + k->neg_step * (mi / denom);
  }
}

int cpu_adam_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *m,
                  ln_tensor *v, ln_tensor *vmax, const ln_optim_step *s) {
  adam_consts k = adam_setup(s);
  int64_t n = ln_tensor_numel(param);
  if (param->dtype == LN_FLOAT32) {
    float *p = ln_tensor_data(param), *mm = ln_tensor_data(m);
    float *vv = ln_tensor_data(v), *vm = vmax ? ln_tensor_data(vmax) : NULL;
    const float *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, adam_f32(p + from, g + from, mm + from, vv + from,
                            vm ? vm + from : NULL, len, &k));
  } else {
    double *p = ln_tensor_data(param), *mm = ln_tensor_data(m);
    double *vv = ln_tensor_data(v), *vm = vmax ? ln_tensor_data(vmax) : NULL;
    const double *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, adam_f64(p + from, g + from, mm + from, vv + from,
                            vm ? vm + from : NULL, len, &k));
  }
  return LN_OK;
}

/* ---- RMSprop ------------------------------------------------------------- */
/* g = g + wd*p; sq = a*sq + (1-a)*g*g; ga = a*ga + (1-a)*g (centered);
** avg = sqrt(sq - ga*ga or sq) + eps;
** buf = momentum*buf + g/avg, p = p - lr*buf (momentum > 0),
** else p = p - lr * g/avg */

typedef struct rmsprop_ptrs {
  void *p, *sq, *buf, *ga;
  const void *g;
} rmsprop_ptrs;

/* The arrays from element `from` on (elements of es bytes). */
static rmsprop_ptrs rmsprop_at(const rmsprop_ptrs *t, int64_t from, size_t es) {
  size_t off = (size_t)from * es;
  rmsprop_ptrs u = {
    (char *)t->p + off, (char *)t->sq + off,
    t->buf ? (char *)t->buf + off : NULL, t->ga ? (char *)t->ga + off : NULL,
    (const char *)t->g + off,
  };
  return u;
}

static void rmsprop_f32(const rmsprop_ptrs *t, int64_t n,
                        const ln_optim_step *s) {
  float *p = t->p, *sq = t->sq, *buf = t->buf, *ga = t->ga;
  const float *g = t->g;
  const float wd = (float)s->weight_decay, a = (float)s->beta2;
  const float c = (float)(1 - s->beta2), eps = (float)s->eps;
  const float mom = (float)s->momentum, neglr = (float)-s->lr;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    if (wd != 0) gi = gi + wd * p[i];
    float si = sq[i] * a + c * gi * gi, avg;
    sq[i] = si;
    if (ga) {
      float gai = ga[i] * a + c * gi;
      ga[i] = gai;
      avg = sqrtf(si + -1.0f * gai * gai);
    } else {
      avg = sqrtf(si);
    }
    avg = avg + eps;
    if (buf) {
      float b = buf[i] * mom + gi / avg;
      buf[i] = b;
      p[i] = p[i] + neglr * b;
    } else {
      p[i] = p[i] + neglr * (gi / avg);
    }
  }
}

static void rmsprop_f64(const rmsprop_ptrs *t, int64_t n,
                        const ln_optim_step *s) {
  double *p = t->p, *sq = t->sq, *buf = t->buf, *ga = t->ga;
  const double *g = t->g;
  const double wd = s->weight_decay, a = s->beta2, c = 1 - s->beta2;
  const double eps = s->eps, mom = s->momentum, neglr = -s->lr;
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i];
    if (wd != 0) gi = gi + wd * p[i];
    double si = sq[i] * a + c * gi * gi, avg;
    sq[i] = si;
    if (ga) {
      double gai = ga[i] * a + c * gi;
      ga[i] = gai;
      avg = sqrt(si + -1.0 * gai * gai);
    } else {
      avg = sqrt(si);
    }
    avg = avg + eps;
    if (buf) {
      double b = buf[i] * mom + gi / avg;
      buf[i] = b;
      p[i] = p[i] + neglr * b;
    } else {
      p[i] = p[i] + neglr * (gi / avg);
    }
  }
}

int cpu_rmsprop_step(ln_tensor *param, const ln_tensor *grad,
                     ln_tensor *square_avg, ln_tensor *buf,
                     ln_tensor *grad_avg, const ln_optim_step *s) {
  rmsprop_ptrs t = {
    ln_tensor_data(param), ln_tensor_data(square_avg),
    s->momentum > 0 && buf ? ln_tensor_data(buf) : NULL,
    s->centered && grad_avg ? ln_tensor_data(grad_avg) : NULL,
    ln_tensor_data(grad),
  };
  int64_t n = ln_tensor_numel(param);
  size_t es = ln_dtype_size(param->dtype);
  if (param->dtype == LN_FLOAT32)
    OPTIM_SPLIT(n, rmsprop_ptrs u = rmsprop_at(&t, from, es);
                rmsprop_f32(&u, len, s));
  else
    OPTIM_SPLIT(n, rmsprop_ptrs u = rmsprop_at(&t, from, es);
                rmsprop_f64(&u, len, s));
  return LN_OK;
}

/* ---- Adagrad ------------------------------------------------------------- */
/* g = g + wd*p; sum = sum + g*g;
** p = p - lr/(1 + (t-1)*lr_decay) * g/(sqrt(sum) + eps) */

static void adagrad_f32(float *p, const float *g, float *sum, int64_t n,
                        const ln_optim_step *s) {
  const float wd = (float)s->weight_decay, eps = (float)s->eps;
  const float negclr =
      (float)-(s->lr / (1 + (double)(s->step - 1) * s->lr_decay));
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    if (wd != 0) gi = gi + wd * p[i];
    float si = sum[i] + 1.0f * gi * gi;
    sum[i] = si;
    p[i] = p[i] + negclr * (gi / (sqrtf(si) + eps));
  }
}

static void adagrad_f64(double *p, const double *g, double *sum, int64_t n,
                        const ln_optim_step *s) {
  const double wd = s->weight_decay, eps = s->eps;
  const double negclr = -(s->lr / (1 + (double)(s->step - 1) * s->lr_decay));
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i];
    if (wd != 0) gi = gi + wd * p[i];
    double si = sum[i] + 1.0 * gi * gi;
    sum[i] = si;
    p[i] = p[i] + negclr * (gi / (sqrt(si) + eps));
  }
}

int cpu_adagrad_step(ln_tensor *param, const ln_tensor *grad, ln_tensor *sum,
                     const ln_optim_step *s) {
  int64_t n = ln_tensor_numel(param);
  if (param->dtype == LN_FLOAT32) {
    float *p = ln_tensor_data(param), *sm = ln_tensor_data(sum);
    const float *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, adagrad_f32(p + from, g + from, sm + from, len, s));
  } else {
    double *p = ln_tensor_data(param), *sm = ln_tensor_data(sum);
    const double *g = ln_tensor_data(grad);
    OPTIM_SPLIT(n, adagrad_f64(p + from, g + from, sm + from, len, s));
  }
  return LN_OK;
}
