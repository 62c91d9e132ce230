/*
** backend.h: the table of functions a device implements (internal).
**
** The op front ends (core/op_*.c) check arguments, work out shapes and
** dtypes, allocate outputs and record autograd; then they call one entry of
** the tensor's backend. Kernels therefore get well-formed input:
** - every tensor passed lives on this backend's device;
** - inputs may be strided, offset or expanded (stride 0) views;
** - an `out` tensor is freshly allocated and contiguous unless said;
** - operands already have the dtype the entry states (the front end casts).
** Kernels return LN_OK, or LN_ERR after ln_error(...).
** A new backend is one more filled-in table, no edits to the ops.
*/
#ifndef LUANN_BACKEND_H
#define LUANN_BACKEND_H

#include "internal.h"
#include "luann_core.h"

/* One matrix (or a batch of matrices) inside a storage: element (b,i,j) is
** at offset + b*bs + i*rs + j*cs. */
typedef struct ln_matview {
  ln_storage *storage;
  int64_t offset, rs, cs, bs;
} ln_matview;

/* The unary ops with a bool result (logical_not, isnan, ...): they read
** any dtype as it is, with no cast. */
static inline bool ln_unary_is_test(ln_unary_op op) {
  return op >= LN_UNARY_NOT && op < LN_UNARY_COUNT;
}

typedef struct ln_kernel ln_kernel;           /* core/op.h */
typedef struct ln_kernel_args ln_kernel_args;

struct ln_backend {
  const char *name;

  /* memory: alloc sets s->data for nbytes (may be 0); read/write move
  ** bytes between the storage at a byte offset and host memory. */
  int (*storage_alloc)(ln_storage *s, size_t nbytes);
  void (*storage_free)(ln_storage *s);
  int (*write)(ln_storage *s, size_t offset, const void *src, size_t n);
  int (*read)(ln_storage *s, size_t offset, void *dst, size_t n);

  /* dst (any strides) = src converted to dst's dtype; same shapes. */
  int (*copy)(ln_tensor *dst, const ln_tensor *src);
  /* dst (any strides) = value. */
  int (*fill)(ln_tensor *dst, double value);

  /* out = op(a); out has a's dtype, or is bool for the tests
  ** (ln_unary_is_test), which read a of any dtype. */
  int (*unary)(ln_unary_op op, ln_tensor *out, const ln_tensor *a);
  /* out = a op b; a, b have out's shape (expanded) and the same dtype;
  ** out is bool for comparisons and logical ops, else a's dtype.
  ** out may alias a for in-place ops (then it is strided). */
  int (*binary)(ln_binary_op op, ln_tensor *out, const ln_tensor *a,
                const ln_tensor *b);
  /* out = min(max(a, lo), hi); out = a > 0 ? a : a * slope. */
  int (*clamp)(ln_tensor *out, const ln_tensor *a, double lo, double hi);
  int (*leaky_relu)(ln_tensor *out, const ln_tensor *a, double slope);
  /* out = cond ? a : b; all expanded to out's shape, cond is bool. */
  int (*where)(ln_tensor *out, const ln_tensor *cond, const ln_tensor *a,
               const ln_tensor *b);

  /* Reduces a along dim into out, which has a's shape with dim's size 1
  ** (contiguous). ARGMAX/ARGMIN write int64; ANY/ALL write bool; idx,
  ** when not NULL, receives int64 arg indices for MAX/MIN. */
  int (*reduce)(ln_reduce_op op, ln_tensor *out, ln_tensor *idx,
                const ln_tensor *a, int dim);
  /* out = (log_)softmax(a) along dim; float dtypes. */
  int (*softmax)(ln_tensor *out, const ln_tensor *a, int dim, bool log);

  /* c[b] = alpha * a[b] @ b[b] + beta * c[b] for b < batch, float dtypes;
  ** a is (m,k), b is (k,n), c is (m,n). beta == 0 ignores c's contents. */
  int (*gemm)(ln_dtype dt, int64_t batch, int64_t m, int64_t n, int64_t k,
              double alpha, ln_matview a, ln_matview b, double beta,
              ln_matview c);

  /* Indexing; index tensors are int64 with 0-based values, checked by the
  ** kernel (an out-of-range index is an error naming it and the size). */
  int (*gather)(ln_tensor *out, const ln_tensor *a, int dim,
                const ln_tensor *index);
  /* out (a copy of the destination) [index] (+)= src along dim. */
  int (*scatter)(ln_tensor *out, int dim, const ln_tensor *index,
                 const ln_tensor *src, bool accumulate);
  int (*index_select)(ln_tensor *out, const ln_tensor *a, int dim,
                      const ln_tensor *index);
  /* out (a copy of the destination) index_add along dim, times alpha. */
  int (*index_add)(ln_tensor *out, int dim, const ln_tensor *index,
                   const ln_tensor *src, double alpha);
  /* out is 1-D with as many elements as mask (expanded to a) has true. */
  int (*masked_select)(ln_tensor *out, const ln_tensor *a,
                       const ln_tensor *mask);
  /* Stable sort along dim; indices int64. */
  int (*sort)(ln_tensor *values, ln_tensor *indices, const ln_tensor *a,
              int dim, bool descending);

  /* Fused in-place optimizer updates on contiguous float tensors. */
  int (*sgd_step)(ln_tensor *param, const ln_tensor *grad, ln_tensor *buf,
                  const ln_optim_step *s);
  int (*adam_step)(ln_tensor *param, const ln_tensor *grad, ln_tensor *m,
                   ln_tensor *v, ln_tensor *vmax, const ln_optim_step *s);
  /* buf (momentum > 0) and grad_avg (centered) may be NULL otherwise. */
  int (*rmsprop_step)(ln_tensor *param, const ln_tensor *grad,
                      ln_tensor *square_avg, ln_tensor *buf,
                      ln_tensor *grad_avg, const ln_optim_step *s);
  int (*adagrad_step)(ln_tensor *param, const ln_tensor *grad,
                      ln_tensor *sum, const ln_optim_step *s);

  /* A primitive op's kernel from its row (core/op.h): runs this backend's
  ** kernel of k, or returns LN_NO_KERNEL when k has none for it. */
  int (*kernel)(const ln_kernel *k, const ln_kernel_args *a);
};

LN_INTERNAL extern const ln_backend ln_backend_cpu;

/* Storage management shared by every backend (core/tensor.c). */
LN_INTERNAL ln_storage *ln_storage_new(ln_device dev, size_t nbytes);
LN_INTERNAL void ln_storage_release(ln_storage *s);
/* A tensor header over existing storage (retained). */
LN_INTERNAL ln_tensor *ln_tensor_new_view(ln_storage *s, int64_t offset,
                                          int ndim, const int64_t *shape,
                                          const int64_t *stride, ln_dtype dt);
#define LN_BACKEND(t) ((t)->storage->device.backend)

#endif
