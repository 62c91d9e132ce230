/*
** size_class.h: the size classes of the memory caches (internal): powers
** of two cut in quarters, at least 256 bytes, so a block is at most 25%
** larger than asked. The CPU cache (cpu_cache.c) and the OpenCL buffer pool
** (ocl_memory.c) keep freed blocks in one free list per class.
*/
#ifndef LUANN_SIZE_CLASS_H
#define LUANN_SIZE_CLASS_H

#include <stddef.h>

#define LN_SIZE_CLASS_MIN 256
#define LN_SIZE_CLASSES 256

/* The class of a request of n bytes: its index and the size it gets. */
static inline size_t ln_size_class(size_t n, int *cls) {
  if (n <= LN_SIZE_CLASS_MIN) return *cls = 0, LN_SIZE_CLASS_MIN;
  int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
  size_t base = (size_t)1 << e, step = base / 4;
  size_t q = (n - base + step - 1) / step;                   /* 1..4 */
  *cls = (e - 8) * 4 + (int)q;
  return base + q * step;
}

/* The size of class cls (the inverse of ln_size_class). */
static inline size_t ln_size_class_bytes(int cls) {
  if (cls == 0) return LN_SIZE_CLASS_MIN;
  int e = (cls - 1) / 4 + 8, q = (cls - 1) % 4 + 1;
  size_t base = (size_t)1 << e;
  return base + (size_t)q * (base / 4);
}

#endif
