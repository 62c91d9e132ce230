/*
** ocl_index.c: gather, index_select, scatter, index_add and masked_select
** on OpenCL (kernels/index.cl).
**
** As on the CPU (core/cpu_index.c), gathers view the source with the
** output's shape and stride 0 along dim, and scatters give each work-item
** one fiber along dim, so no two items write one element and duplicate
** indices keep the CPU's order without atomics.
**
** Index checks: the kernels check every index and record the first bad
** one in the device's error flag; the host reports it on its next read
** (ocl_flag_check). Checking before the launch would cost a read of the
** index, a round trip per op that training loops cannot afford.
*/
#include <string.h>

#include "ocl.h"

/* t as a header of at least one dim (0-dim tensors as shape (1,)). */
static ln_tensor at_least_1d(const ln_tensor *t) {
  ln_tensor v = *t;
  if (v.ndim == 0) {
    v.ndim = 1;
    v.shape[0] = 1;
    v.stride[0] = 1;
  }
  return v;
}

/* A header of t's buffer with another shape and strides (stack only). */
static ln_tensor restride(const ln_tensor *t, int ndim, const int64_t *shape,
                          const int64_t *stride) {
  ln_tensor v = *t;
  v.ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    v.shape[i] = shape[i];
    v.stride[i] = stride[i];
  }
  return v;
}

static ocl_device *device_for(const ln_tensor *t, const char *op) {
  ocl_device *d = ocl_device_of(t->storage);
  if (d && ocl_check_dtype(d, t->dtype, op) != LN_OK) return NULL;
  return d;
}

/* out (shape of idx) = src[.. idx ..] along dim; src and idx already have
** out's shape (src with stride 0 along dim). */
static int run_gather(ocl_device *d, int code, int dim, int64_t asize,
                      int64_t astride, const ln_tensor *out,
                      const ln_tensor *idx, const ln_tensor *src) {
  if (ln_tensor_numel(out) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[3];
  const ln_tensor *ts[3] = {out, idx, src};
  ocl_geometry(3, ts, &sh, st);
  ocl_call c;
  if (ocl_begin(&c, d, out->dtype, "gather") != LN_OK) return LN_ERR;
  ocl_arg_int(&c, code);
  ocl_arg_int(&c, dim);
  ocl_arg_long(&c, asize);
  ocl_arg_long(&c, astride);
  ocl_arg(&c, sizeof sh, &sh);
  for (int i = 0; i < 3; i++) ocl_arg(&c, sizeof st[i], &st[i]);
  for (int i = 0; i < 3; i++) ocl_arg_mem(&c, ts[i]);
  ocl_arg_buf(&c, d->flag);
  d->flag_pending = true;
  return ocl_run(&c, sh.numel);
}

/* out[i][j][k] = a[i][index[i][j][k]][k] for dim 1; out has index's shape. */
int ocl_gather(ln_tensor *out, const ln_tensor *a0, int dim,
               const ln_tensor *index0) {
  ocl_device *d = device_for(a0, "gather");
  if (!d) return LN_ERR;
  ln_tensor a = at_least_1d(a0), index = at_least_1d(index0), o = at_least_1d(out);
  int64_t stride[LN_MAX_DIMS];
  memcpy(stride, a.stride, sizeof stride);
  stride[dim] = 0;
  ln_tensor src = restride(&a, index.ndim, index.shape, stride);
  return run_gather(d, OCL_FLAG_GATHER, dim, a.shape[dim], a.stride[dim], &o,
                    &index, &src);
}

/* out = a with dim's entries picked by the 1-D index. */
int ocl_index_select(ln_tensor *out, const ln_tensor *a0, int dim,
                     const ln_tensor *index) {
  ocl_device *d = device_for(a0, "index_select");
  if (!d) return LN_ERR;
  ln_tensor a = at_least_1d(a0), o = at_least_1d(out), ix = at_least_1d(index);
  int64_t astride[LN_MAX_DIMS], istride[LN_MAX_DIMS] = {0};
  memcpy(astride, a.stride, sizeof astride);
  astride[dim] = 0;
  istride[dim] = ix.stride[0];
  ln_tensor src = restride(&a, o.ndim, o.shape, astride);
  ln_tensor idx = restride(&ix, o.ndim, o.shape, istride);
  return run_gather(d, OCL_FLAG_INDEX_SELECT, dim, a.shape[dim], a.stride[dim],
                    &o, &idx, &src);
}

/* ---- scatter and index_add ---------------------------------------------------- */

/* The fibers along dim: out', idx and src with dim's size 1 (geometry),
** and each one's stride along dim. */
typedef struct fibers {
  int code, dim;
  bool accumulate;
  double alpha;
  int64_t len, istride, sstride;
} fibers;

static int run_scatter(ocl_device *d, const fibers *f, ln_tensor *out,
                       ln_tensor *dst, ln_tensor *idx, ln_tensor *src) {
  int dim = f->dim;
  if (ln_tensor_numel(idx) == 0) return LN_OK;
  dst->shape[dim] = idx->shape[dim] = src->shape[dim] = 1; /* one per fiber */
  ocl_shape sh;
  ocl_strides st[3];
  const ln_tensor *ts[3] = {dst, idx, src};
  ocl_geometry(3, ts, &sh, st);
  ocl_call c;
  if (ocl_begin(&c, d, out->dtype, "scatter") != LN_OK) return LN_ERR;
  ocl_arg_int(&c, f->code);
  ocl_arg_int(&c, dim);
  ocl_arg_int(&c, f->accumulate);
  ocl_arg_real(&c, out->dtype, f->alpha);
  ocl_arg_long(&c, f->len);
  ocl_arg_long(&c, f->istride);
  ocl_arg_long(&c, f->sstride);
  ocl_arg_long(&c, out->stride[dim]);
  ocl_arg_long(&c, out->shape[dim]);
  ocl_arg(&c, sizeof sh, &sh);
  for (int i = 0; i < 3; i++) ocl_arg(&c, sizeof st[i], &st[i]);
  for (int i = 0; i < 3; i++) ocl_arg_mem(&c, ts[i]);
  ocl_arg_buf(&c, d->flag);
  d->flag_pending = true;
  return ocl_run(&c, sh.numel);
}

/* out[i][index[i][j][k]][k] (+)= src[i][j][k] for dim 1, over index's
** shape (src may be larger than index). */
int ocl_scatter(ln_tensor *out0, int dim, const ln_tensor *index0,
                const ln_tensor *src0, bool accumulate) {
  ocl_device *d = device_for(out0, "scatter");
  if (!d) return LN_ERR;
  ln_tensor out = at_least_1d(out0), idx = at_least_1d(index0);
  ln_tensor src = at_least_1d(src0);
  fibers f = {accumulate ? OCL_FLAG_SCATTER_ADD : OCL_FLAG_SCATTER, dim,
              accumulate, 1, idx.shape[dim], idx.stride[dim], src.stride[dim]};
  ln_tensor dst = restride(&out, idx.ndim, idx.shape, out.stride);
  ln_tensor s = restride(&src, idx.ndim, idx.shape, src.stride);
  return run_scatter(d, &f, &out, &dst, &idx, &s);
}

/* out[..., index[j], ...] += alpha * src[..., j, ...] along dim. */
int ocl_index_add(ln_tensor *out0, int dim, const ln_tensor *index,
                  const ln_tensor *src0, double alpha) {
  ocl_device *d = device_for(out0, "index_add");
  if (!d) return LN_ERR;
  ln_tensor out = at_least_1d(out0), src = at_least_1d(src0);
  ln_tensor ix = at_least_1d(index);
  int64_t istride[LN_MAX_DIMS] = {0};
  istride[dim] = ix.stride[0];
  fibers f = {OCL_FLAG_INDEX_ADD, dim, true, alpha, src.shape[dim],
              ix.stride[0], src.stride[dim]};
  ln_tensor idx = restride(&ix, src.ndim, src.shape, istride);
  ln_tensor dst = restride(&out, src.ndim, src.shape, out.stride);
  return run_scatter(d, &f, &out, &dst, &idx, &src);
}

/* ---- masked_select ---------------------------------------------------------------- */

/* A kernel over nchunks chunks of a's row-major order (count or write). */
static int mask_pass(ocl_device *d, const char *name, int64_t chunk,
                     int64_t nchunks, const ocl_shape *sh, const ocl_strides *st,
                     const ln_tensor *a, const ln_tensor *mask, cl_mem counts,
                     const ln_tensor *out) {
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, name) != LN_OK) return LN_ERR;
  ocl_arg_long(&c, chunk);
  ocl_arg_long(&c, nchunks);
  if (out) ocl_arg_long(&c, out->offset);
  ocl_arg(&c, sizeof *sh, sh);
  if (out) ocl_arg(&c, sizeof st[0], &st[0]);
  ocl_arg(&c, sizeof st[1], &st[1]);
  if (out) ocl_arg_mem(&c, a);
  ocl_arg_mem(&c, mask);
  ocl_arg_buf(&c, counts);
  if (out) ocl_arg_mem(&c, out);
  return ocl_run(&c, nchunks);
}

/* out = the elements of a where mask is true, in row-major order: chunk
** counts, their prefix sum, then each chunk copies its elements. */
int ocl_masked_select(ln_tensor *out, const ln_tensor *a,
                      const ln_tensor *mask) {
  ocl_device *d = device_for(a, "masked_select");
  if (!d) return LN_ERR;
  if (mask->dtype != LN_BOOL || a->ndim != mask->ndim ||
      !(a->ndim == 0 || memcmp(a->shape, mask->shape, sizeof(int64_t) * (size_t)a->ndim) == 0))
    return ln_error("masked_select: the OpenCL kernel expects a bool mask "
                    "of the input's shape");
  int64_t n = ln_tensor_numel(a);
  if (n == 0 || ln_tensor_numel(out) == 0) return LN_OK;
  int64_t nchunks = (n + 63) / 64;
  if (nchunks > 65536) nchunks = 65536;
  int64_t chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;
  ocl_shape sh;
  ocl_strides st[2];
  const ln_tensor *ts[2] = {a, mask};
  ocl_geometry(2, ts, &sh, st);
  ln_storage *counts = ln_storage_new(a->storage->device, (size_t)nchunks * 8);
  if (!counts) return LN_ERR;
  int rc = mask_pass(d, "mask_count", chunk, nchunks, &sh, st, a, mask,
                     counts->data, NULL);
  ocl_call c;
  if (rc == LN_OK) rc = ocl_begin(&c, d, a->dtype, "mask_scan");
  if (rc == LN_OK) {
    ocl_arg_long(&c, nchunks);
    ocl_arg_buf(&c, counts->data);
    ocl_arg_local(&c, c.local * 8);
    rc = ocl_run_groups(&c, 1);
  }
  if (rc == LN_OK)
    rc = mask_pass(d, "mask_write", chunk, nchunks, &sh, st, a, mask,
                   counts->data, out);
  ln_storage_release(counts);
  return rc;
}
