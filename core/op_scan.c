/*
** op_scan.c: cumsum and cumprod, a primitive op: one row each, one CPU
** kernel and one OpenCL kernel (kernels/scan.cl) that walk each line
** along dim. The same kernel runs the backward passes: a reversed cumsum
** for cumsum, and for cumprod the recurrence
**   R[n-1] = g[n-1],  R[i] = g[i] + x[i+1] R[i+1],  dx[i] = R[i] prod(x[<i])
** which needs no division, so zeros in x are exact.
*/
#include <omp.h>

#include "cpu.h"
#include "op.h"
#include "shape.h"

typedef enum scan_kind {
  SCAN_SUM, SCAN_PROD, SCAN_SUM_REVERSE, SCAN_PROD_BACKWARD
} scan_kind;

typedef struct scan_params {
  int64_t dim;
  int64_t kind; /* scan_kind */
} scan_params;

static const ln_param scan_param_list[] = {
  {"dim", LN_PARAM_DIM, LN_P(scan_params, dim), .required = true},
  {NULL},
};

/* ---- the CPU kernel: out[line] from x[line] (and g[line]) --------------- */

#define SCAN_LINES(T, A)                                                      \
  static void scan_##T(T *out, const ln_tensor *o, const T *x,                \
                       const ln_tensor *xt, const T *g, const ln_tensor *gt,  \
                       const scan_params *p) {                                \
    int dim = (int)p->dim, nd = o->ndim;                                      \
    int64_t n = o->shape[dim], lines = n ? ln_tensor_numel(o) / n : 0;        \
    int64_t os = 1, xs = xt->stride[dim], gs = gt->stride[dim];               \
    for (int d = dim + 1; d < nd; d++) os *= o->shape[d];                     \
    CPU_FOR(lines * n > 32768 ? omp_get_max_threads() : 1, line, lines, {     \
      int64_t rest = line, xo = 0, go = 0, oo = 0, ostride = 1;               \
      for (int d = nd - 1; d >= 0; d--) {                                     \
        if (d == dim) { ostride *= n; continue; }                             \
        int64_t c = rest % o->shape[d];                                       \
        rest /= o->shape[d];                                                  \
        xo += c * xt->stride[d];                                              \
        go += c * gt->stride[d];                                              \
        oo += c * ostride;                                                    \
        ostride *= o->shape[d];                                               \
      }                                                                       \
      T *ol = out + oo;                                                       \
      const T *xl = x + xo, *gl = g + go;                                     \
      A acc;                                                                  \
      switch (p->kind) {                                                      \
        case SCAN_SUM:                                                        \
          acc = 0;                                                            \
          for (int64_t i = 0; i < n; i++) ol[i * os] = (T)(acc += xl[i * xs]); \
          break;                                                              \
        case SCAN_PROD:                                                       \
          acc = 1;                                                            \
          for (int64_t i = 0; i < n; i++) ol[i * os] = (T)(acc *= xl[i * xs]); \
          break;                                                              \
        case SCAN_SUM_REVERSE:                                                \
          acc = 0;                                                            \
          for (int64_t i = n - 1; i >= 0; i--)                                \
            ol[i * os] = (T)(acc += xl[i * xs]);                              \
          break;                                                              \
        default: /* SCAN_PROD_BACKWARD: R into out, then times prod(x[<i]) */ \
          acc = 0;                                                            \
          for (int64_t i = n - 1; i >= 0; i--) {                              \
            acc = gl[i * gs] + (i + 1 < n ? (A)xl[(i + 1) * xs] * acc : 0);   \
            ol[i * os] = (T)acc;                                              \
          }                                                                   \
          acc = 1;                                                            \
          for (int64_t i = 0; i < n; i++) {                                   \
            ol[i * os] = (T)((A)ol[i * os] * acc);                            \
            acc *= xl[i * xs];                                                \
          }                                                                   \
      }                                                                       \
    });                                                                       \
  }

SCAN_LINES(float, double)
SCAN_LINES(double, double)
SCAN_LINES(int64_t, uint64_t) /* unsigned: overflow wraps as in PyTorch, no UB */

static int cpu_scan(const ln_kernel_args *a) {
  const ln_tensor *o = a->out[0], *x = a->in[0], *g = a->in[a->nin - 1];
  void *op = ln_tensor_data(o), *xp = ln_tensor_data(x), *gp = ln_tensor_data(g);
  switch (o->dtype) {
    case LN_FLOAT32: scan_float(op, o, xp, x, gp, g, a->params); break;
    case LN_FLOAT64: scan_double(op, o, xp, x, gp, g, a->params); break;
    default: scan_int64_t(op, o, xp, x, gp, g, a->params); break;
  }
  return LN_OK;
}

static const ln_kernel scan_kernel = {
  .name = "cumsum/cumprod", .cpu = cpu_scan, .opencl = "scan",
};

/* ---- front end ---------------------------------------------------------- */

static ln_tensor *scan(ln_tensor *x, ln_tensor *g, const scan_params *p);

static int scan_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  const scan_params *p = n->params;
  if (p->kind == SCAN_SUM) {
    gin[0] = scan(gout, NULL, &(scan_params){p->dim, SCAN_SUM_REVERSE});
  } else {
    ln_tensor *x = n->inputs[0];
    gin[0] = scan(x, gout, &(scan_params){p->dim, SCAN_PROD_BACKWARD});
  }
  return gin[0] ? LN_OK : LN_ERR;
}

/* Runs the kernel on x (and g), cast to the result's dtype: int64 for
** integer and bool inputs, as PyTorch's. */
static ln_tensor *scan(ln_tensor *x, ln_tensor *g, const scan_params *p) {
  ln_dtype dt = ln_dtype_is_float(x->dtype) ? x->dtype : LN_INT64;
  if (g) dt = ln_dtype_promote(dt, g->dtype);
  ln_scope s = {0};
  ln_tensor *xc = LN_TMP(&s, ln_to_dtype(x, dt));
  ln_tensor *gc = g ? LN_TMP(&s, ln_to_dtype(g, dt)) : NULL;
  if (gc && ln_check_same_device("cumprod", xc, gc) != LN_OK) goto fail;
  ln_tensor *out = LN_TMP(&s, ln_empty(x->ndim, x->shape, dt,
                                       ln_tensor_device(x)));
  const ln_tensor *in[] = {xc, gc ? gc : xc};
  int64_t n = x->ndim ? x->shape[p->dim] : 1;
  ln_kernel_args a = {.out = &out, .nout = 1, .in = in, .nin = 2,
                      .params = p, .params_size = sizeof *p,
                      .work = n ? ln_tensor_numel(out) / n : 0};
  if (ln_kernel_run(&scan_kernel, &a) != LN_OK) goto fail;
  return ln_scope_keep(&s, out);
fail:
  return ln_scope_end(&s);
}

static ln_tensor *cumulative(const char *op, ln_tensor *x, int dim,
                             scan_kind kind) {
  int d;
  if (ln_wrap_dim(op, dim, x->ndim, false, &d) != LN_OK) return NULL;
  if (x->ndim == 0) { /* one element: the scan is the value */
    ln_tensor *v = ln_view(x, 1, (int64_t[]){1});
    ln_tensor *r = v ? cumulative(op, v, 0, kind) : NULL;
    ln_tensor *r0 = r ? ln_view(r, 0, NULL) : NULL;
    ln_tensor_release(v);
    ln_tensor_release(r);
    return r0;
  }
  scan_params p = {d, kind};
  ln_tensor *out = scan(x, NULL, &p);
  if (!out) return NULL;
  ln_node *node;
  int rc = ln_record(&node, out, kind == SCAN_SUM ? "CumsumBackward"
                                                  : "CumprodBackward",
                     scan_backward, 1, &x);
  if (rc == LN_OK) rc = ln_node_params(node, &p, sizeof p);
  return ln_recorded(out, rc);
}

ln_tensor *ln_cumsum(ln_tensor *x, int dim) {
  return cumulative("cumsum", x, dim, SCAN_SUM);
}

ln_tensor *ln_cumprod(ln_tensor *x, int dim) {
  return cumulative("cumprod", x, dim, SCAN_PROD);
}

/* ---- rows --------------------------------------------------------------- */

static int run_cumsum(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_cumsum(in[0], (int)((const scan_params *)p)->dim))
             ? LN_OK : LN_ERR;
}

static int run_cumprod(ln_tensor *const *in, const void *p, ln_tensor **out) {
  return (out[0] = ln_cumprod(in[0], (int)((const scan_params *)p)->dim))
             ? LN_OK : LN_ERR;
}

static const char *const scan_inputs[] = {"input", NULL};

LN_OP_ROW(cumsum) = {
  .name = "cumsum", .inputs = scan_inputs, .nrequired = 1,
  .params = scan_param_list, .params_size = sizeof(scan_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_cumsum,
};

LN_OP_ROW(cumprod) = {
  .name = "cumprod", .inputs = scan_inputs, .nrequired = 1,
  .params = scan_param_list, .params_size = sizeof(scan_params),
  .where = LN_OP_FUNCTION | LN_OP_METHOD, .run = run_cumprod,
};
