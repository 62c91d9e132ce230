/*
** cpu_cache.c: the CPU backend's memory, through a cache of freed blocks.
**
** A training step frees and makes the same tensors every time. Straight
** from malloc, blocks above glibc's mmap threshold come back from the
** kernel as fresh pages on every step, each faulted in and zeroed: a sixth
** of an MNIST epoch went there. So freed blocks wait in one free list per
** size class (size_class.h) for the next request of that class, as
** PyTorch's CUDA allocator does for the GPU. The list's link lives in the
** free block itself.
**
** Cached bytes are capped at the larger of CACHE_MIN_LIMIT and the most
** bytes ever in use at once (a workload's own peak): beyond that a freed
** block goes back to libc. A failed allocation empties the cache and tries
** again. LUANN_CPU_CACHE=0 turns the cache off, and so do AddressSanitizer
** builds: a cached block would hide a use after free from ASan (valgrind
** runs set the variable for the same reason).
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu.h"
#include "size_class.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LN_ASAN 1
#endif

#define CACHE_MIN_LIMIT ((size_t)128 << 20)
/* With the cache on, blocks from this size on are mapped pages of their
** own, not glibc's heap, which raises its mmap threshold as big blocks are
** freed and then fragments. Mapped, a block returns to the system whole.
** With it off they come from malloc, where ASan and valgrind watch them
** (and ASan's allocation limit refuses absurd sizes). */
#define MAP_MIN ((size_t)256 << 10)

static bool mapped(size_t size) { return size >= MAP_MIN && ln_cpu_caching(); }

/* From this size on a mapped block asks for transparent huge pages: a
** data set read in random rows (a loader's batches) misses the TLB on
** nearly every row with 4 KiB pages; 2 MiB pages also fault 512 times
** less. Only where the system leaves THP to madvise (Debian's default). */
#define HUGE_MIN ((size_t)4 << 20)

static void *block_alloc(size_t size) {
  if (!mapped(size)) return aligned_alloc(64, size);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  if (size >= HUGE_MIN) {
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE); /* advice: failure is harmless */
#endif
  } else {
#ifdef MADV_POPULATE_WRITE
    /* Every page at once, in one call (Linux 5.14 on; older kernels
    ** refuse it, and the pages fault in one by one as before): such a
    ** block is nearly always written whole, and the 400 faults of a
    ** 1.6 MB batch cost ~0.3 ms. Bigger blocks fault 2 MiB at a time,
    ** and may be reserved and never touched. */
    madvise(p, size, MADV_POPULATE_WRITE);
#endif
  }
  return p;
}

static void block_free(void *p, size_t size) {
  if (!mapped(size)) free(p);
  else munmap(p, size);
}

static struct {
  pthread_mutex_t lock;
  void *free[LN_SIZE_CLASSES]; /* each block's first word: the next one */
  size_t in_use, cached, peak;  /* bytes, by class size */
  int enabled;                  /* -1 until the environment is read */
} cache = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0, 0, -1};

bool ln_cpu_caching(void) {
  if (cache.enabled < 0) {
#ifdef LN_ASAN
    cache.enabled = 0;
#else
    const char *v = getenv("LUANN_CPU_CACHE");
    cache.enabled = !(v && strcmp(v, "0") == 0);
#endif
  }
  return cache.enabled;
}

/* Frees every cached block; the lock is held. */
static void trim_locked(void) {
  for (int c = 0; c < LN_SIZE_CLASSES; c++) {
    while (cache.free[c]) {
      void *b = cache.free[c];
      cache.free[c] = *(void **)b;
      block_free(b, ln_size_class_bytes(c));
    }
  }
  cache.cached = 0;
}

void ln_cpu_empty_cache(void) {
  pthread_mutex_lock(&cache.lock);
  trim_locked();
  pthread_mutex_unlock(&cache.lock);
}

void ln_cpu_memory_stats(size_t *in_use, size_t *cached) {
  pthread_mutex_lock(&cache.lock);
  *in_use = cache.in_use;
  *cached = cache.cached;
  pthread_mutex_unlock(&cache.lock);
}

/* 64-byte alignment suits AVX-512 loads and BLIS's packing. */
int cpu_storage_alloc(ln_storage *s, size_t nbytes) {
  int cls;
  size_t size = ln_size_class(nbytes, &cls);
  if (size < nbytes) /* the class rounding overflowed */
    return ln_error("out of memory allocating %zu bytes", nbytes);
  bool on = ln_cpu_caching();
  pthread_mutex_lock(&cache.lock);
  void *b = on ? cache.free[cls] : NULL;
  if (b) {
    cache.free[cls] = *(void **)b;
    cache.cached -= size;
  } else {
    b = block_alloc(size);
    if (!b && cache.cached) { /* memory pressure: give the cache back */
      trim_locked();
      b = block_alloc(size);
    }
  }
  if (b) {
    cache.in_use += size;
    if (cache.in_use > cache.peak) cache.peak = cache.in_use;
  }
  pthread_mutex_unlock(&cache.lock);
  s->data = b;
  if (!b) return ln_error("out of memory allocating %zu bytes", nbytes);
  return LN_OK;
}

void cpu_storage_free(ln_storage *s) {
  if (!s->data) return;
  int cls;
  size_t size = ln_size_class(s->nbytes, &cls);
  bool on = ln_cpu_caching();
  pthread_mutex_lock(&cache.lock);
  cache.in_use -= size;
  size_t limit = cache.peak > CACHE_MIN_LIMIT ? cache.peak : CACHE_MIN_LIMIT;
  bool keep = on && cache.cached + size <= limit;
  if (keep) {
    *(void **)s->data = cache.free[cls];
    cache.free[cls] = s->data;
    cache.cached += size;
  }
  pthread_mutex_unlock(&cache.lock);
  if (!keep) block_free(s->data, size);
  s->data = NULL;
}
