/*
** matmul_blis.c: the reference the matmul bench compares luann against:
** BLIS's sgemm called directly on contiguous row-major float32 matrices.
**
**   matmul_blis M K N THREADS SAMPLES [ARCH]   prints the median GFLOP/s
**
** Each sample times a batch of products lasting ~0.2 s, as bench/matmul.lua
** does. ARCH names a BLIS sub-configuration ("zen3", "haswell", ...): it is
** passed to BLIS through BLIS_ARCH_TYPE, which BLIS 0.9 reads as a number,
** before BLIS initialises. The one in use is printed to stderr.
*/
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float *random_matrix(long n) {
  float *p = malloc((size_t)n * sizeof *p);
  for (long i = 0; p && i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
  return p;
}

/* BLIS_ARCH_TYPE = the id of the sub-configuration called name. */
static int set_arch(const char *name) {
  char num[16];
  for (int id = 0; id < BLIS_NUM_ARCHS; id++)
    if (strcmp(name, bli_arch_string((arch_t)id)) == 0) {
      snprintf(num, sizeof num, "%d", id);
      return setenv("BLIS_ARCH_TYPE", num, 1);
    }
  fprintf(stderr, "matmul_blis: unknown sub-configuration '%s'\n", name);
  return -1;
}

typedef struct problem {
  long m, k, n;
  float *a, *b, *c;
} problem;

/* Seconds for reps products C = A @ B. */
static double run(const problem *p, long reps) {
  float one = 1, zero = 0;
  double t0 = now();
  for (long r = 0; r < reps; r++)
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, p->m, p->n, p->k, &one,
              p->a, p->k, 1, p->b, p->n, 1, &zero, p->c, p->n, 1);
  return now() - t0;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s M K N THREADS SAMPLES [ARCH]\n", argv[0]);
    return 2;
  }
  problem p = {atol(argv[1]), atol(argv[2]), atol(argv[3]), NULL, NULL, NULL};
  int threads = atoi(argv[4]), samples = atoi(argv[5]);
  if (p.m <= 0 || p.k <= 0 || p.n <= 0 || threads <= 0 || samples <= 0 ||
      samples > 1000)
    return fprintf(stderr, "matmul_blis: bad arguments\n"), 2;
  if (argc == 7 && set_arch(argv[6]) != 0) return 2;
  bli_init(); /* before bli_arch_query_id: BLIS 0.9 checks BLIS_ARCH_TYPE there */
  fprintf(stderr, "blis sub-configuration: %s\n",
          bli_arch_string(bli_arch_query_id()));
  bli_thread_set_num_threads(threads);
  p.a = random_matrix(p.m * p.k), p.b = random_matrix(p.k * p.n);
  p.c = random_matrix(p.m * p.n);
  double *gflops = malloc(samples * sizeof *gflops);
  if (!p.a || !p.b || !p.c || !gflops) return fprintf(stderr, "out of memory\n"), 1;
  run(&p, 1); /* warm-up: BLIS allocates its packing buffers on first use */
  long reps = 1;
  double t;
  while ((t = run(&p, reps)) < 0.05) reps *= 4;
  reps = (long)(reps * 0.2 / t) + 1;
  for (int s = 0; s < samples; s++)
    gflops[s] = 2.0 * p.m * p.n * p.k * reps / run(&p, reps) * 1e-9;
  qsort(gflops, samples, sizeof *gflops, cmp_double);
  printf("%.2f\n", gflops[samples / 2]);
  free(p.a), free(p.b), free(p.c), free(gflops);
  return 0;
}
