/*
** ocl_sort.c: a stable sort along one dim on OpenCL (kernels/sort.cl):
** rows are packed into power-of-two slots, sorted by a bitonic network on
** (key, position) pairs, and unpacked into values and indices. Rows that
** fit in a work-group's local memory sort in one launch; longer ones take
** one launch per network stage, log2(n) (log2(n) + 1) / 2 of them.
*/
#include "ocl.h"

/* The rows of t along dim: dim's size set to 1 (a header on the stack). */
static ln_tensor row_starts(const ln_tensor *t, int dim) {
  ln_tensor v = *t;
  v.shape[dim] = 1;
  return v;
}

/* t as a header of at least one dim. */
static ln_tensor at_least_1d(const ln_tensor *t) {
  ln_tensor v = *t;
  if (v.ndim == 0) {
    v.ndim = 1;
    v.shape[0] = 1;
    v.stride[0] = 1;
  }
  return v;
}

typedef struct sort_plan {
  int64_t n, npad, rows;
  cl_mem keys, pos;
  int desc;
} sort_plan;

static int pack(ocl_device *d, const sort_plan *p, const ln_tensor *a, int dim) {
  ln_tensor rs = row_starts(a, dim);
  const ln_tensor *ts[1] = {&rs};
  ocl_shape sh;
  ocl_strides sa;
  ocl_geometry(1, ts, &sh, &sa);
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, "sort_pack") != LN_OK) return LN_ERR;
  ocl_arg_long(&c, p->n);
  ocl_arg_long(&c, p->npad);
  ocl_arg_long(&c, a->stride[dim]);
  ocl_arg(&c, sizeof sh, &sh);
  ocl_arg(&c, sizeof sa, &sa);
  ocl_arg_mem(&c, a);
  ocl_arg_buf(&c, p->keys);
  ocl_arg_buf(&c, p->pos);
  return ocl_run(&c, p->rows * p->npad);
}

/* The network: in local memory when a row fits, else stage by stage. */
static int network(ocl_device *d, const sort_plan *p, ln_dtype dt) {
  size_t es = ln_dtype_size(dt), bytes = (size_t)p->npad * (es + 8);
  size_t room = d->local_mem / 2 < 32768 ? d->local_mem / 2 : 32768;
  ocl_call c;
  if (bytes <= room) {
    if (ocl_begin(&c, d, dt, "sort_local") != LN_OK) return LN_ERR;
    ocl_arg_long(&c, p->npad);
    ocl_arg_int(&c, p->desc);
    ocl_arg_long(&c, p->n);
    ocl_arg_long(&c, p->rows);
    ocl_arg_buf(&c, p->keys);
    ocl_arg_buf(&c, p->pos);
    ocl_arg_local(&c, (size_t)p->npad * es);
    ocl_arg_local(&c, (size_t)p->npad * 8);
    return ocl_run_groups(&c, p->rows);
  }
  for (int64_t k = 2; k <= p->npad; k <<= 1)
    for (int64_t j = k >> 1; j > 0; j >>= 1) {
      if (ocl_begin(&c, d, dt, "sort_step") != LN_OK) return LN_ERR;
      ocl_arg_long(&c, p->npad);
      ocl_arg_long(&c, k);
      ocl_arg_long(&c, j);
      ocl_arg_int(&c, p->desc);
      ocl_arg_long(&c, p->n);
      ocl_arg_long(&c, p->rows);
      ocl_arg_buf(&c, p->keys);
      ocl_arg_buf(&c, p->pos);
      if (ocl_run(&c, p->rows * (p->npad / 2)) != LN_OK) return LN_ERR;
    }
  return LN_OK;
}

static int unpack(ocl_device *d, const sort_plan *p, ln_tensor *values,
                  ln_tensor *indices, int dim) {
  ln_tensor rv = row_starts(values, dim), ri = row_starts(indices, dim);
  const ln_tensor *ts[2] = {&rv, &ri};
  ocl_shape sh;
  ocl_strides st[2];
  ocl_geometry(2, ts, &sh, st);
  ocl_call c;
  if (ocl_begin(&c, d, values->dtype, "sort_unpack") != LN_OK) return LN_ERR;
  ocl_arg_long(&c, p->n);
  ocl_arg_long(&c, p->npad);
  ocl_arg_long(&c, values->stride[dim]);
  ocl_arg_long(&c, indices->stride[dim]);
  ocl_arg(&c, sizeof sh, &sh);
  ocl_arg(&c, sizeof st[0], &st[0]);
  ocl_arg(&c, sizeof st[1], &st[1]);
  ocl_arg_buf(&c, p->keys);
  ocl_arg_buf(&c, p->pos);
  ocl_arg_mem(&c, values);
  ocl_arg_mem(&c, indices);
  return ocl_run(&c, p->rows * p->n);
}

int ocl_sort(ln_tensor *values0, ln_tensor *indices0, const ln_tensor *a0,
             int dim, bool descending) {
  if (values0->dtype != a0->dtype || indices0->dtype != LN_INT64)
    return ln_error("sort: the OpenCL kernel writes values of the input's "
                    "dtype and int64 indices");
  ocl_device *d = ocl_device_of(a0->storage);
  if (!d || ocl_check_dtype(d, a0->dtype, "sort") != LN_OK) return LN_ERR;
  ln_tensor a = at_least_1d(a0), values = at_least_1d(values0);
  ln_tensor indices = at_least_1d(indices0);
  int64_t numel = ln_tensor_numel(&a);
  if (numel == 0) return LN_OK;
  sort_plan p = {.n = a.shape[dim], .npad = 1, .desc = descending};
  while (p.npad < p.n) p.npad <<= 1;
  p.rows = numel / p.n;
  size_t slots = (size_t)(p.rows * p.npad);
  ln_storage *keys = ln_storage_new(a.storage->device, slots * ln_dtype_size(a.dtype));
  ln_storage *pos = keys ? ln_storage_new(a.storage->device, slots * 8) : NULL;
  int rc = pos ? LN_OK : LN_ERR;
  if (rc == LN_OK) {
    p.keys = keys->data;
    p.pos = pos->data;
    rc = pack(d, &p, &a, dim);
  }
  if (rc == LN_OK) rc = network(d, &p, a.dtype);
  if (rc == LN_OK) rc = unpack(d, &p, &values, &indices, dim);
  ln_storage_release(keys); /* reused only by commands queued later */
  ln_storage_release(pos);
  return rc;
}
