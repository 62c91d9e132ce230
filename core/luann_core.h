/*
** luann_core.h: the public C API of luann's core: tensors, ops, autograd.
** No Lua here: a host program can use the core alone.
**
** Conventions
** - Every function that makes a tensor returns a new reference, or NULL on
**   failure with a message readable through ln_error_message(). Functions
**   that return int return LN_OK (0) or LN_ERR (-1) the same way.
**   The core never aborts, exits or longjmps.
** - Dims and indices are 0-based here; the Lua layer turns 1-based and
**   negative indices into these. Error messages count dims and indices
**   from 1, as users of the Lua API see them. Shape args are (ndim, int64_t shape[]).
** - Tensors are reference counted (ln_tensor_retain / ln_tensor_release);
**   views share a reference-counted storage.
*/
#ifndef LUANN_CORE_H
#define LUANN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LN_VERSION "0.1.0"
#define LN_MAX_DIMS 8
#define LN_OK 0
#define LN_ERR (-1)

/* ---- errors ---------------------------------------------------------- */

/* The last error message of this thread ("" when none). */
const char *ln_error_message(void);
/* Sets the message (printf format) and returns LN_ERR, so callers can
** write `return ln_error("...")`. */
int ln_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ln_error_clear(void);

/* ---- dtypes ---------------------------------------------------------- */

typedef enum ln_dtype {
  LN_FLOAT32,
  LN_FLOAT64,
  LN_INT64,
  LN_UINT8,
  LN_BOOL,
  LN_DTYPE_COUNT
} ln_dtype;

size_t ln_dtype_size(ln_dtype dt);
const char *ln_dtype_name(ln_dtype dt);
int ln_dtype_from_name(const char *name, ln_dtype *out);
bool ln_dtype_is_float(ln_dtype dt);
/* The dtype of a binary op's result (PyTorch's type promotion, without
** scalar special cases). */
ln_dtype ln_dtype_promote(ln_dtype a, ln_dtype b);

/* ---- devices --------------------------------------------------------- */

typedef struct ln_backend ln_backend; /* core/backend.h */

typedef struct ln_device {
  const ln_backend *backend;
  int index;
} ln_device;

ln_device ln_device_cpu(void);
/* Parses "cpu", "opencl", "opencl:N". */
int ln_device_parse(const char *spec, ln_device *out);
bool ln_device_equal(ln_device a, ln_device b);
/* Writes "cpu" or "opencl:0" into buf. */
void ln_device_name(ln_device d, char *buf, size_t len);

/* ---- storage and tensors --------------------------------------------- */

typedef struct ln_storage {
  int refcount;
  void *data;          /* host pointer on the CPU, backend handle elsewhere */
  size_t nbytes;
  ln_device device;
  uint64_t version;    /* bumped by every in-place write; autograd checks it */
  void *owner;         /* non-NULL: memory borrowed from a host, not freed */
  void (*owner_release)(void *owner); /* called when the storage goes (a
                                         mapped file's reference), or NULL */
} ln_storage;

typedef struct ln_node ln_node; /* core/autograd.h */

typedef struct ln_tensor {
  int refcount;
  ln_storage *storage;
  int64_t offset;                  /* in elements */
  int ndim;
  int64_t shape[LN_MAX_DIMS];
  int64_t stride[LN_MAX_DIMS];     /* in elements; 0 for expanded dims */
  ln_dtype dtype;
  /* autograd */
  bool requires_grad;
  bool retains_grad;
  bool grad_view;                  /* a view recorded by autograd: its base
                                      would not see in-place writes */
  struct ln_tensor *grad;          /* accumulated gradient (leaves, retained) */
  ln_node *grad_fn;                /* NULL for leaves */
  struct ln_hook *hooks;           /* gradient hooks, owned (usually NULL) */
  struct ln_hook *post_hooks;      /* post-accumulate hooks, owned */
} ln_tensor;

ln_tensor *ln_tensor_retain(ln_tensor *t);
void ln_tensor_release(ln_tensor *t); /* NULL is fine */

int64_t ln_tensor_numel(const ln_tensor *t);
size_t ln_tensor_nbytes(const ln_tensor *t); /* numel * dtype size */
bool ln_tensor_is_contiguous(const ln_tensor *t);
bool ln_tensor_is_leaf(const ln_tensor *t);
/* "(2,3)" into buf, for error messages. */
const char *ln_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);
#define LN_SHAPE_STRLEN 128
/* Whether a tensor of this shape may exist: LN_OK, or an error ("op: ...";
** no prefix when op is NULL) for a negative size, more than 2^40 elements,
** or nonzero sizes whose product passes 2^40 (so that no empty tensor has
** a dim no loop could walk). */
int ln_check_sizes(const char *op, int ndim, const int64_t *shape);

ln_device ln_tensor_device(const ln_tensor *t);
/* Host pointer to element 0 of a CPU tensor (NULL elsewhere). */
void *ln_tensor_data(const ln_tensor *t);

/* ---- creation -------------------------------------------------------- */

ln_tensor *ln_empty(int ndim, const int64_t *shape, ln_dtype dt, ln_device dev);
ln_tensor *ln_zeros(int ndim, const int64_t *shape, ln_dtype dt, ln_device dev);
ln_tensor *ln_full(int ndim, const int64_t *shape, double value, ln_dtype dt,
                   ln_device dev);
ln_tensor *ln_scalar(double value, ln_dtype dt, ln_device dev); /* 0-dim */
ln_tensor *ln_arange(double start, double end, double step, ln_dtype dt,
                     ln_device dev);
ln_tensor *ln_linspace(double start, double end, int64_t steps, ln_dtype dt,
                       ln_device dev);
ln_tensor *ln_eye(int64_t n, int64_t m, ln_dtype dt, ln_device dev);
/* Copies count values of type dt from host memory into a new tensor. */
ln_tensor *ln_from_buffer(const void *data, int ndim, const int64_t *shape,
                          ln_dtype dt, ln_device dev);
/* Wraps host memory without copying; the caller keeps it alive. */
ln_tensor *ln_wrap_buffer(void *data, int ndim, const int64_t *shape,
                          ln_dtype dt);
/* Copies a tensor's values (any strides) into host memory as dtype dt. */
int ln_to_buffer(const ln_tensor *t, void *data, ln_dtype dt);

/* ---- random ---------------------------------------------------------- */

/* A counter-based generator: the same numbers on every machine for a
** seed. The global one is seeded by ln_manual_seed. */
typedef struct ln_generator {
  uint64_t seed;
  uint64_t counter;
} ln_generator;

void ln_manual_seed(uint64_t seed);
ln_generator *ln_default_generator(void);
void ln_generator_init(ln_generator *g, uint64_t seed);
uint64_t ln_generator_next(ln_generator *g);       /* 64 random bits */
double ln_generator_uniform(ln_generator *g);      /* [0, 1) */
double ln_generator_normal(ln_generator *g);       /* N(0, 1) */

ln_tensor *ln_rand(ln_generator *g, int ndim, const int64_t *shape,
                   ln_dtype dt, ln_device dev);
ln_tensor *ln_randn(ln_generator *g, int ndim, const int64_t *shape,
                    ln_dtype dt, ln_device dev);
/* Integers in [low, high). */
ln_tensor *ln_randint(ln_generator *g, int64_t low, int64_t high, int ndim,
                      const int64_t *shape, ln_dtype dt, ln_device dev);
ln_tensor *ln_randperm(ln_generator *g, int64_t n, ln_dtype dt, ln_device dev);
/* In place: uniform in [lo, hi), normal(mean, std), bernoulli(p) as 0/1. */
int ln_uniform_(ln_generator *g, ln_tensor *t, double lo, double hi);
int ln_normal_(ln_generator *g, ln_tensor *t, double mean, double std);
int ln_bernoulli_(ln_generator *g, ln_tensor *t, double p);

/* ---- views (share storage; recorded by autograd) --------------------- */

ln_tensor *ln_view(ln_tensor *t, int ndim, const int64_t *shape); /* -1 infers */
ln_tensor *ln_reshape(ln_tensor *t, int ndim, const int64_t *shape);
ln_tensor *ln_transpose(ln_tensor *t, int d0, int d1);
ln_tensor *ln_permute(ln_tensor *t, const int *dims);
ln_tensor *ln_expand(ln_tensor *t, int ndim, const int64_t *shape); /* -1 keeps */
ln_tensor *ln_narrow(ln_tensor *t, int dim, int64_t start, int64_t length);
/* Every step-th element of [start, stop) along dim. */
ln_tensor *ln_slice(ln_tensor *t, int dim, int64_t start, int64_t stop,
                    int64_t step);
ln_tensor *ln_select(ln_tensor *t, int dim, int64_t index);
ln_tensor *ln_squeeze(ln_tensor *t, int dim); /* dim -1: all size-1 dims */
ln_tensor *ln_unsqueeze(ln_tensor *t, int dim);
ln_tensor *ln_flatten(ln_tensor *t, int start_dim, int end_dim);
/* Sliding windows along dim as a view (PyTorch's Tensor.unfold, and a
** dilation): dim holds the window count, a new last dim of `size` the
** window's elements, `dilation` apart, windows starting `step` apart. */
ln_tensor *ln_unfold(ln_tensor *t, int dim, int64_t size, int64_t step,
                     int64_t dilation);
/* Its backward: g (unfold's output shape) summed back into a new tensor
** of the unfolded tensor's shape (ndim, shape). Convolution's col2im. */
ln_tensor *ln_unfold_backward(ln_tensor *g, int ndim, const int64_t *shape,
                              int dim, int64_t size, int64_t step,
                              int64_t dilation);
ln_tensor *ln_contiguous(ln_tensor *t); /* t itself (retained) if already */
ln_tensor *ln_clone(ln_tensor *t);
ln_tensor *ln_detach(ln_tensor *t);     /* shares storage, no history */
/* New tensor of dtype dt (t retained when already dt). */
ln_tensor *ln_to_dtype(ln_tensor *t, ln_dtype dt);
ln_tensor *ln_to_device(ln_tensor *t, ln_device dev);
/* Both: dtype dt on device dev (t retained when it already is both). */
ln_tensor *ln_to(ln_tensor *t, ln_dtype dt, ln_device dev);

/* PyTorch's F.pad: pad holds (before, after) amounts for the last dim,
** then the one before it, and so on (npad even, at most 2 per dim);
** negative amounts crop. Reflect, replicate and circular pad at most the
** last ndim-1 dims (the first is the batch). */
typedef enum ln_pad_mode {
  LN_PAD_CONSTANT, LN_PAD_REFLECT, LN_PAD_REPLICATE, LN_PAD_CIRCULAR
} ln_pad_mode;
ln_tensor *ln_pad(ln_tensor *t, int npad, const int64_t *pad, ln_pad_mode mode,
                  double value);

/* Copies src (broadcast to dst's shape, converted to dst's dtype) into dst. */
int ln_copy_(ln_tensor *dst, ln_tensor *src);
int ln_fill_(ln_tensor *dst, double value);
int ln_zero_(ln_tensor *dst);

/* ---- pointwise ------------------------------------------------------- */

typedef enum ln_unary_op {
  LN_UNARY_NEG, LN_UNARY_ABS, LN_UNARY_EXP, LN_UNARY_LOG, LN_UNARY_SQRT,
  LN_UNARY_RSQRT, LN_UNARY_SIN, LN_UNARY_COS, LN_UNARY_TANH,
  LN_UNARY_SIGMOID, LN_UNARY_RELU, LN_UNARY_SIGN, LN_UNARY_FLOOR,
  LN_UNARY_CEIL, LN_UNARY_ROUND, LN_UNARY_RECIPROCAL, LN_UNARY_SQUARE,
  LN_UNARY_LOG1P, LN_UNARY_EXPM1, LN_UNARY_GELU, LN_UNARY_SILU,
  LN_UNARY_ERF, LN_UNARY_TAN, LN_UNARY_ASIN, LN_UNARY_ACOS, LN_UNARY_ATAN,
  /* tests, bool results (from NOT on: see ln_unary_is_test) */
  LN_UNARY_NOT, LN_UNARY_ISNAN, LN_UNARY_ISINF, LN_UNARY_ISFINITE,
  LN_UNARY_COUNT
} ln_unary_op;

typedef enum ln_binary_op {
  LN_BINARY_ADD, LN_BINARY_SUB, LN_BINARY_MUL, LN_BINARY_DIV, LN_BINARY_POW,
  LN_BINARY_MAXIMUM, LN_BINARY_MINIMUM, LN_BINARY_FMOD, LN_BINARY_ATAN2,
  LN_BINARY_REMAINDER, LN_BINARY_FLOOR_DIVIDE, /* floored, as Lua's % and // */
  LN_BINARY_EQ, LN_BINARY_NE, LN_BINARY_LT, LN_BINARY_LE, LN_BINARY_GT,
  LN_BINARY_GE, /* comparisons: bool result */
  LN_BINARY_AND, LN_BINARY_OR, LN_BINARY_XOR, /* logical, bool result */
  LN_BINARY_COUNT
} ln_binary_op;

const char *ln_unary_name(ln_unary_op op);
const char *ln_binary_name(ln_binary_op op);

ln_tensor *ln_unary(ln_unary_op op, ln_tensor *a);
ln_tensor *ln_binary(ln_binary_op op, ln_tensor *a, ln_tensor *b);
/* a op scalar; the scalar takes a's dtype when a is float, as in PyTorch. */
ln_tensor *ln_binary_scalar(ln_binary_op op, ln_tensor *a, double s);
ln_tensor *ln_scalar_binary(ln_binary_op op, double s, ln_tensor *a);
int ln_unary_(ln_unary_op op, ln_tensor *a);
int ln_binary_(ln_binary_op op, ln_tensor *a, ln_tensor *b);
int ln_binary_scalar_(ln_binary_op op, ln_tensor *a, double s);

ln_tensor *ln_add(ln_tensor *a, ln_tensor *b);
ln_tensor *ln_sub(ln_tensor *a, ln_tensor *b);
ln_tensor *ln_mul(ln_tensor *a, ln_tensor *b);
ln_tensor *ln_div(ln_tensor *a, ln_tensor *b);
/* a + alpha * b */
ln_tensor *ln_add_scaled(ln_tensor *a, ln_tensor *b, double alpha);
ln_tensor *ln_clamp(ln_tensor *a, double lo, double hi); /* +-HUGE_VAL: none */
ln_tensor *ln_leaky_relu(ln_tensor *a, double slope);
/* In place (history recorded like ln_unary_). */
int ln_clamp_(ln_tensor *a, double lo, double hi);
int ln_leaky_relu_(ln_tensor *a, double slope);
/* cond ? a : b, broadcast; cond is bool. */
ln_tensor *ln_where(ln_tensor *cond, ln_tensor *a, ln_tensor *b);
/* Tolerance and whole-tensor comparisons, as PyTorch's (core/op_isclose.c):
** isclose is a == b | |a - b| <= atol + rtol |b| elementwise (bool,
** broadcast), allclose whether all of it holds, equal whether a and b have
** the same shape and values. No history is recorded. */
ln_tensor *ln_isclose(ln_tensor *a, ln_tensor *b, double rtol, double atol,
                      bool equal_nan);
int ln_allclose(ln_tensor *a, ln_tensor *b, double rtol, double atol,
                bool equal_nan, bool *out);
int ln_equal(ln_tensor *a, ln_tensor *b, bool *out);

/* ---- reductions ------------------------------------------------------ */

typedef enum ln_reduce_op {
  LN_REDUCE_SUM, LN_REDUCE_MEAN, LN_REDUCE_PROD, LN_REDUCE_MAX,
  LN_REDUCE_MIN, LN_REDUCE_ARGMAX, LN_REDUCE_ARGMIN, LN_REDUCE_LOGSUMEXP,
  LN_REDUCE_ANY, LN_REDUCE_ALL,
  LN_REDUCE_COUNT
} ln_reduce_op;

/* dim < 0: over all elements (keepdim then keeps every dim as 1).
** argmax/argmin return int64 0-based indices. */
ln_tensor *ln_reduce(ln_reduce_op op, ln_tensor *a, int dim, bool keepdim);
/* Over several dims at once (ndims == 0: all). */
ln_tensor *ln_reduce_dims(ln_reduce_op op, ln_tensor *a, int ndims,
                          const int *dims, bool keepdim);
/* max/min along dim giving values and int64 indices. */
int ln_max_dim(ln_tensor *a, int dim, bool keepdim, ln_tensor **values,
               ln_tensor **indices);
int ln_min_dim(ln_tensor *a, int dim, bool keepdim, ln_tensor **values,
               ln_tensor **indices);
ln_tensor *ln_var(ln_tensor *a, int dim, bool keepdim, int correction);
ln_tensor *ln_std(ln_tensor *a, int dim, bool keepdim, int correction);
ln_tensor *ln_norm(ln_tensor *a, double p, int dim, bool keepdim);
ln_tensor *ln_softmax(ln_tensor *a, int dim);
ln_tensor *ln_log_softmax(ln_tensor *a, int dim);
/* Sum a (a broadcast result) back down to shape: for broadcasting grads. */
ln_tensor *ln_sum_to(ln_tensor *a, int ndim, const int64_t *shape);
/* Running sums and products along dim; integer and bool inputs give
** int64 (core/op_scan.c). */
ln_tensor *ln_cumsum(ln_tensor *a, int dim);
ln_tensor *ln_cumprod(ln_tensor *a, int dim);

/* ---- linear algebra -------------------------------------------------- */

ln_tensor *ln_matmul(ln_tensor *a, ln_tensor *b); /* numpy semantics */
ln_tensor *ln_mm(ln_tensor *a, ln_tensor *b);
ln_tensor *ln_bmm(ln_tensor *a, ln_tensor *b);
/* beta * c + alpha * (a @ b) */
ln_tensor *ln_addmm(ln_tensor *c, ln_tensor *a, ln_tensor *b, double beta,
                    double alpha);
ln_tensor *ln_dot(ln_tensor *a, ln_tensor *b);
ln_tensor *ln_outer(ln_tensor *a, ln_tensor *b);
/* y = x @ w^T + bias (bias may be NULL): nn.Linear in one op. */
ln_tensor *ln_linear(ln_tensor *x, ln_tensor *w, ln_tensor *bias);

void ln_set_num_threads(int n);
int ln_get_num_threads(void);

/* ---- indexing -------------------------------------------------------- */

ln_tensor *ln_gather(ln_tensor *a, int dim, ln_tensor *index);
ln_tensor *ln_scatter(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src);
ln_tensor *ln_scatter_add(ln_tensor *a, int dim, ln_tensor *index,
                          ln_tensor *src);
ln_tensor *ln_index_select(ln_tensor *a, int dim, ln_tensor *index);
ln_tensor *ln_index_add(ln_tensor *a, int dim, ln_tensor *index,
                        ln_tensor *src, double alpha);
ln_tensor *ln_masked_fill(ln_tensor *a, ln_tensor *mask, double value);
ln_tensor *ln_masked_select(ln_tensor *a, ln_tensor *mask);
ln_tensor *ln_cat(int n, ln_tensor **ts, int dim);
ln_tensor *ln_stack(int n, ln_tensor **ts, int dim);
/* Sorted values and int64 indices along dim. */
int ln_sort(ln_tensor *a, int dim, bool descending, ln_tensor **values,
            ln_tensor **indices);
int ln_topk(ln_tensor *a, int64_t k, int dim, bool largest, bool sorted,
            ln_tensor **values, ln_tensor **indices);
ln_tensor *ln_one_hot(ln_tensor *index, int64_t num_classes);
/* a with a[.., index[j], ..] = value along dim. */
ln_tensor *ln_index_fill(ln_tensor *a, int dim, ln_tensor *index,
                         double value);
/* In-place forms (a keeps its shape: a mask must broadcast to it). */
int ln_scatter_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src);
int ln_scatter_add_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src);
int ln_index_add_(ln_tensor *a, int dim, ln_tensor *index, ln_tensor *src,
                  double alpha);
int ln_index_fill_(ln_tensor *a, int dim, ln_tensor *index, double value);
int ln_masked_fill_(ln_tensor *a, ln_tensor *mask, double value);

/* ---- autograd -------------------------------------------------------- */

bool ln_grad_enabled(void);
/* Returns the previous setting so scopes can restore it. */
bool ln_set_grad_enabled(bool on);
int ln_set_requires_grad(ln_tensor *t, bool on);
int ln_retain_grad(ln_tensor *t);
/* Backward from root; grad NULL means ones (root must be a scalar then). */
int ln_backward(ln_tensor *root, ln_tensor *grad, bool retain_graph);

/* How a backward pass runs. create_graph records the backward pass itself,
** so that the gradients have history (double backward); it keeps the graph
** too. Ops whose backward is not differentiable refuse it with
** "<Node>: double backward is not supported". */
typedef struct ln_backward_opts {
  bool retain_graph;
  bool create_graph;
  bool allow_unused;  /* ln_grad: an input the outputs do not depend on
                         gets NULL instead of an error */
} ln_backward_opts;
/* ln_backward with options. */
int ln_backward_with(ln_tensor *root, ln_tensor *grad,
                     const ln_backward_opts *opts);
/* PyTorch's torch.autograd.grad: the gradients of the outputs (weighted by
** grad_outputs[i], NULL meaning ones for a scalar output) with respect to
** each input, as new references in results[i]. No .grad is touched. */
int ln_grad(int nout, ln_tensor *const *outputs,
            ln_tensor *const *grad_outputs, int nin, ln_tensor *const *inputs,
            const ln_backward_opts *opts, ln_tensor **results);

/* Gradient hooks (t:register_hook). When backward computes the gradient
** of t, fn(ud, grad) returns the gradient to use instead: grad retained, or
** a new tensor of its shape; NULL with an ln_error fails the backward. A
** leaf's hooks see its whole gradient once per backward, before it is
** added to .grad. free_ud (may be NULL) runs when the hook is removed or t
** freed. *id names the hook for ln_remove_grad_hook. */
typedef ln_tensor *(*ln_grad_hook_fn)(void *ud, ln_tensor *grad);
int ln_add_grad_hook(ln_tensor *t, ln_grad_hook_fn fn, void *ud,
                     void (*free_ud)(void *ud), int64_t *id);
/* Whether t had the hook (it is gone now); either kind of hook. */
bool ln_remove_grad_hook(ln_tensor *t, int64_t id);
/* Post-accumulate hooks (t:register_post_accumulate_grad_hook, PyTorch's
** register_post_accumulate_grad_hook), on leaves only: fn(ud, t) runs once
** per backward, as soon as t.grad holds the whole gradient of that
** backward, while backward goes on with the rest of the graph (data
** parallel training starts reducing the gradient then). LN_ERR with an
** ln_error fails the backward. Not run by ln_grad, which touches no .grad. */
typedef int (*ln_post_hook_fn)(void *ud, ln_tensor *t);
int ln_add_post_accumulate_hook(ln_tensor *t, ln_post_hook_fn fn, void *ud,
                                void (*free_ud)(void *ud), int64_t *id);
/* The op name of t's grad_fn ("AddBackward"), or NULL for leaves. */
const char *ln_grad_fn_name(const ln_tensor *t);

/* ---- memory accounting ----------------------------------------------- */

/* Bytes of tensor storage alive now on a device kind (for the Lua GC). */
size_t ln_memory_allocated(void);

/* The CPU's cache of freed blocks (core/cpu_cache.c): bytes held by live
** storages and bytes cached for reuse (both rounded to size classes);
** ln_cpu_empty_cache gives the cached ones back to the system. */
void ln_cpu_memory_stats(size_t *in_use, size_t *cached);
void ln_cpu_empty_cache(void);
/* Whether freed CPU blocks are kept (not under ASan or LUANN_CPU_CACHE=0). */
bool ln_cpu_caching(void);
/* The instruction set the CPU kernels run on: "generic", "avx2" or
** "avx512" (core/cpu_isa.c). */
const char *ln_cpu_isa(void);
/* The threads CPU work runs on now: ln_get_num_threads(), or fewer while
** other programs keep this process's cores busy (core/cpu_load.c). */
int ln_cpu_threads_now(void);

/* File formats (IDX, checkpoints) and fused training steps and losses. */
#include "luann_io.h"
#include "luann_nn.h"

#endif
