/*
** ocl.h: what the OpenCL backend's files share (internal).
**
** The backend follows tinygrad's four parts: a runtime (ocl_runtime.c:
** platforms, devices, one context and in-order queue per device, programs
** built once per dtype and cached kernels, status names), an allocator
** (ocl_memory.c: a buffer pool), launches (ocl_launch.c: argument lists,
** work sizes from the device, strided geometry) and the kernel families
** (ocl_pointwise.c, ocl_reduce.c, ocl_blas.c, ocl_index.c, ocl_sort.c,
** ocl_optim.c). backend_opencl.c fills the table.
**
** A storage's data is its cl_mem. The queue runs asynchronously: nothing
** waits except reads to the host, so one device's kernels run in the order
** they were queued and freed buffers can be reused at once.
*/
#ifndef LUANN_OCL_H
#define LUANN_OCL_H

#include <CL/cl.h>

#include "backend.h"
#include "internal.h"

/* Every constant the kernels share with the host reaches them as a -D
** build option under its host name (ocl_runtime.c's code table): the .cl
** files use the names, never the numbers. */
#define OCL_MAX_DIMS LN_MAX_DIMS

/* unary.cl's ops beyond ln_unary_op, numbered after it. */
typedef enum ocl_unary_extra {
  OCL_UNARY_CLAMP = LN_UNARY_COUNT, /* p0 = lo, p1 = hi */
  OCL_UNARY_LEAKY                   /* p0 = slope */
} ocl_unary_extra;

/* The error flag's codes: which kernel found a bad index (or an integer
** division by zero: fmod, remainder, floor_divide, the op in `dim`; or a
** class target out of range: cross entropy, the targets' base in `dim`);
** ocl_flag_check names them. */
typedef enum ocl_flag_code {
  OCL_FLAG_NONE, OCL_FLAG_GATHER, OCL_FLAG_SCATTER, OCL_FLAG_INDEX_SELECT,
  OCL_FLAG_INDEX_ADD, OCL_FLAG_DIV_ZERO, OCL_FLAG_SCATTER_ADD,
  OCL_FLAG_CLASS_TARGET,
  OCL_FLAG_COUNT
} ocl_flag_code;

/* Geometry of the operands of one launch: a shape shared by all and, for
** each operand, an element offset and strides. Only cl_long fields, so the
** host and device layouts agree (passed by value as kernel arguments). */
typedef struct ocl_shape {
  cl_long ndim, numel;
  cl_long size[OCL_MAX_DIMS];
} ocl_shape;

typedef struct ocl_strides {
  cl_long offset;
  cl_long st[OCL_MAX_DIMS];
} ocl_strides;

/* A cached kernel object and its work-group size on its device. */
typedef struct ocl_kslot {
  const char *name; /* static string: the key together with dtype */
  int dtype;
  cl_kernel kernel;
  size_t local;
} ocl_kslot;

#define OCL_KCACHE 512 /* open addressing: 5 programs of ~36 kernels */

typedef struct ocl_pool ocl_pool;

typedef struct ocl_device {
  int index;
  cl_platform_id platform;
  cl_device_id id;
  char name[128], platform_name[128], vendor[128], version[128];
  cl_device_type type;
  cl_ulong global_mem, max_alloc, local_mem;
  cl_uint compute_units;
  size_t max_wg;
  bool fp64;
  /* made on first use (ocl_device_get) */
  bool ready;
  cl_context context;
  cl_command_queue queue;
  cl_program programs[LN_DTYPE_COUNT];
  ocl_kslot kernels[OCL_KCACHE];
  ocl_pool *pool;
  cl_mem flag;        /* errors found by kernels (ocl_flag_*) */
  bool flag_pending;  /* a kernel that may set it ran since the last check */
} ocl_device;

LN_INTERNAL extern const ln_backend ln_backend_opencl; /* backend_opencl.c */

/* ---- runtime (ocl_runtime.c) -------------------------------------------- */

LN_INTERNAL int ln_opencl_device_count(void);
/* Device i's description (no context made); NULL when out of range. */
LN_INTERNAL const ocl_device *ocl_device_info(int i);
/* Device i, its context and queue made on first use; NULL after
** ln_error. */
LN_INTERNAL ocl_device *ocl_device_get(int index);
/* Waits for the queue of every device in use. Hosts call it before exit:
** a kernel still queued keeps PoCL's worker thread compiling while exit()
** destroys LLVM's and CLBlast's statics under it (a crash at exit). */
LN_INTERNAL void ocl_finish_all(void);
LN_INTERNAL ocl_device *ocl_device_of(const ln_storage *s);
LN_INTERNAL const char *ocl_status_name(cl_int status);
/* ln_error("opencl: <what>: CL_NAME (code)"), returns LN_ERR. */
LN_INTERNAL int ocl_fail(cl_int status, const char *what);
/* Errors when the device cannot hold dt (float64 without cl_khr_fp64). */
LN_INTERNAL int ocl_check_dtype(const ocl_device *d, ln_dtype dt,
                                const char *op);
/* The kernel `name` of dt's program (built on first use), with its
** work-group size in *local; NULL after ln_error. */
LN_INTERNAL cl_kernel ocl_kernel_get(ocl_device *d, ln_dtype dt,
                                     const char *name, size_t *local);

/* ---- memory (ocl_memory.c) ---------------------------------------------- */

LN_INTERNAL int ocl_storage_alloc(ln_storage *s, size_t nbytes);
LN_INTERNAL void ocl_storage_free(ln_storage *s);
LN_INTERNAL int ocl_write(ln_storage *s, size_t offset, const void *src,
                          size_t n);
LN_INTERNAL int ocl_read(ln_storage *s, size_t offset, void *dst, size_t n);
/* Pool accounting and release of cached buffers (luann.opencl.memory). */
LN_INTERNAL void ocl_pool_stats(ocl_device *d, size_t *in_use, size_t *cached);
LN_INTERNAL void ocl_pool_trim(ocl_device *d);
LN_INTERNAL void ocl_pool_destroy(ocl_device *d);
/* Errors found by kernels (an index out of range, an integer fmod by
** zero): the first one is recorded in d->flag, and the host checks (and
** clears) it on the next read, as CUDA reports device-side asserts. */
LN_INTERNAL int ocl_flag_init(ocl_device *d);
LN_INTERNAL int ocl_flag_check(ocl_device *d);

/* ---- launches (ocl_launch.c) -------------------------------------------- */

/* An argument list being built; the first failure sticks in status. */
typedef struct ocl_call {
  ocl_device *dev;
  ln_dtype dtype;
  const char *name;
  cl_kernel kernel;
  size_t local;
  cl_uint narg;
  cl_int status;
} ocl_call;

/* Starts a call of kernel `name` from dtype dt's program on d. */
LN_INTERNAL int ocl_begin(ocl_call *c, ocl_device *d, ln_dtype dt,
                          const char *name);
LN_INTERNAL void ocl_arg(ocl_call *c, size_t size, const void *value);
LN_INTERNAL void ocl_arg_mem(ocl_call *c, const ln_tensor *t);
LN_INTERNAL void ocl_arg_buf(ocl_call *c, cl_mem m);
LN_INTERNAL void ocl_arg_long(ocl_call *c, int64_t v);
LN_INTERNAL void ocl_arg_int(ocl_call *c, int v);
/* A scalar of the program's `real` type (dt), converted like a store
** (ocl_scalar_bytes writes those bytes). */
LN_INTERNAL void ocl_arg_real(ocl_call *c, ln_dtype dt, double v);
LN_INTERNAL void ocl_scalar_bytes(ln_dtype dt, double v, void *out);
/* A __local buffer of `bytes` bytes for each work-group. */
LN_INTERNAL void ocl_arg_local(ocl_call *c, size_t bytes);
/* Runs over `work` items with a grid-stride loop in the kernel. */
LN_INTERNAL int ocl_run(ocl_call *c, int64_t work);
/* Runs `groups` work-groups (capped; kernels loop over group ids). */
LN_INTERNAL int ocl_run_groups(ocl_call *c, int64_t groups);
/* Grid-stride launches cap their groups at this many. */
LN_INTERNAL int64_t ocl_max_groups(const ocl_device *d);

/* Coalesces the geometry of ts (all of ts[0]'s shape) the way
** cpu_for_each does: size-1 dims dropped, dims contiguous in every operand
** merged. Returns true when every operand is then a plain array
** (ndim <= 1, unit strides): the kernels' fast path. */
LN_INTERNAL bool ocl_geometry(int nops, const ln_tensor *const *ts,
                              ocl_shape *sh, ocl_strides *st);
/* The buffer behind t's storage. */
LN_INTERNAL cl_mem ocl_mem(const ln_tensor *t);
/* A fresh contiguous tensor like t (shape, dtype, device). */
LN_INTERNAL ln_tensor *ocl_empty_like(const ln_tensor *t, ln_dtype dt);

/* ---- kernel families: the table's entries ------------------------------- */

/* ocl_pointwise.c */
LN_INTERNAL int ocl_copy(ln_tensor *dst, const ln_tensor *src);
LN_INTERNAL int ocl_fill(ln_tensor *dst, double value);
LN_INTERNAL int ocl_unary(ln_unary_op op, ln_tensor *out, const ln_tensor *a);
LN_INTERNAL int ocl_binary(ln_binary_op op, ln_tensor *out, const ln_tensor *a,
                           const ln_tensor *b);
LN_INTERNAL int ocl_clamp(ln_tensor *out, const ln_tensor *a, double lo,
                          double hi);
LN_INTERNAL int ocl_leaky_relu(ln_tensor *out, const ln_tensor *a,
                               double slope);
LN_INTERNAL int ocl_where(ln_tensor *out, const ln_tensor *cond,
                          const ln_tensor *a, const ln_tensor *b);

/* ocl_reduce.c */
LN_INTERNAL int ocl_reduce(ln_reduce_op op, ln_tensor *out, ln_tensor *idx,
                           const ln_tensor *a, int dim);
LN_INTERNAL int ocl_softmax(ln_tensor *out, const ln_tensor *a, int dim,
                            bool log);

/* ocl_blas.c */
LN_INTERNAL int ocl_gemm(ln_dtype dt, int64_t batch, int64_t m, int64_t n,
                         int64_t k, double alpha, ln_matview a, ln_matview b,
                         double beta, ln_matview c);

/* ocl_index.c */
LN_INTERNAL int ocl_gather(ln_tensor *out, const ln_tensor *a, int dim,
                           const ln_tensor *index);
LN_INTERNAL int ocl_scatter(ln_tensor *out, int dim, const ln_tensor *index,
                            const ln_tensor *src, bool accumulate);
LN_INTERNAL int ocl_index_select(ln_tensor *out, const ln_tensor *a, int dim,
                                 const ln_tensor *index);
LN_INTERNAL int ocl_index_add(ln_tensor *out, int dim, const ln_tensor *index,
                              const ln_tensor *src, double alpha);
LN_INTERNAL int ocl_masked_select(ln_tensor *out, const ln_tensor *a,
                                  const ln_tensor *mask);

/* ocl_sort.c */
LN_INTERNAL int ocl_sort(ln_tensor *values, ln_tensor *indices,
                         const ln_tensor *a, int dim, bool descending);

/* ocl_optim.c */
LN_INTERNAL int ocl_sgd_step(ln_tensor *param, const ln_tensor *grad,
                             ln_tensor *buf, const ln_optim_step *s);
LN_INTERNAL int ocl_adam_step(ln_tensor *param, const ln_tensor *grad,
                              ln_tensor *m, ln_tensor *v, ln_tensor *vmax,
                              const ln_optim_step *s);
LN_INTERNAL int ocl_rmsprop_step(ln_tensor *param, const ln_tensor *grad,
                                 ln_tensor *square_avg, ln_tensor *buf,
                                 ln_tensor *grad_avg, const ln_optim_step *s);
LN_INTERNAL int ocl_adagrad_step(ln_tensor *param, const ln_tensor *grad,
                                 ln_tensor *sum, const ln_optim_step *s);

/* ocl_kernel.c: a primitive op's kernel named in its row (core/op.h),
** launched with the arguments every such kernel takes. */
LN_INTERNAL int ocl_kernel(const ln_kernel *k, const ln_kernel_args *a);

#endif
