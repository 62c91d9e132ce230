/*
** luann_nn.h: fused training ops: optimizer updates and losses.
**
** The optimizer steps update a parameter and its state in place in one
** pass (torch.optim's formulas), outside autograd. The losses fuse
** log-softmax and the negative log likelihood and record one backward node.
*/
#ifndef LUANN_NN_H
#define LUANN_NN_H

#include "luann_core.h"

/* Settings of one fused optimizer update, for every element of a param. */
typedef struct ln_optim_step {
  double lr, weight_decay;
  double momentum, dampening;  /* SGD */
  bool nesterov, first_step;   /* SGD: first step copies grad into buf */
  double beta1, beta2, eps;    /* Adam, AdamW, RMSprop (beta2 = alpha) */
  int64_t step;                /* Adam's and Adagrad's t, from 1 */
  bool decoupled;              /* AdamW: decay the weights, not the grad */
  bool amsgrad;
  bool centered;               /* RMSprop: divide by the grad's variance */
  double lr_decay;             /* Adagrad: lr / (1 + (t - 1) * lr_decay) */
} ln_optim_step;

/* ---- optimizer steps (core/op_optim.c) ---------------------------------
** param and grad are float32 or float64 of one dtype and shape; state
** tensors (buf, moments, sums) are contiguous, of the param's dtype, shape
** and device. param must be contiguous; a strided grad is copied. Each
** bumps the version of every tensor it writes. */

/* SGD: momentum, dampening, nesterov, weight_decay, first_step (buf is
** set to the gradient); buf may be NULL when momentum is 0. */
int ln_sgd_step(ln_tensor *param, ln_tensor *grad, ln_tensor *buf,
                const ln_optim_step *s);
/* Adam and AdamW (decoupled): beta1, beta2, eps, weight_decay, step >= 1;
** vmax (the running max of v) is used when amsgrad. */
int ln_adam_step(ln_tensor *param, ln_tensor *grad, ln_tensor *m,
                 ln_tensor *v, ln_tensor *vmax, const ln_optim_step *s);
/* RMSprop: alpha in beta2, eps, weight_decay, momentum (buf when > 0),
** centered (grad_avg). */
int ln_rmsprop_step(ln_tensor *param, ln_tensor *grad, ln_tensor *square_avg,
                    ln_tensor *buf, ln_tensor *grad_avg,
                    const ln_optim_step *s);
/* Adagrad: lr_decay, weight_decay, eps, step >= 1. */
int ln_adagrad_step(ln_tensor *param, ln_tensor *grad, ln_tensor *sum,
                    const ln_optim_step *s);

/* ---- convolution (core/op_conv.c) -------------------------------------
** PyTorch's layouts: input (N, C, H, W) or unbatched (C, H, W); conv2d's
** weight (out, in/groups, kh, kw), conv_transpose2d's (in, out/groups,
** kh, kw); bias (out) or NULL. Float32 or float64, one dtype and device.
** Each composes from pad, unfold, matmul and unfold_backward (im2col and
** GEMM), so its backward comes from those and it runs on every backend. */
typedef enum ln_conv_padding {
  LN_CONV_PAD_GIVEN, /* the numbers in padding */
  LN_CONV_PAD_VALID, /* none */
  LN_CONV_PAD_SAME,  /* the output keeps the input's size (stride 1) */
} ln_conv_padding;

typedef struct ln_conv_params {
  int64_t stride[2], padding[2], dilation[2]; /* (h, w) */
  int64_t output_padding[2];                  /* conv_transpose2d */
  int64_t kernel_size[2], output_size[2];     /* im2col, col2im */
  int64_t groups;
  int padding_mode;                           /* ln_conv_padding */
} ln_conv_params;

/* Default parameters: stride, dilation and groups 1, no padding. */
ln_conv_params ln_conv_defaults(void);
ln_tensor *ln_conv2d(ln_tensor *input, ln_tensor *weight, ln_tensor *bias,
                     const ln_conv_params *p);
/* (N, C, L) or (C, L) input, (out, in/groups, k) weight; p's w entries. */
ln_tensor *ln_conv1d(ln_tensor *input, ln_tensor *weight, ln_tensor *bias,
                     const ln_conv_params *p);
ln_tensor *ln_conv_transpose2d(ln_tensor *input, ln_tensor *weight,
                               ln_tensor *bias, const ln_conv_params *p);
/* PyTorch's F.unfold: (N, C, H, W) -> (N, C*kh*kw, L) blocks of
** kernel_size; and F.fold, its adjoint, back to (N, C, output_size). */
ln_tensor *ln_im2col(ln_tensor *input, const ln_conv_params *p);
ln_tensor *ln_col2im(ln_tensor *input, const ln_conv_params *p);

/* ---- normalisation (core/op_layernorm.c) ------------------------------ */

/* (x - mean) / sqrt(var + eps) * weight + bias over the last nshape dims of
** x, whose sizes shape gives (var biased); weight and bias of that shape,
** or NULL. */
ln_tensor *ln_layer_norm(ln_tensor *x, int nshape, const int64_t *shape,
                         ln_tensor *weight, ln_tensor *bias, double eps);

/* ---- attention (core/op_attention.c) ----------------------------------- */

/* softmax(scale q k^T) v, with the causal mask (query i sees keys 0..i)
** when causal: q (..., L, E), k (..., S, E), v (..., S, Ev), the same batch
** dims and float dtype, S > 0; the result is (..., L, Ev). */
ln_tensor *ln_attention(ln_tensor *q, ln_tensor *k, ln_tensor *v, double scale,
                        bool causal);

/* ---- recurrent (core/op_lstm.c) ---------------------------------------- */

/* One LSTM layer in one direction: xg = x W_ih^T + b_ih + b_hh, (B, T, 4H)
** with batch_first, else (T, B, 4H); w_hh (4H, H); h0, c0 (B, H). Returns
** a flat tensor: every h_t in xg's layout ((B, T, H) or (T, B, H)), then
** the last c (B, H). reverse runs the steps from the last to the first. */
ln_tensor *ln_lstm(ln_tensor *xg, ln_tensor *w_hh, ln_tensor *h0,
                   ln_tensor *c0, bool batch_first, bool reverse);

/* ---- losses (core/op_loss.c) ------------------------------------------- */

typedef enum ln_reduction {
  LN_REDUCTION_NONE,
  LN_REDUCTION_MEAN,
  LN_REDUCTION_SUM
} ln_reduction;

typedef struct ln_loss_options {
  ln_tensor *weight;        /* (C) class weights, or NULL */
  bool has_ignore_index;
  int64_t ignore_index;     /* a target value to skip, numbered as targets */
  double label_smoothing;   /* in [0, 1] */
  ln_reduction reduction;
  int64_t target_base;      /* class indices count from this: 0 in C, 1 in Lua */
} ln_loss_options;

/* Parses "none", "mean", "sum". */
int ln_reduction_parse(const char *op, const char *name, ln_reduction *out);

/* Cross entropy of logits input (N,C), (C) or (N,C,d1..dk) against int64
** class indices (N), () or (N,d1..dk), or against class probabilities of
** input's shape; PyTorch's semantics for weight, ignore_index,
** label_smoothing and the reductions ("mean" divides by the summed weights
** of the counted targets). Differentiable w.r.t. input (and probability
** targets). */
ln_tensor *ln_cross_entropy(ln_tensor *input, ln_tensor *target,
                            const ln_loss_options *o);
/* The negative log likelihood of log-probabilities input, same shapes as
** cross_entropy with class indices; no label smoothing. */
ln_tensor *ln_nll_loss(ln_tensor *input, ln_tensor *target,
                       const ln_loss_options *o);

#endif
