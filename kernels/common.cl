/*
** common.cl: what every kernel file shares; the host puts it first in
** each program.
**
** One program is built per dtype: -DLN_DTYPE names it (a value of luann's
** ln_dtype: LN_FLOAT32, LN_FLOAT64, LN_INT64, LN_UINT8, LN_BOOL) and it
** becomes the type `real` of every kernel, as CLBlast's common.opencl does
** with `typedef float real`. `facc` is the floating type math is done in for
** that dtype (integers go through it for exp and friends), `acc` the type
** sums and products of it accumulate in. -DLN_FP64=1 when the device has
** cl_khr_fp64.
**
** Kernels walk their items with grid-stride loops (any global size works,
** sizes that do not fill a work-group too). A strided kernel gets a shape
** (shape_t) and per operand an element offset and strides (strides_t), the
** host having merged dims that are contiguous in every operand; a _contig
** kernel gets plain arrays and offsets.
*/
#if LN_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* No fused multiply-adds: kernels round like the CPU's code does, so both
** devices give the same results (the optimizers match bit for bit). */
#pragma OPENCL FP_CONTRACT OFF

/* The host passes every constant it shares with the kernels as -D options
** under its own names (core/ocl_runtime.c's code table): the dtypes
** (ln_dtype), the op codes (LN_UNARY_*, OCL_UNARY_*, LN_BINARY_*,
** LN_REDUCE_*), the error flag's codes (OCL_FLAG_*) and OCL_MAX_DIMS. The
** kernels use the names only, never the numbers. */
#if !defined(LN_FLOAT32) || !defined(LN_BINARY_ADD) || !defined(OCL_MAX_DIMS)
#error "build with the host's -D options (core/ocl_runtime.c build_options)"
#endif

#if LN_DTYPE == LN_FLOAT32
typedef float real;
typedef float facc;
typedef float acc;
#define REAL_IS_FLOAT 1
#elif LN_DTYPE == LN_FLOAT64
typedef double real;
typedef double facc;
typedef double acc;
#define REAL_IS_FLOAT 1
#elif LN_DTYPE == LN_INT64
typedef long real;
typedef long acc;
#define REAL_IS_FLOAT 0
#elif LN_DTYPE == LN_UINT8 || LN_DTYPE == LN_BOOL
typedef uchar real;
typedef long acc;
#define REAL_IS_FLOAT 0
#else
#error "LN_DTYPE must be an ln_dtype"
#endif
#define REAL_IS_BOOL (LN_DTYPE == LN_BOOL)

#if !REAL_IS_FLOAT
#if LN_FP64
typedef double facc;
#else
typedef float facc;
#endif
#endif

#if REAL_IS_FLOAT
#define IS_NAN(x) isnan(x)
#define ACC_LOWEST ((acc)-INFINITY)
#define ACC_HIGHEST ((acc)INFINITY)
#else
#define IS_NAN(x) 0
#define ACC_LOWEST ((acc)LONG_MIN)
#define ACC_HIGHEST ((acc)LONG_MAX)
#endif

/* ---- conversions: every store follows the host's rules ---------------- */

/* A float value stored as this dtype: NaN becomes 0 in integers, any
** non-zero value (NaN too) true in bool. */
inline real real_from_facc(facc v) {
#if REAL_IS_FLOAT
  return (real)v;
#elif REAL_IS_BOOL
  return v != 0;
#elif LN_DTYPE == LN_UINT8
  return isnan(v) ? 0 : (real)(long)v;
#else
  return isnan(v) ? 0 : (long)v;
#endif
}

inline real real_from_long(long v) {
#if REAL_IS_BOOL
  return v != 0;
#else
  return (real)v;
#endif
}

inline facc facc_of(real v) { return (facc)v; }

/* Element i of a buffer of dtype dt, as this program's real (copies
** across dtypes read their source this way). */
inline real load_as_real(__global const uchar *p, long i, int dt) {
  switch (dt) {
    case LN_FLOAT32: return real_from_facc((facc)((__global const float *)p)[i]);
#if LN_FP64
    case LN_FLOAT64: return real_from_facc((facc)((__global const double *)p)[i]);
#endif
    case LN_INT64: return real_from_long(((__global const long *)p)[i]);
    case LN_UINT8: return real_from_long(p[i]);
    case LN_BOOL: return real_from_long(p[i] != 0);
  }
  return 0;
}

/* ---- geometry ------------------------------------------------------------ */

typedef struct shape_t {
  long ndim, numel;
  long size[OCL_MAX_DIMS];
} shape_t;

typedef struct strides_t {
  long offset;
  long st[OCL_MAX_DIMS];
} strides_t;

/* A whole tensor as the kernels of primitive ops get it (core/op.h): the
** host's ln_tensor geometry, unmerged. */
typedef struct view_t {
  long offset, ndim;
  long size[OCL_MAX_DIMS];
  long st[OCL_MAX_DIMS];
} view_t;

/* Offsets of flat (row-major) index i in up to four operands sharing a
** shape; unused operands may repeat one. */
inline void offsets4(const shape_t *sh, long i, const strides_t *a, long *oa,
                     const strides_t *b, long *ob, const strides_t *c,
                     long *oc, const strides_t *d, long *od) {
  long pa = a->offset, pb = b->offset, pc = c->offset, pd = d->offset;
  for (int k = (int)sh->ndim - 1; k > 0; k--) {
    long n = sh->size[k], x = i % n;
    i /= n;
    pa += x * a->st[k];
    pb += x * b->st[k];
    pc += x * c->st[k];
    pd += x * d->st[k];
  }
  *oa = pa + i * a->st[0];
  *ob = pb + i * b->st[0];
  *oc = pc + i * c->st[0];
  *od = pd + i * d->st[0];
}

inline long offset1(const shape_t *sh, long i, const strides_t *a) {
  long pa = a->offset;
  for (int k = (int)sh->ndim - 1; k > 0; k--) {
    long n = sh->size[k];
    pa += (i % n) * a->st[k];
    i /= n;
  }
  return pa + i * a->st[0];
}

inline void offsets2(const shape_t *sh, long i, const strides_t *a, long *oa,
                     const strides_t *b, long *ob) {
  long pa = a->offset, pb = b->offset;
  for (int k = (int)sh->ndim - 1; k > 0; k--) {
    long n = sh->size[k], x = i % n;
    i /= n;
    pa += x * a->st[k];
    pb += x * b->st[k];
  }
  *oa = pa + i * a->st[0];
  *ob = pb + i * b->st[0];
}

/* ---- index errors ---------------------------------------------------------- */

/* The first bad index wins; the host reads the flag on its next read.
** code is an ocl_flag_code (OCL_FLAG_GATHER, ...; core/ocl.h).
** Layout: int code, int dim, long index, long size. */
inline void flag_index(__global int *flag, int code, int dim, long index,
                       long size) {
  if (atomic_cmpxchg(flag, 0, code) == 0) {
    flag[1] = dim;
    ((__global long *)flag)[1] = index;
    ((__global long *)flag)[2] = size;
  }
}
