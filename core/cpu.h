/*
** cpu.h: what the CPU backend's files share (internal).
**
** cpu_for_each walks operands of one shape the way PyTorch's
** TensorIterator does: dims that are contiguous in every operand are
** merged, then a kernel gets one innermost row at a time (pointers and
** byte strides per operand), so its tight loop sees plain arrays in the
** common case. Large work is split over threads with OpenMP.
*/
#ifndef LUANN_CPU_H
#define LUANN_CPU_H

#include "backend.h"
#include "internal.h"

#define CPU_MAX_OPERANDS 4

/* One row: n elements; operand i starts at p[i] and steps by s[i] bytes. */
typedef void (*cpu_row_fn)(char **p, const int64_t *s, int64_t n, void *ctx);

/* Calls row for every innermost row of ts[0..nops) (all of one shape).
** Rows may run on several threads at once when `parallel`. */
LN_INTERNAL void cpu_for_each(int nops, const ln_tensor *const *ts,
                              cpu_row_fn row, void *ctx, bool parallel);

/* Load and store one element of a dtype as double (integer dtypes beyond
** 2^53 lose precision: use same-dtype paths for int64 arithmetic). */
static inline double cpu_load(ln_dtype dt, const char *p) {
  switch (dt) {
    case LN_FLOAT32: return *(const float *)p;
    case LN_FLOAT64: return *(const double *)p;
    case LN_INT64: return (double)*(const int64_t *)p;
    case LN_UINT8: return *(const uint8_t *)p;
    case LN_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
  }
}

static inline void cpu_store(ln_dtype dt, char *p, double v) {
  switch (dt) {
    case LN_FLOAT32: *(float *)p = (float)v; break;
    case LN_FLOAT64: *(double *)p = v; break;
    case LN_INT64: *(int64_t *)p = v != v ? 0 : (int64_t)v; break;
    case LN_UINT8: *(uint8_t *)p = v != v ? 0 : (uint8_t)(int64_t)v; break;
    case LN_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
  }
}

/* Element pointer of a CPU tensor at flat logical index i (slow path). */
LN_INTERNAL char *cpu_element(const ln_tensor *t, int64_t i);

/* The threads to run on: want (the set count), or fewer while other
** programs keep our cores busy (cpu_load.c). Also sets OpenMP's team size
** for the loops that follow. */
LN_INTERNAL int cpu_free_threads(int want);

/* Below this many elements, work stays on one thread: a parallel region
** costs microseconds when idle and far more when the other core is busy. */
#define CPU_PARALLEL_MIN 262144

/* for (int64_t VAR = 0; VAR < N; VAR++) BODY on THREADS of OpenMP's
** threads, or, for one, with no OpenMP region at all: a region under a
** false if clause still makes and frees a team of one in libgomp (a malloc
** large enough to consolidate glibc's free lists), microseconds that a
** step of small ops pays on every op. */
#define CPU_FOR(THREADS, VAR, N, ...)                                         \
  do {                                                                        \
    int64_t cpu_for_n_ = (N);                                                 \
    int cpu_for_t_ = (THREADS);                                               \
    if (cpu_for_t_ > 1) {                                                     \
      _Pragma("omp parallel for num_threads(cpu_for_t_) schedule(static)")    \
      for (int64_t VAR = 0; VAR < cpu_for_n_; VAR++) __VA_ARGS__              \
    } else {                                                                  \
      for (int64_t VAR = 0; VAR < cpu_for_n_; VAR++) __VA_ARGS__              \
    }                                                                         \
  } while (0)

/* ---- per-ISA kernels ------------------------------------------------------
** The loop kernels (cpu_copy.c, cpu_pointwise.c, cpu_reduce.c, cpu_optim.c)
** are compiled once per instruction set (the Makefile's CPU_ISAS, with
** -DLN_CPU_ISA=generic, avx2 or avx512) and cpu_isa.c picks one set at run
** time, as BLIS does for its kernels: the build never assumes the CPU it
** runs on. In those builds the entries below get the ISA's suffix
** (cpu_unary_avx512); built plainly (no LN_CPU_ISA), the files give the
** entries themselves, and cpu_isa.c adds nothing. */
#ifdef LN_CPU_ISA
#define CPU_ISA_CAT2(a, b) a##_##b
#define CPU_ISA_CAT(a, b) CPU_ISA_CAT2(a, b)
#define CPU_ISA_NAME(f) CPU_ISA_CAT(f, LN_CPU_ISA)
#define cpu_copy CPU_ISA_NAME(cpu_copy)
#define cpu_fill CPU_ISA_NAME(cpu_fill)
#define cpu_unary CPU_ISA_NAME(cpu_unary)
#define cpu_binary CPU_ISA_NAME(cpu_binary)
#define cpu_clamp CPU_ISA_NAME(cpu_clamp)
#define cpu_leaky_relu CPU_ISA_NAME(cpu_leaky_relu)
#define cpu_where CPU_ISA_NAME(cpu_where)
#define cpu_reduce CPU_ISA_NAME(cpu_reduce)
#define cpu_softmax CPU_ISA_NAME(cpu_softmax)
#define cpu_sgd_step CPU_ISA_NAME(cpu_sgd_step)
#define cpu_adam_step CPU_ISA_NAME(cpu_adam_step)
#define cpu_rmsprop_step CPU_ISA_NAME(cpu_rmsprop_step)
#define cpu_adagrad_step CPU_ISA_NAME(cpu_adagrad_step)
#endif

/* The entries of ln_backend_cpu, one family per file. */
LN_INTERNAL int cpu_storage_alloc(ln_storage *s, size_t nbytes);
LN_INTERNAL void cpu_storage_free(ln_storage *s);
LN_INTERNAL int cpu_write(ln_storage *s, size_t offset, const void *src,
                          size_t n);
LN_INTERNAL int cpu_read(ln_storage *s, size_t offset, void *dst, size_t n);

/* cpu_copy.c */
LN_INTERNAL int cpu_copy(ln_tensor *dst, const ln_tensor *src);
LN_INTERNAL int cpu_fill(ln_tensor *dst, double value);

/* cpu_pointwise.c */
LN_INTERNAL int cpu_unary(ln_unary_op op, ln_tensor *out, const ln_tensor *a);
LN_INTERNAL int cpu_binary(ln_binary_op op, ln_tensor *out, const ln_tensor *a,
                           const ln_tensor *b);
LN_INTERNAL int cpu_clamp(ln_tensor *out, const ln_tensor *a, double lo,
                          double hi);
LN_INTERNAL int cpu_leaky_relu(ln_tensor *out, const ln_tensor *a,
                               double slope);
LN_INTERNAL int cpu_where(ln_tensor *out, const ln_tensor *cond,
                          const ln_tensor *a, const ln_tensor *b);

/* cpu_reduce.c */
LN_INTERNAL int cpu_reduce(ln_reduce_op op, ln_tensor *out, ln_tensor *idx,
                           const ln_tensor *a, int dim);
LN_INTERNAL int cpu_softmax(ln_tensor *out, const ln_tensor *a, int dim,
                            bool log);

/* cpu_isa.c: whether the AVX-512 set is the one in use. */
LN_INTERNAL bool cpu_has_avx512(void);

/* cpu_sgemm.c: c = alpha * a @ b + beta * c for float32, m x n from k, in
** row and column strides (c's columns contiguous), on threads threads.
** False, computing nothing, for the layouts and CPUs it leaves to BLIS. */
typedef struct cpu_sgemm_args {
  int64_t m, n, k;
  float alpha, beta;
  const float *a;
  int64_t ars, acs;
  const float *b;
  int64_t brs, bcs;
  float *c;
  int64_t crs;
} cpu_sgemm_args;
LN_INTERNAL bool cpu_sgemm(const cpu_sgemm_args *g, int threads);

/* cpu_blas.c */
LN_INTERNAL int cpu_gemm(ln_dtype dt, int64_t batch, int64_t m, int64_t n,
                         int64_t k, double alpha, ln_matview a, ln_matview b,
                         double beta, ln_matview c);

/* cpu_index.c */
LN_INTERNAL int cpu_gather(ln_tensor *out, const ln_tensor *a, int dim,
                           const ln_tensor *index);
LN_INTERNAL int cpu_scatter(ln_tensor *out, int dim, const ln_tensor *index,
                            const ln_tensor *src, bool accumulate);
LN_INTERNAL int cpu_index_select(ln_tensor *out, const ln_tensor *a, int dim,
                                 const ln_tensor *index);
LN_INTERNAL int cpu_index_add(ln_tensor *out, int dim, const ln_tensor *index,
                              const ln_tensor *src, double alpha);
LN_INTERNAL int cpu_masked_select(ln_tensor *out, const ln_tensor *a,
                                  const ln_tensor *mask);
LN_INTERNAL int cpu_sort(ln_tensor *values, ln_tensor *indices,
                         const ln_tensor *a, int dim, bool descending);

/* cpu_optim.c */
LN_INTERNAL int cpu_sgd_step(ln_tensor *param, const ln_tensor *grad,
                             ln_tensor *buf, const ln_optim_step *s);
LN_INTERNAL int cpu_adam_step(ln_tensor *param, const ln_tensor *grad,
                              ln_tensor *m, ln_tensor *v, ln_tensor *vmax,
                              const ln_optim_step *s);
LN_INTERNAL int cpu_rmsprop_step(ln_tensor *param, const ln_tensor *grad,
                                 ln_tensor *square_avg, ln_tensor *buf,
                                 ln_tensor *grad_avg, const ln_optim_step *s);
LN_INTERNAL int cpu_adagrad_step(ln_tensor *param, const ln_tensor *grad,
                                 ln_tensor *sum, const ln_optim_step *s);

#endif
