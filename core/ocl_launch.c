/*
** ocl_launch.c: setting a kernel's arguments and queueing it with work
** sizes taken from the device, and the strided geometry kernels get.
**
** Kernels loop over their items with a grid-stride loop, so any global
** size covers any amount of work. On a GPU a launch asks for at most a few
** dozen work-groups per compute unit and each work-item then handles
** several elements, neighbours in one pass being neighbours in memory. A
** CPU device (PoCL) runs each work-item's loop to its end before the next
** item starts, so there a long stride between one item's elements would
** defeat the caches: CPU devices get one item per element.
*/
#include <stdio.h>
#include <string.h>

#include "ocl.h"

int ocl_begin(ocl_call *c, ocl_device *d, ln_dtype dt, const char *name) {
  memset(c, 0, sizeof *c);
  c->dev = d;
  c->dtype = dt;
  c->name = name;
  c->kernel = ocl_kernel_get(d, dt, name, &c->local);
  return c->kernel ? LN_OK : LN_ERR;
}

void ocl_arg(ocl_call *c, size_t size, const void *value) {
  if (c->status != CL_SUCCESS) return;
  c->status = clSetKernelArg(c->kernel, c->narg, size, value);
  if (c->status == CL_SUCCESS) c->narg++;
}

void ocl_arg_buf(ocl_call *c, cl_mem m) { ocl_arg(c, sizeof m, &m); }

void ocl_arg_mem(ocl_call *c, const ln_tensor *t) { ocl_arg_buf(c, ocl_mem(t)); }

void ocl_arg_long(ocl_call *c, int64_t v) {
  cl_long x = v;
  ocl_arg(c, sizeof x, &x);
}

void ocl_arg_int(ocl_call *c, int v) {
  cl_int x = v;
  ocl_arg(c, sizeof x, &x);
}

/* int64 saturates (clamp bounds may be +-inf), uint8 wraps like a store,
** NaN becomes 0 in integers, bool is "nonzero". */
void ocl_scalar_bytes(ln_dtype dt, double v, void *out) {
  switch (dt) {
    case LN_FLOAT32: *(cl_float *)out = (cl_float)v; break;
    case LN_FLOAT64: *(cl_double *)out = v; break;
    case LN_INT64:
      *(cl_long *)out = v != v ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX
                        : v <= -9.2233720368547758e18 ? INT64_MIN : (cl_long)v;
      break;
    case LN_UINT8:
      *(cl_uchar *)out = v != v || v >= 9.2e18 || v <= -9.2e18
                             ? 0 : (cl_uchar)(int64_t)v;
      break;
    case LN_BOOL: *(cl_uchar *)out = v != 0; break;
    default: break;
  }
}

void ocl_arg_real(ocl_call *c, ln_dtype dt, double v) {
  char bytes[8];
  ocl_scalar_bytes(dt, v, bytes);
  ocl_arg(c, ln_dtype_size(dt), bytes);
}

void ocl_arg_local(ocl_call *c, size_t bytes) { ocl_arg(c, bytes, NULL); }

static int call_failed(ocl_call *c, cl_int st) {
  char what[128];
  if (c->status != CL_SUCCESS)
    snprintf(what, sizeof what, "setting argument %u of kernel '%s' (%s)",
             c->narg, c->name, ln_dtype_name(c->dtype));
  else
    snprintf(what, sizeof what, "queueing kernel '%s' (%s)", c->name,
             ln_dtype_name(c->dtype));
  return ocl_fail(st, what);
}

int64_t ocl_max_groups(const ocl_device *d) {
  if (d->type & CL_DEVICE_TYPE_CPU) return INT64_C(1) << 22;
  return (int64_t)d->compute_units * 64;
}

static int enqueue(ocl_call *c, int64_t groups) {
  if (c->status != CL_SUCCESS) return call_failed(c, c->status);
  if (groups <= 0) return LN_OK;
  size_t local = c->local, global = (size_t)groups * local;
  cl_int st = clEnqueueNDRangeKernel(c->dev->queue, c->kernel, 1, NULL, &global,
                                     &local, 0, NULL, NULL);
  if (st == CL_MEM_OBJECT_ALLOCATION_FAILURE || st == CL_OUT_OF_RESOURCES) {
    /* drivers allocate buffers lazily: memory runs out here, not at
    ** clCreateBuffer; give the pool's cache back and try once more */
    ocl_pool_trim(c->dev);
    clFinish(c->dev->queue);
    st = clEnqueueNDRangeKernel(c->dev->queue, c->kernel, 1, NULL, &global,
                                &local, 0, NULL, NULL);
  }
  return st == CL_SUCCESS ? LN_OK : call_failed(c, st);
}

int ocl_run(ocl_call *c, int64_t work) {
  if (work <= 0) return enqueue(c, 0);
  int64_t groups = (work + (int64_t)c->local - 1) / (int64_t)c->local;
  int64_t cap = ocl_max_groups(c->dev);
  return enqueue(c, groups < cap ? groups : cap);
}

int ocl_run_groups(ocl_call *c, int64_t groups) {
  if (groups <= 0) return enqueue(c, 0);
  int64_t cap = ocl_max_groups(c->dev) * 4;
  return enqueue(c, groups < cap ? groups : cap);
}

/* ---- geometry ----------------------------------------------------------------- */

bool ocl_geometry(int nops, const ln_tensor *const *ts, ocl_shape *sh,
                  ocl_strides *st) {
  const ln_tensor *t0 = ts[0];
  int k = 0;
  memset(sh, 0, sizeof *sh);
  for (int i = 0; i < nops; i++) {
    memset(&st[i], 0, sizeof st[i]);
    st[i].offset = ts[i]->offset;
  }
  for (int d = 0; d < t0->ndim; d++) {
    if (t0->shape[d] == 1) continue;
    bool merge = k > 0;
    for (int i = 0; i < nops && merge; i++)
      merge = st[i].st[k - 1] == ts[i]->stride[d] * t0->shape[d];
    if (merge) { /* the previous dim flows into this one: fold it in */
      sh->size[k - 1] *= t0->shape[d];
      for (int i = 0; i < nops; i++) st[i].st[k - 1] = ts[i]->stride[d];
      continue;
    }
    sh->size[k] = t0->shape[d];
    for (int i = 0; i < nops; i++) st[i].st[k] = ts[i]->stride[d];
    k++;
  }
  sh->numel = ln_tensor_numel(t0);
  bool plain = k <= 1;
  for (int i = 0; i < nops && k == 1; i++) plain = plain && st[i].st[0] == 1;
  if (k == 0) { /* a single element */
    k = 1;
    sh->size[0] = 1;
  }
  sh->ndim = k;
  return plain;
}

cl_mem ocl_mem(const ln_tensor *t) { return (cl_mem)t->storage->data; }

ln_tensor *ocl_empty_like(const ln_tensor *t, ln_dtype dt) {
  return ln_empty(t->ndim, t->shape, dt, t->storage->device);
}
