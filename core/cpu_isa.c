/*
** cpu_isa.c: picks the CPU kernels' instruction set at run time (see
** cpu.h's "per-ISA kernels"). The best one the CPU and the OS support:
** avx512 (F, BW, DQ, VL), avx2 (with FMA), else generic (x86-64's SSE2).
** LUANN_CPU_ISA=generic|avx2|avx512 asks for a lower one (for testing and
** comparing; a higher one than the CPU has is not taken).
**
** Every variant computes the same elementwise results: the Makefile builds
** them without FMA contraction, so only the reductions' summation order
** differs with the vector width.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512 };

static const char *const isa_names[] = {"generic", "avx2", "avx512"};
static int isa_level = ISA_GENERIC;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

#ifdef LN_CPU_ISA_DISPATCH
static int best_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return ISA_AVX2;
  return ISA_GENERIC;
}
#else
static int best_level(void) { return ISA_GENERIC; } /* one plain build */
#endif

static void choose(void) {
  int best = best_level();
  isa_level = best;
  const char *want = getenv("LUANN_CPU_ISA");
  for (int i = 0; want && i <= best; i++)
    if (strcmp(want, isa_names[i]) == 0) isa_level = i;
}

static int level(void) {
  pthread_once(&isa_once, choose);
  return isa_level;
}

const char *ln_cpu_isa(void) { return isa_names[level()]; }

bool cpu_has_avx512(void) { return level() == ISA_AVX512; }

#ifdef LN_CPU_ISA_DISPATCH
/* Each entry: its name, parameters and the arguments passing them on. */
#define CPU_ISA_ENTRIES(X)                                                    \
  X(cpu_copy, (ln_tensor * dst, const ln_tensor *src), (dst, src))            \
  X(cpu_fill, (ln_tensor * dst, double value), (dst, value))                  \
  X(cpu_unary, (ln_unary_op op, ln_tensor *out, const ln_tensor *a),          \
    (op, out, a))                                                             \
  X(cpu_binary,                                                               \
    (ln_binary_op op, ln_tensor *out, const ln_tensor *a, const ln_tensor *b), \
    (op, out, a, b))                                                          \
  X(cpu_clamp, (ln_tensor * out, const ln_tensor *a, double lo, double hi),   \
    (out, a, lo, hi))                                                         \
  X(cpu_leaky_relu, (ln_tensor * out, const ln_tensor *a, double slope),      \
    (out, a, slope))                                                          \
  X(cpu_where,                                                                \
    (ln_tensor * out, const ln_tensor *cond, const ln_tensor *a,              \
     const ln_tensor *b),                                                     \
    (out, cond, a, b))                                                        \
  X(cpu_reduce,                                                               \
    (ln_reduce_op op, ln_tensor *out, ln_tensor *idx, const ln_tensor *a,     \
     int dim),                                                                \
    (op, out, idx, a, dim))                                                   \
  X(cpu_softmax, (ln_tensor * out, const ln_tensor *a, int dim, bool log),    \
    (out, a, dim, log))                                                       \
  X(cpu_sgd_step,                                                             \
    (ln_tensor * param, const ln_tensor *grad, ln_tensor *buf,                \
     const ln_optim_step *s),                                                 \
    (param, grad, buf, s))                                                    \
  X(cpu_adam_step,                                                            \
    (ln_tensor * param, const ln_tensor *grad, ln_tensor *m, ln_tensor *v,    \
     ln_tensor *vmax, const ln_optim_step *s),                                \
    (param, grad, m, v, vmax, s))                                             \
  X(cpu_rmsprop_step,                                                         \
    (ln_tensor * param, const ln_tensor *grad, ln_tensor *square_avg,         \
     ln_tensor *buf, ln_tensor *grad_avg, const ln_optim_step *s),            \
    (param, grad, square_avg, buf, grad_avg, s))                              \
  X(cpu_adagrad_step,                                                         \
    (ln_tensor * param, const ln_tensor *grad, ln_tensor *sum,                \
     const ln_optim_step *s),                                                 \
    (param, grad, sum, s))

#define DECLARE(name, params, args)                                           \
  LN_INTERNAL int name##_generic params;                                      \
  LN_INTERNAL int name##_avx2 params;                                         \
  LN_INTERNAL int name##_avx512 params;
CPU_ISA_ENTRIES(DECLARE)

#define DISPATCH(name, params, args)                                          \
  int name params {                                                           \
    switch (level()) {                                                        \
      case ISA_AVX512: return name##_avx512 args;                             \
      case ISA_AVX2: return name##_avx2 args;                                 \
      default: return name##_generic args;                                    \
    }                                                                         \
  }
CPU_ISA_ENTRIES(DISPATCH)
#endif
