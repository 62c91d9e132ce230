/*
** cpu_blas.c: matrix products on the CPU through BLIS, and the thread
** count that BLIS and OpenMP use. The only file that includes <blis.h>.
**
** Picking BLIS's kernels. BLIS ships one "sub-configuration" (kernels and
** block sizes) per CPU family and picks one from cpuid when it initialises.
** Debian's BLIS 0.9 does not know CPUs newer than its table: Zen 5 gets
** its portable C kernels, several times slower, and AVX-512 parts it
** cannot place (Zen 4, Intel models missing from its list) get its AVX2
** kernels. So before BLIS's first use we choose a sub-configuration from
** the CPU's features ourselves and pass it in BLIS_ARCH_TYPE, which BLIS
** reads once, inside bli_init(); the environment is put back afterwards.
** A user's own BLIS_ARCH_TYPE wins when this BLIS has that sub-configuration
** and the CPU can run it; BLIS 0.9 reads only numbers there (a name such as
** "zen3" parses as 0, AVX-512 kernels, and an empty string aborts), so a
** name is translated to its number first.
*/
#include <blis.h>
#include <cpuid.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* ---- choosing a sub-configuration --------------------------------------- */

#define ARCH_NONE BLIS_NUM_ARCHS /* "let BLIS decide" */

static bool has_avx512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static bool has_avx2_fma(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Whether this libblis was built with sub-configuration id. */
static bool arch_built(arch_t id) {
  switch (id) {
#ifdef BLIS_CONFIG_SKX
    case BLIS_ARCH_SKX: return true;
#endif
#ifdef BLIS_CONFIG_HASWELL
    case BLIS_ARCH_HASWELL: return true;
#endif
#ifdef BLIS_CONFIG_SANDYBRIDGE
    case BLIS_ARCH_SANDYBRIDGE: return true;
#endif
#ifdef BLIS_CONFIG_PENRYN
    case BLIS_ARCH_PENRYN: return true;
#endif
#ifdef BLIS_CONFIG_ZEN3
    case BLIS_ARCH_ZEN3: return true;
#endif
#ifdef BLIS_CONFIG_ZEN2
    case BLIS_ARCH_ZEN2: return true;
#endif
#ifdef BLIS_CONFIG_ZEN
    case BLIS_ARCH_ZEN: return true;
#endif
#ifdef BLIS_CONFIG_EXCAVATOR
    case BLIS_ARCH_EXCAVATOR: return true;
#endif
#ifdef BLIS_CONFIG_STEAMROLLER
    case BLIS_ARCH_STEAMROLLER: return true;
#endif
#ifdef BLIS_CONFIG_PILEDRIVER
    case BLIS_ARCH_PILEDRIVER: return true;
#endif
#ifdef BLIS_CONFIG_BULLDOZER
    case BLIS_ARCH_BULLDOZER: return true;
#endif
#ifdef BLIS_CONFIG_GENERIC
    case BLIS_ARCH_GENERIC: return true;
#endif
    default: return false;
  }
}

/* Whether this CPU has the instructions sub-configuration id's kernels use
** (x86 only; others are never chosen here). */
static bool arch_runs_here(arch_t id) {
  switch (id) {
    case BLIS_ARCH_SKX: return has_avx512();
    case BLIS_ARCH_HASWELL:
    case BLIS_ARCH_ZEN3:
    case BLIS_ARCH_ZEN2:
    case BLIS_ARCH_ZEN: return has_avx2_fma();
    case BLIS_ARCH_SANDYBRIDGE: return __builtin_cpu_supports("avx");
    case BLIS_ARCH_PENRYN: return __builtin_cpu_supports("ssse3");
    case BLIS_ARCH_EXCAVATOR:
    case BLIS_ARCH_STEAMROLLER:
    case BLIS_ARCH_PILEDRIVER:
    case BLIS_ARCH_BULLDOZER: return __builtin_cpu_supports("fma4");
    case BLIS_ARCH_GENERIC: return true;
    default: return false;
  }
}

static bool arch_usable(arch_t id) {
  return id < BLIS_NUM_ARCHS && arch_built(id) && arch_runs_here(id);
}

/* The AMD Zen generation from cpuid's family/model, as BLIS numbers them:
** family 0x17 models below 0x30 are Zen/Zen+, the rest Zen 2; family
** 0x19 and later (Zen 3, 4, 5) get the zen3 kernels. */
static arch_t amd_zen_arch(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return BLIS_ARCH_ZEN;
  unsigned family = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
  if (family == 0xf) {
    family += (eax >> 20) & 0xff;
    model += ((eax >> 16) & 0xf) << 4;
  }
  if (family >= 0x19) return BLIS_ARCH_ZEN3;
  if (family == 0x17 && model >= 0x30) return BLIS_ARCH_ZEN2;
  return BLIS_ARCH_ZEN;
}

/* Our pick for this CPU: AVX-512 kernels where the CPU has them (Intel
** server parts, AMD Zen 4/5), else the AVX2/FMA kernels tuned for the
** vendor; older CPUs are left to BLIS's own detection, which knows them.
** Valgrind hides AVX-512, so under it the AVX2 kernels are chosen. */
static arch_t auto_arch(void) {
  __builtin_cpu_init();
  arch_t want = ARCH_NONE;
  if (has_avx512())
    want = BLIS_ARCH_SKX;
  else if (has_avx2_fma())
    want = __builtin_cpu_is("amd") ? amd_zen_arch() : BLIS_ARCH_HASWELL;
  if (want != ARCH_NONE && !arch_usable(want) && arch_usable(BLIS_ARCH_HASWELL) &&
      has_avx2_fma())
    want = BLIS_ARCH_HASWELL;
  return want != ARCH_NONE && arch_usable(want) ? want : ARCH_NONE;
}

/* BLIS_ARCH_TYPE as a number ("3") or a name ("haswell"); ARCH_NONE when
** unset, unknown, not in this BLIS or not runnable on this CPU. */
static arch_t user_arch(const char *v) {
  if (!v || !*v) return ARCH_NONE;
  __builtin_cpu_init();
  char *end;
  long n = strtol(v, &end, 10);
  if (*end == '\0') return n >= 0 && arch_usable((arch_t)n) ? (arch_t)n : ARCH_NONE;
  for (int id = 0; id < BLIS_NUM_ARCHS; id++)
    if (strcmp(v, bli_arch_string((arch_t)id)) == 0)
      return arch_usable((arch_t)id) ? (arch_t)id : ARCH_NONE;
  return ARCH_NONE;
}

/* ---- initialisation and threads ----------------------------------------- */

static pthread_once_t blis_once = PTHREAD_ONCE_INIT;
static int num_threads = 1;

/* BLIS_NUM_THREADS, else OpenMP's count (OMP_NUM_THREADS or all cores):
** BLIS itself would default to one thread. */
static int default_threads(void) {
  const char *v = getenv("BLIS_NUM_THREADS");
  int n = v ? atoi(v) : 0;
  if (n < 1) n = omp_get_max_threads();
  return n < 1 ? 1 : n;
}

/* Runs once, before any other BLIS call (see the top of the file). The
** environment is touched only here, on the first matrix product or thread
** setting, normally before the program starts threads of its own. */
static void blis_setup(void) {
  const char *user = getenv("BLIS_ARCH_TYPE");
  char *saved = user ? strdup(user) : NULL;
  arch_t id = user_arch(user);
  if (id == ARCH_NONE) id = auto_arch();
  if (id != ARCH_NONE) {
    char num[16];
    snprintf(num, sizeof num, "%d", (int)id);
    setenv("BLIS_ARCH_TYPE", num, 1);
  } else {
    unsetenv("BLIS_ARCH_TYPE"); /* an unusable value would abort BLIS */
  }
  bli_init();
  if (saved) setenv("BLIS_ARCH_TYPE", saved, 1);
  else unsetenv("BLIS_ARCH_TYPE");
  free(saved);
  num_threads = default_threads();
  bli_thread_set_num_threads(num_threads);
}

static void ensure_blis(void) { pthread_once(&blis_once, blis_setup); }

/* Threads for BLIS and for every OpenMP loop of the CPU backend. */
void ln_set_num_threads(int n) {
  ensure_blis();
  num_threads = n < 1 ? 1 : n;
  bli_thread_set_num_threads(num_threads);
  cpu_free_threads(num_threads); /* sets OpenMP's count */
}

int ln_get_num_threads(void) {
  ensure_blis();
  return num_threads;
}

/* ---- operands ----------------------------------------------------------- */

/* One operand as BLIS sees it: base pointer and element strides, with a
** packed copy (owned) when BLIS cannot take the original strides. */
typedef struct operand {
  char *base;
  int64_t rs, cs, bs;
  void *packed;
} operand;

/* Strides of a rows x cols matrix that BLIS accepts, mirroring its checks
** (bli_check_matrix_strides): no zero strides, and rows/columns must not
** overlap. A unit dim's stride is never used, so it is set to a valid one. */
static bool blis_strides(int64_t rows, int64_t cols, int64_t *rs, int64_t *cs) {
  if (rows == 0 || cols == 0) return *rs = cols > 0 ? cols : 1, *cs = 1, true;
  if (rows == 1 && cols == 1) return *rs = *cs = 1, true;
  if (rows == 1) *rs = *cs * cols;
  if (cols == 1) *cs = *rs * rows;
  if (*rs <= 0 || *cs <= 0) return false;
  if (*rs != 1 && *cs != 1) {
    if (*rs == *cs) return false;
    return *rs < *cs ? rows * *rs <= *cs : cols * *cs <= *rs;
  }
  if (*rs == 1 && *cs == 1) return false;
  return *rs == 1 ? *cs >= rows : *rs >= cols;
}

/* Copies batch matrices (rows x cols, any strides) into contiguous ones. */
static void pack(ln_dtype dt, const char *src, int64_t rs, int64_t cs,
                 int64_t bs, int64_t batch, int64_t rows, int64_t cols,
                 void *dst) {
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        int64_t from = b * bs + i * rs + j * cs, to = (b * rows + i) * cols + j;
        if (dt == LN_FLOAT32) ((float *)dst)[to] = ((const float *)src)[from];
        else ((double *)dst)[to] = ((const double *)src)[from];
      }
}

static int operand_init(operand *o, ln_dtype dt, ln_matview v, int64_t batch,
                        int64_t rows, int64_t cols) {
  size_t es = ln_dtype_size(dt);
  o->base = (char *)v.storage->data + v.offset * (int64_t)es;
  o->rs = v.rs, o->cs = v.cs, o->bs = v.bs;
  o->packed = NULL;
  if (blis_strides(rows, cols, &o->rs, &o->cs)) return LN_OK;
  int64_t copies = v.bs == 0 ? 1 : batch; /* a broadcast batch packs once */
  o->packed = malloc((size_t)(copies * rows * cols) * es);
  if (!o->packed)
    return ln_error("gemm: out of memory packing a %lldx%lld operand",
                    (long long)rows, (long long)cols);
  pack(dt, o->base, v.rs, v.cs, v.bs, copies, rows, cols, o->packed);
  o->base = o->packed;
  o->rs = cols, o->cs = 1, o->bs = v.bs == 0 ? 0 : rows * cols;
  return LN_OK;
}

/* ---- the product -------------------------------------------------------- */

typedef struct gemm_call {
  ln_dtype dt;
  int64_t m, n, k;
  double alpha, beta;
  operand a, b, c;
} gemm_call;

/* Batch entry i with threads BLIS threads. */
static void gemm_one(const gemm_call *g, int64_t i, int threads) {
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(threads, &rntm);
  size_t es = ln_dtype_size(g->dt);
  char *a = g->a.base + i * g->a.bs * (int64_t)es;
  char *b = g->b.base + i * g->b.bs * (int64_t)es;
  char *c = g->c.base + i * g->c.bs * (int64_t)es;
  if (g->dt == LN_FLOAT32) {
    float alpha = (float)g->alpha, beta = (float)g->beta;
    cpu_sgemm_args s = {g->m, g->n, g->k, alpha, beta, (const float *)a, g->a.rs,
                        g->a.cs, (const float *)b, g->b.rs, g->b.cs, (float *)c,
                        g->c.rs};
    if (g->c.cs == 1 && cpu_sgemm(&s, threads)) return;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, g->m, g->n, g->k, &alpha,
                 (float *)a, g->a.rs, g->a.cs, (float *)b, g->b.rs, g->b.cs,
                 &beta, (float *)c, g->c.rs, g->c.cs, NULL, &rntm);
  } else {
    double alpha = g->alpha, beta = g->beta;
    bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, g->m, g->n, g->k, &alpha,
                 (double *)a, g->a.rs, g->a.cs, (double *)b, g->b.rs, g->b.cs,
                 &beta, (double *)c, g->c.rs, g->c.cs, NULL, &rntm);
  }
}

/* Threads worth waking for m*n*k multiply-adds: each should get at least
** 2^20 (~30 us of one core). Below that, starting and synchronising
** threads costs more than it saves. On an idle machine 64x784x128 runs
** 1.6x faster on two threads; while other programs keep cores busy,
** cpu_free_threads gives fewer. */
static int threads_for(double m, double n, double k) {
  double t = m * n * k / (1 << 20);
  if (t < 2) return 1; /* one thread whatever the load: no need to ask */
  int most = cpu_free_threads(num_threads);
  return t >= most ? most : t < 1 ? 1 : (int)t;
}

/* Runs every product of the batch: small ones one per thread (each with
** a single-threaded BLIS), big ones one after another on BLIS's threads. */
static void gemm_batch(const gemm_call *g, int64_t batch) {
  int per = threads_for(g->m, g->n, g->k);
  int team = per == 1 ? threads_for((double)batch * g->m, g->n, g->k) : 1;
  if (team > batch) team = (int)batch;
  if (team > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
    for (int64_t i = 0; i < batch; i++) gemm_one(g, i, 1);
  } else {
    for (int64_t i = 0; i < batch; i++) gemm_one(g, i, per);
  }
}

/* c[b] = alpha * a[b] @ b[b] + beta * c[b] for b < batch. */
int cpu_gemm(ln_dtype dt, int64_t batch, int64_t m, int64_t n, int64_t k,
             double alpha, ln_matview a, ln_matview b, double beta,
             ln_matview c) {
  if (dt != LN_FLOAT32 && dt != LN_FLOAT64)
    return ln_error("gemm: dtype %s is not supported (float32 or float64)",
                    ln_dtype_name(dt));
  if (batch <= 0 || m <= 0 || n <= 0) return LN_OK;
  ensure_blis();
  gemm_call g = {dt, m, n, k, alpha, beta, {0}, {0}, {0}};
  int64_t crs = c.rs, ccs = c.cs;
  if (!blis_strides(m, n, &crs, &ccs) || (batch > 1 && c.bs == 0))
    return ln_error("gemm: the output's strides cannot be written by BLIS");
  int rc = operand_init(&g.c, dt, c, batch, m, n);
  if (rc == LN_OK) rc = operand_init(&g.a, dt, a, batch, m, k);
  if (rc == LN_OK) rc = operand_init(&g.b, dt, b, batch, k, n);
  if (rc == LN_OK) gemm_batch(&g, batch);
  free(g.a.packed);
  free(g.b.packed);
  return rc;
}
