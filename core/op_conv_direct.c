/*
** op_conv_direct.c: stride-1 convolution as three primitive ops (their
** algebra is in conv_direct.h): the forward with its bias, the input
** gradient and the weight gradient, with CPU kernels (float32 in
** core/conv_simd.c, float64 here) and OpenCL kernels (kernels/conv.cl).
**
** conv2d used to copy its input into columns (im2col) and multiply them
** with the weight: for LeNet-5's few channels that meant 64 small GEMMs
** per layer, at a few GFLOP/s, and the columns written and read again.
** Here each output is summed where it is computed, and the two gradients
** are the same kind of sum; the backward of each op is the other two, so
** double backward comes free.
*/
#include "conv_direct.h"
#include "cpu.h"
#include "op.h"
#include "shape.h"

/* ---- the CPU kernels ------------------------------------------------------ */

/* The job of the forward op: x (*) w, as core/conv_simd.c takes it. */
static ln_conv_job forward_job(const ln_tensor *x, const ln_tensor *w,
                               const ln_tensor *b, const ln_conv_geometry *g) {
  return (ln_conv_job){
    .n = x->shape[0], .ci = x->shape[1], .h = x->shape[2], .w = x->shape[3],
    .xs = {x->stride[0], x->stride[1], x->stride[2], x->stride[3]},
    .co = w->shape[0],
    .ws = {w->stride[0], w->stride[1], w->stride[2], w->stride[3]},
    .bs = b ? b->stride[0] : 0,
    .kh = g->kernel[0], .kw = g->kernel[1],
    .dh = g->dilation[0], .dw = g->dilation[1],
    .ph = g->pad[0], .pw = g->pad[1], .oh = g->out[0], .ow = g->out[1]};
}

/* The input op as a forward one: gy (*) w flipped in its taps with its
** channel dims swapped, padded by the rest of the kernel's span. *wbase
** is moved to the weight's last tap. */
static ln_conv_job input_job(const ln_tensor *gy, const ln_tensor *w,
                             const ln_conv_geometry *g, int64_t *wbase) {
  int64_t kh = g->kernel[0], kw = g->kernel[1];
  *wbase = (kh - 1) * w->stride[2] + (kw - 1) * w->stride[3];
  return (ln_conv_job){
    .n = gy->shape[0], .ci = gy->shape[1], .h = gy->shape[2], .w = gy->shape[3],
    .xs = {gy->stride[0], gy->stride[1], gy->stride[2], gy->stride[3]},
    .co = w->shape[1],
    .ws = {w->stride[1], w->stride[0], -w->stride[2], -w->stride[3]},
    .kh = kh, .kw = kw, .dh = g->dilation[0], .dw = g->dilation[1],
    .ph = g->dilation[0] * (kh - 1) - g->pad[0],
    .pw = g->dilation[1] * (kw - 1) - g->pad[1],
    .oh = g->in[0], .ow = g->in[1]};
}

/* Threads for m multiply-adds: one below 2^22, else those the others'
** load leaves us (core/cpu_load.c). */
static int threads_for(int64_t m) {
  return m > (INT64_C(1) << 22) ? ln_cpu_threads_now() : 1;
}

/* y = the job's correlation in float64, one output at a time. */
static void forward_double(double *y, const double *x, const double *w,
                           const double *bias, const ln_conv_job *j) {
  int64_t planes = j->n * j->co;
  int nt = threads_for(planes * j->oh * j->ow * j->ci * j->kh * j->kw);
  CPU_FOR(nt, pl, planes, {
    int64_t n = pl / j->co, oc = pl % j->co;
    for (int64_t i = 0; i < j->oh; i++)
      for (int64_t v = 0; v < j->ow; v++) {
        double s = bias ? bias[oc * j->bs] : 0;
        for (int64_t ic = 0; ic < j->ci; ic++)
          for (int64_t a = 0; a < j->kh; a++) {
            int64_t r = i + a * j->dh - j->ph;
            if (r < 0 || r >= j->h) continue;
            for (int64_t b = 0; b < j->kw; b++) {
              int64_t c = v + b * j->dw - j->pw;
              if (c < 0 || c >= j->w) continue;
              s += w[oc * j->ws[0] + ic * j->ws[1] + a * j->ws[2] + b * j->ws[3]] *
                   x[n * j->xs[0] + ic * j->xs[1] + r * j->xs[2] + c * j->xs[3]];
            }
          }
        y[(pl * j->oh + i) * j->ow + v] = s;
      }
  });
}

/* gw = the job's weight gradient in float64, one weight at a time. */
static void weight_double(double *gw, const double *x, const double *gy,
                          const int64_t *gs, const ln_conv_job *j) {
  int64_t count = j->co * j->ci * j->kh * j->kw;
  int nt = threads_for(count * j->n * j->oh * j->ow);
  CPU_FOR(nt, e, count, {
    int64_t b = e % j->kw, a = e / j->kw % j->kh;
    int64_t ic = e / (j->kw * j->kh) % j->ci, oc = e / (j->kw * j->kh * j->ci);
    double s = 0;
    for (int64_t n = 0; n < j->n; n++)
      for (int64_t i = 0; i < j->oh; i++) {
        int64_t r = i + a * j->dh - j->ph;
        if (r < 0 || r >= j->h) continue;
        for (int64_t v = 0; v < j->ow; v++) {
          int64_t c = v + b * j->dw - j->pw;
          if (c < 0 || c >= j->w) continue;
          s += gy[n * gs[0] + oc * gs[1] + i * gs[2] + v * gs[3]] *
               x[n * j->xs[0] + ic * j->xs[1] + r * j->xs[2] + c * j->xs[3]];
        }
      }
    gw[e] = s;
  });
}

/* out = in[0] (*) in[1] (+ in[2]), or the input op (flipped weight). */
static int correlate(const ln_kernel_args *k, bool input_op) {
  const ln_tensor *o = k->out[0], *x = k->in[0], *w = k->in[1];
  const ln_tensor *b = k->nin > 2 ? k->in[2] : NULL;
  int64_t wbase = 0;
  ln_conv_job j = input_op ? input_job(x, w, k->params, &wbase)
                           : forward_job(x, w, b, k->params);
  if (o->dtype == LN_FLOAT32)
    return ln_conv_simd_forward(ln_tensor_data(o), ln_tensor_data(x),
                                (const float *)ln_tensor_data(w) + wbase,
                                b ? ln_tensor_data(b) : NULL, &j);
  forward_double(ln_tensor_data(o), ln_tensor_data(x),
                 (const double *)ln_tensor_data(w) + wbase,
                 b ? ln_tensor_data(b) : NULL, &j);
  return LN_OK;
}

static int cpu_forward(const ln_kernel_args *k) { return correlate(k, false); }
static int cpu_input(const ln_kernel_args *k) { return correlate(k, true); }

static int cpu_weight(const ln_kernel_args *k) {
  const ln_tensor *o = k->out[0], *x = k->in[0], *gy = k->in[1];
  ln_conv_job j = forward_job(x, o, NULL, k->params);
  if (o->dtype == LN_FLOAT32)
    return ln_conv_simd_weight(ln_tensor_data(o), ln_tensor_data(x),
                               ln_tensor_data(gy), gy->stride, &j);
  weight_double(ln_tensor_data(o), ln_tensor_data(x), ln_tensor_data(gy),
                gy->stride, &j);
  return LN_OK;
}

static const ln_kernel forward_kernel = {
  .name = "conv2d", .cpu = cpu_forward, .opencl = "conv_forward",
};
static const ln_kernel forward_bias_kernel = {
  .name = "conv2d", .cpu = cpu_forward, .opencl = "conv_forward_bias",
};
static const ln_kernel input_kernel = {
  .name = "conv2d_input", .cpu = cpu_input, .opencl = "conv_input",
};
static const ln_kernel weight_kernel = {
  .name = "conv2d_weight", .cpu = cpu_weight, .opencl = "conv_weight",
};

/* ---- front ends ----------------------------------------------------------- */

static int forward_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin);
static int input_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin);
static int weight_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin);

/* Runs k on in[0..nin) into a fresh out of shape, then records name on
** it with the geometry; the node saves its first two inputs. */
static ln_tensor *run_recorded(const ln_kernel *k, ln_tensor **in, int nin,
                               const int64_t *shape, const ln_conv_geometry *g,
                               const char *name, ln_backward_fn bw) {
  for (int i = 1; i < nin; i++)
    if (in[i]->dtype != in[0]->dtype ||
        ln_check_same_device(k->name, in[0], in[i]) != LN_OK)
      return ln_error("%s: operands of different dtypes or devices",
                      k->name), NULL;
  if (in[0]->dtype != LN_FLOAT32 && in[0]->dtype != LN_FLOAT64)
    return ln_error("%s: expected float32 or float64, got %s", k->name,
                    ln_dtype_name(in[0]->dtype)), NULL;
  ln_tensor *out = ln_empty(4, shape, in[0]->dtype, ln_tensor_device(in[0]));
  if (!out) return NULL;
  ln_kernel_args a = {.out = &out, .nout = 1, .in = (const ln_tensor *const *)in,
                      .nin = nin, .params = g, .params_size = sizeof *g,
                      .work = ln_tensor_numel(out)};
  if (a.work && ln_kernel_run(k, &a) != LN_OK) {
    ln_tensor_release(out);
    return NULL;
  }
  ln_node *node;
  int rc = ln_record(&node, out, name, bw, nin, in);
  if (rc == LN_OK) rc = ln_node_params(node, g, sizeof *g);
  if (rc == LN_OK) rc = ln_node_save(node, in[0]);
  if (rc == LN_OK) rc = ln_node_save(node, in[1]);
  return ln_recorded(out, rc);
}

ln_tensor *ln_conv_direct(ln_tensor *x, ln_tensor *w, ln_tensor *b,
                          const ln_conv_geometry *g) {
  int64_t shape[4] = {x->shape[0], w->shape[0], g->out[0], g->out[1]};
  ln_tensor *in[3] = {x, w, b};
  return run_recorded(b ? &forward_bias_kernel : &forward_kernel, in,
                      b ? 3 : 2, shape, g, "ConvolutionBackward",
                      forward_backward);
}

ln_tensor *ln_conv_direct_input(ln_tensor *gy, ln_tensor *w,
                                const ln_conv_geometry *g) {
  int64_t shape[4] = {gy->shape[0], w->shape[1], g->in[0], g->in[1]};
  ln_tensor *in[2] = {gy, w};
  return run_recorded(&input_kernel, in, 2, shape, g,
                      "ConvolutionInputBackward", input_backward);
}

ln_tensor *ln_conv_direct_weight(ln_tensor *x, ln_tensor *gy,
                                 const ln_conv_geometry *g) {
  int64_t shape[4] = {gy->shape[1], x->shape[1], g->kernel[0], g->kernel[1]};
  ln_tensor *in[2] = {x, gy};
  return run_recorded(&weight_kernel, in, 2, shape, g,
                      "ConvolutionWeightBackward", weight_backward);
}

/* ---- backward: each op's gradients are the other two ---------------------- */

/* y = x (*) w + b: dx = input(g, w), dw = weight(x, g), db = g summed
** over N, H, W. */
static int forward_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0), *w = ln_node_saved(n, 1);
  if (!x || !w) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0))
    LN_GRAD(&s, gin[0], ln_conv_direct_input(gout, w, n->params));
  if (ln_node_needs_grad(n, 1))
    LN_GRAD(&s, gin[1], ln_conv_direct_weight(x, gout, n->params));
  if (n->ninputs > 2 && ln_node_needs_grad(n, 2))
    LN_GRAD(&s, gin[2], ln_reduce_dims(LN_REDUCE_SUM, gout, 3,
                                       (int[]){0, 2, 3}, false));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* x' = input(gy, w): d gy = forward(g, w), dw = weight(g, gy). */
static int input_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *gy = ln_node_saved(n, 0), *w = ln_node_saved(n, 1);
  if (!gy || !w) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0))
    LN_GRAD(&s, gin[0], ln_conv_direct(gout, w, NULL, n->params));
  if (ln_node_needs_grad(n, 1))
    LN_GRAD(&s, gin[1], ln_conv_direct_weight(gout, gy, n->params));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}

/* w' = weight(x, gy): dx = input(gy, g), d gy = forward(x, g). */
static int weight_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *x = ln_node_saved(n, 0), *gy = ln_node_saved(n, 1);
  if (!x || !gy) return LN_ERR;
  ln_scope s = {0};
  if (ln_node_needs_grad(n, 0))
    LN_GRAD(&s, gin[0], ln_conv_direct_input(gy, gout, n->params));
  if (ln_node_needs_grad(n, 1))
    LN_GRAD(&s, gin[1], ln_conv_direct(x, gout, NULL, n->params));
  return ln_scope_done(&s, LN_OK);
fail:
  return ln_scope_done(&s, LN_ERR);
}
