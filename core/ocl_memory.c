/*
** ocl_memory.c: device buffers behind storages, a pool that reuses them,
** moving bytes to and from the host, and the index-error flag.
**
** The pool keeps freed buffers in free lists by size class (size_class.h:
** at most 25% is wasted), so a
** training loop that frees and makes the same tensors every step stops
** calling clCreateBuffer after its first step. Reusing a buffer at once is
** safe because the queue is in order: the new owner's commands run after
** the old owner's. Cached bytes are capped at half the device's memory, and
** a failed allocation releases the cache and tries again.
*/
#include <stdlib.h>
#include <string.h>

#include "ocl.h"
#include "op.h"
#include "size_class.h"

/* Writes up to this size are staged in a host copy and queued without
** waiting; larger ones wait rather than double host memory. */
#define ASYNC_WRITE_MAX ((size_t)64 << 20)

typedef struct free_buf {
  cl_mem mem;
  struct free_buf *next;
} free_buf;

struct ocl_pool {
  free_buf *free[LN_SIZE_CLASSES];
  size_t in_use, cached, limit;
};

static ocl_pool *pool_of(ocl_device *d) {
  if (!d->pool) {
    d->pool = calloc(1, sizeof *d->pool);
    if (!d->pool) return ln_error("opencl: out of memory"), NULL;
    d->pool->limit = (size_t)(d->global_mem / 2);
  }
  return d->pool;
}

void ocl_pool_trim(ocl_device *d) {
  ocl_pool *p = d->pool;
  if (!p) return;
  for (int c = 0; c < LN_SIZE_CLASSES; c++) {
    while (p->free[c]) {
      free_buf *f = p->free[c];
      p->free[c] = f->next;
      clReleaseMemObject(f->mem); /* released once queued commands finish */
      free(f);
    }
  }
  p->cached = 0;
}

void ocl_pool_stats(ocl_device *d, size_t *in_use, size_t *cached) {
  *in_use = d->pool ? d->pool->in_use : 0;
  *cached = d->pool ? d->pool->cached : 0;
}

void ocl_pool_destroy(ocl_device *d) {
  ocl_pool_trim(d);
  free(d->pool);
  d->pool = NULL;
}

static cl_mem create_buffer(ocl_device *d, size_t size, cl_int *st) {
  cl_mem m = clCreateBuffer(d->context, CL_MEM_READ_WRITE, size, NULL, st);
  if (*st == CL_MEM_OBJECT_ALLOCATION_FAILURE || *st == CL_OUT_OF_RESOURCES ||
      *st == CL_OUT_OF_HOST_MEMORY) {
    ocl_pool_trim(d); /* memory pressure: give the cache back, try again */
    clFinish(d->queue);
    m = clCreateBuffer(d->context, CL_MEM_READ_WRITE, size, NULL, st);
  }
  return m;
}

int ocl_storage_alloc(ln_storage *s, size_t nbytes) {
  ocl_device *d = ocl_device_get(s->device.index);
  ocl_pool *p = d ? pool_of(d) : NULL;
  if (!p) return LN_ERR;
  int cls;
  size_t size = ln_size_class(nbytes, &cls);
  if (size > d->max_alloc)
    return ln_error("opencl: %zu bytes are more than device '%s' can hold in "
                    "one buffer (%llu)", nbytes, d->name,
                    (unsigned long long)d->max_alloc);
  free_buf *f = p->free[cls];
  if (f) {
    p->free[cls] = f->next;
    p->cached -= size;
    s->data = f->mem;
    free(f);
  } else {
    cl_int st;
    s->data = create_buffer(d, size, &st);
    if (st != CL_SUCCESS) {
      s->data = NULL;
      return ln_error("opencl: allocating %zu bytes on '%s' failed: %s (%d)",
                      nbytes, d->name, ocl_status_name(st), (int)st);
    }
  }
  p->in_use += size;
  return LN_OK;
}

void ocl_storage_free(ln_storage *s) {
  ocl_device *d = ocl_device_get(s->device.index);
  if (!d || !s->data) return;
  ocl_pool *p = d->pool;
  int cls;
  size_t size = ln_size_class(s->nbytes, &cls);
  cl_mem m = s->data;
  s->data = NULL;
  p->in_use -= size;
  free_buf *f = p->cached + size <= p->limit ? malloc(sizeof *f) : NULL;
  if (!f) {
    clReleaseMemObject(m);
    return;
  }
  f->mem = m;
  f->next = p->free[cls];
  p->free[cls] = f;
  p->cached += size;
}

/* ---- host transfers ---------------------------------------------------------- */

static void CL_CALLBACK free_staging(cl_event ev, cl_int status, void *data) {
  (void)ev;
  (void)status;
  free(data);
}

int ocl_write(ln_storage *s, size_t offset, const void *src, size_t n) {
  ocl_device *d = ocl_device_get(s->device.index);
  if (!d) return LN_ERR;
  if (n == 0) return LN_OK;
  void *copy = n <= ASYNC_WRITE_MAX ? malloc(n) : NULL;
  cl_int st;
  if (!copy) { /* large: wait for it instead of staging a copy */
    st = clEnqueueWriteBuffer(d->queue, s->data, CL_TRUE, offset, n, src, 0,
                              NULL, NULL);
    return st == CL_SUCCESS ? LN_OK : ocl_fail(st, "clEnqueueWriteBuffer");
  }
  memcpy(copy, src, n);
  cl_event ev;
  st = clEnqueueWriteBuffer(d->queue, s->data, CL_FALSE, offset, n, copy, 0,
                            NULL, &ev);
  if (st != CL_SUCCESS) {
    free(copy);
    return ocl_fail(st, "clEnqueueWriteBuffer");
  }
  if (clSetEventCallback(ev, CL_COMPLETE, free_staging, copy) != CL_SUCCESS) {
    clWaitForEvents(1, &ev);
    free(copy);
  }
  clReleaseEvent(ev);
  return LN_OK;
}

/* The only wait of the backend: a read returns when every command queued
** before it has run. */
int ocl_read(ln_storage *s, size_t offset, void *dst, size_t n) {
  ocl_device *d = ocl_device_get(s->device.index);
  if (!d) return LN_ERR;
  if (n > 0) {
    cl_int st = clEnqueueReadBuffer(d->queue, s->data, CL_TRUE, offset, n, dst,
                                    0, NULL, NULL);
    if (st != CL_SUCCESS) return ocl_fail(st, "clEnqueueReadBuffer");
  }
  return ocl_flag_check(d);
}

/* ---- the index-error flag ------------------------------------------------------ */

/* Layout (kernels/common.cl): int code, int dim, long index, long size. */
typedef struct flag_data {
  cl_int code, dim;
  cl_long index, size;
} flag_data;

/* The op that sets each code (ocl_flag_code). */
static const char *const flag_ops[OCL_FLAG_COUNT] = {
  [OCL_FLAG_NONE] = "?", [OCL_FLAG_GATHER] = "gather",
  [OCL_FLAG_SCATTER] = "scatter", [OCL_FLAG_INDEX_SELECT] = "index_select",
  [OCL_FLAG_INDEX_ADD] = "index_add", [OCL_FLAG_DIV_ZERO] = "division",
  [OCL_FLAG_SCATTER_ADD] = "scatter_add", [OCL_FLAG_CLASS_TARGET] = "cross_entropy"};

int ocl_flag_init(ocl_device *d) {
  cl_int st;
  flag_data zero = {0};
  d->flag = clCreateBuffer(d->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                           sizeof zero, &zero, &st);
  return st == CL_SUCCESS ? LN_OK : ocl_fail(st, "clCreateBuffer (error flag)");
}

int ocl_flag_check(ocl_device *d) {
  if (!d->flag_pending) return LN_OK;
  flag_data f;
  cl_int st = clEnqueueReadBuffer(d->queue, d->flag, CL_TRUE, 0, sizeof f, &f,
                                  0, NULL, NULL);
  if (st != CL_SUCCESS) return ocl_fail(st, "clEnqueueReadBuffer (error flag)");
  d->flag_pending = false;
  if (f.code == OCL_FLAG_NONE) return LN_OK;
  flag_data zero = {0};
  st = clEnqueueWriteBuffer(d->queue, d->flag, CL_TRUE, 0, sizeof zero, &zero,
                            0, NULL, NULL);
  if (st != CL_SUCCESS) return ocl_fail(st, "clEnqueueWriteBuffer (error flag)");
  if (f.code == OCL_FLAG_DIV_ZERO) /* the op sits in `dim` */
    return ln_error("%s: integer division by zero",
                    ln_binary_name((ln_binary_op)f.dim));
  if (f.code == OCL_FLAG_CLASS_TARGET) /* the targets' base in `dim` */
    return ln_class_target_error("cross_entropy", f.index, f.size, f.dim);
  const char *op =
      f.code > 0 && f.code < OCL_FLAG_COUNT ? flag_ops[f.code] : "?";
  /* 1-based like the CPU's message (Lua's view) */
  return ln_error("%s: index %lld is out of range for dim %d of size %lld",
                  op, (long long)f.index + 1, (int)f.dim + 1, (long long)f.size);
}
