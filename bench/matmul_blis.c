/*
** matmul_blis.c: the reference the matmul bench compares luann against:
** BLIS's sgemm called directly on contiguous row-major float32 matrices.
**
**   matmul_blis M K N THREADS SAMPLES [ARCH]   prints the median GFLOP/s
**   matmul_blis --floor IMAGES BATCH THREADS SAMPLES [ARCH]
**       prints the MLP's GEMM floor: the median seconds of one epoch's
**       matrix products alone (IMAGES images, 60000 for Fashion-MNIST),
**       and their GFLOP/s
**
** Each sample times a batch of products lasting ~0.2 s, as bench/matmul.lua
** does. The floor is what bench/run.sh holds luann's MLP epoch against: the
** tutorial's 784-128-10 network, the five products of a
** training step (two forwards, two weight gradients, the second layer's input
** gradient; the first layer needs none) on row-major operands, transposes
** passed as strides as luann passes them; the epoch's last batch is short. ARCH names a BLIS sub-configuration ("zen3", "haswell", ...): it is
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

/* BLIS set up with the sub-configuration arch (or its own pick) and threads. */
static int setup(const char *arch, int threads) {
  if (arch && set_arch(arch) != 0) return -1;
  bli_init(); /* before bli_arch_query_id: BLIS 0.9 checks BLIS_ARCH_TYPE there */
  fprintf(stderr, "blis sub-configuration: %s\n",
          bli_arch_string(bli_arch_query_id()));
  bli_thread_set_num_threads(threads);
  return 0;
}

/* c (m,n) = a @ b, each operand row-major or, when its flag is set, the
** transpose of a row-major matrix (strides swapped: no copy). */
static void gemm(long m, long k, long n, const float *a, int ta,
                 const float *b, int tb, float *c) {
  float one = 1, zero = 0;
  bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, (float *)a,
            ta ? 1 : k, ta ? m : 1, (float *)b, tb ? 1 : n, tb ? k : 1, &zero,
            c, n, 1);
}

enum { FLOOR_IN = 784, FLOOR_HID = 128, FLOOR_OUT = 10 };

/* One epoch of the MLP's products over images; returns the FLOPs. */
static double floor_epoch(long images, long batch, float *const *buf) {
  float *x = buf[0], *w1 = buf[1], *w2 = buf[2], *h = buf[3], *o = buf[4],
        *dw1 = buf[5], *dw2 = buf[6], *dh = buf[7];
  double flops = 0;
  for (long start = 0; start < images; start += batch) {
    long b = images - start < batch ? images - start : batch;
    gemm(b, FLOOR_IN, FLOOR_HID, x, 0, w1, 1, h);    /* h (b,128) = x @ W1^T */
    gemm(b, FLOOR_HID, FLOOR_OUT, h, 0, w2, 1, o);   /* o (b,10) = h @ W2^T */
    gemm(FLOOR_OUT, b, FLOOR_HID, o, 1, h, 0, dw2);  /* dW2 (10,128) = do^T @ h */
    gemm(b, FLOOR_OUT, FLOOR_HID, o, 0, w2, 0, dh);  /* dh (b,128) = do @ W2 */
    gemm(FLOOR_HID, b, FLOOR_IN, dh, 1, x, 0, dw1);  /* dW1 (128,784) = dh^T @ x */
    flops += 2.0 * b * (2.0 * FLOOR_IN * FLOOR_HID + 3.0 * FLOOR_HID * FLOOR_OUT);
  }
  return flops;
}

/* --floor IMAGES BATCH THREADS SAMPLES [ARCH]: median epoch seconds, GFLOP/s. */
static int gemm_floor(int argc, char **argv) {
  long images = atol(argv[2]), batch = atol(argv[3]);
  int threads = atoi(argv[4]), samples = atoi(argv[5]);
  if (images <= 0 || batch <= 0 || threads <= 0 || samples <= 0 || samples > 1000)
    return fprintf(stderr, "matmul_blis: bad arguments\n"), 2;
  if (setup(argc == 7 ? argv[6] : NULL, threads) != 0) return 2;
  long sizes[8] = {batch * FLOOR_IN, FLOOR_HID * FLOOR_IN, FLOOR_OUT * FLOOR_HID,
                   batch * FLOOR_HID, batch * FLOOR_OUT, FLOOR_HID * FLOOR_IN,
                   FLOOR_OUT * FLOOR_HID, batch * FLOOR_HID};
  float *buf[8];
  double *secs = malloc(samples * sizeof *secs), flops = 0;
  int ok = secs != NULL;
  for (int i = 0; i < 8; i++) ok &= (buf[i] = random_matrix(sizes[i])) != NULL;
  if (!ok) return fprintf(stderr, "out of memory\n"), 1;
  floor_epoch(images, batch, buf); /* warm-up */
  for (int s = 0; s < samples; s++) {
    double t0 = now();
    flops = floor_epoch(images, batch, buf);
    secs[s] = now() - t0;
  }
  qsort(secs, samples, sizeof *secs, cmp_double);
  printf("%.4f %.2f\n", secs[samples / 2], flops / secs[samples / 2] * 1e-9);
  for (int i = 0; i < 8; i++) free(buf[i]);
  free(secs);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--floor") == 0) {
    if (argc != 6 && argc != 7) {
      fprintf(stderr, "usage: %s --floor IMAGES BATCH THREADS SAMPLES [ARCH]\n", argv[0]);
      return 2;
    }
    return gemm_floor(argc, argv);
  }
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s M K N THREADS SAMPLES [ARCH]\n", argv[0]);
    return 2;
  }
  problem p = {atol(argv[1]), atol(argv[2]), atol(argv[3]), NULL, NULL, NULL};
  int threads = atoi(argv[4]), samples = atoi(argv[5]);
  if (p.m <= 0 || p.k <= 0 || p.n <= 0 || threads <= 0 || samples <= 0 ||
      samples > 1000)
    return fprintf(stderr, "matmul_blis: bad arguments\n"), 2;
  if (setup(argc == 7 ? argv[6] : NULL, threads) != 0) return 2;
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
