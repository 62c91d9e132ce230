/*
** ocl_reduce.c: reductions along one dim and (log_)softmax on OpenCL
** (kernels/reduce.cl, softmax.cl).
**
** Both see rows: every output (every position of the other dims) reads r
** elements of its row. How the device splits the work:
** - many rows, or short ones: a work-item per row (reduce_items,
**   softmax_items); when the reduced dim is not the innermost, neighbouring
**   items read neighbouring elements, so loads coalesce;
** - few long rows (a sum of everything): a work-group per row, or per
**   chunk of a row when there are fewer rows than the device has compute
**   units, its items reading the row side by side; chunk states are then
**   merged in order by reduce_finish.
*/
#include <string.h>

#include "ocl.h"

/* Rows of a along dim, and where each row starts in a and in out. */
typedef struct rows {
  ocl_shape sh;
  ocl_strides st[2]; /* a, out */
  int64_t r, rstride, ostride;
} rows;

static void rows_init(rows *w, const ln_tensor *a, const ln_tensor *out,
                      int dim) {
  ln_tensor ta = *a, to = *out; /* headers only: the out space */
  w->r = a->ndim ? a->shape[dim] : 1;
  w->rstride = a->ndim ? a->stride[dim] : 0;
  w->ostride = out->ndim ? out->stride[dim] : 0;
  if (a->ndim) ta.shape[dim] = to.shape[dim] = 1;
  const ln_tensor *ts[2] = {&ta, &to};
  ocl_geometry(2, ts, &w->sh, w->st);
}

/* Whether a work-item per row keeps the device busy (or rows are short).
** A GPU wants thousands of items in flight; a CPU device runs a work-group
** per thread, so a few rows per compute unit do (its work-groups' barriers
** are costly there). */
static bool per_item(const ocl_device *d, const rows *w, size_t local) {
  int64_t busy = (int64_t)d->compute_units *
                 (d->type & CL_DEVICE_TYPE_CPU ? 16 : (int64_t)local);
  return w->r <= 32 || w->sh.numel >= busy;
}

static bool valid(ln_reduce_op op, const ln_tensor *out, const ln_tensor *idx,
                  const ln_tensor *a) {
  bool is_float = ln_dtype_is_float(a->dtype);
  switch (op) {
    case LN_REDUCE_ARGMAX: case LN_REDUCE_ARGMIN: return out->dtype == LN_INT64;
    case LN_REDUCE_ANY: case LN_REDUCE_ALL: return out->dtype == LN_BOOL;
    case LN_REDUCE_MEAN: case LN_REDUCE_LOGSUMEXP:
      return is_float && out->dtype == a->dtype && !idx;
    case LN_REDUCE_MAX: case LN_REDUCE_MIN:
      return out->dtype == a->dtype && (!idx || idx->dtype == LN_INT64);
    default: /* sum, prod: integers sum into int64 */
      return !idx && out->dtype == (is_float ? a->dtype : LN_INT64);
  }
}

/* The kernels' accumulator sizes (kernels/common.cl's acc and facc). */
static size_t acc_size(ln_dtype dt) { return dt == LN_FLOAT32 ? 4 : 8; }
static size_t facc_size(const ocl_device *d, ln_dtype dt) {
  return dt == LN_FLOAT32 || (!ln_dtype_is_float(dt) && !d->fp64) ? 4 : 8;
}

/* The two arguments every reduce kernel starts with. */
static void head_args(ocl_call *c, ln_reduce_op op, const rows *w) {
  ocl_arg_int(c, (int)op);
  ocl_arg_long(c, w->r);
}

static int reduce_items(ocl_device *d, ln_reduce_op op, const rows *w,
                        ln_tensor *out, ln_tensor *idx, const ln_tensor *a) {
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, "reduce_items") != LN_OK) return LN_ERR;
  head_args(&c, op, w);
  ocl_arg_long(&c, w->rstride);
  ocl_arg_int(&c, (int)out->dtype);
  ocl_arg_int(&c, idx != NULL);
  ocl_arg_long(&c, idx ? idx->offset : 0);
  ocl_arg(&c, sizeof w->sh, &w->sh);
  ocl_arg(&c, sizeof w->st[0], &w->st[0]);
  ocl_arg(&c, sizeof w->st[1], &w->st[1]);
  ocl_arg_mem(&c, a);
  ocl_arg_mem(&c, out);
  ocl_arg_mem(&c, idx ? idx : out);
  return ocl_run(&c, w->sh.numel);
}

/* Work-groups over chunks of rows, then one item per row merging them. */
static int reduce_groups(ocl_device *d, ln_reduce_op op, const rows *w,
                         ln_tensor *out, ln_tensor *idx, const ln_tensor *a,
                         size_t local) {
  int64_t want = (int64_t)d->compute_units * 4, rows_n = w->sh.numel;
  int64_t chunks = (want + rows_n - 1) / rows_n;
  int64_t most = (w->r + (int64_t)local * 4 - 1) / ((int64_t)local * 4);
  if (chunks > most) chunks = most;
  if (chunks < 1) chunks = 1;
  int64_t len = (w->r + chunks - 1) / chunks, parts = rows_n * chunks;
  ln_device dev = a->storage->device;
  size_t as = acc_size(a->dtype), fs = facc_size(d, a->dtype);
  ln_storage *pv = ln_storage_new(dev, (size_t)parts * as);
  ln_storage *ps = pv ? ln_storage_new(dev, (size_t)parts * fs) : NULL;
  ln_storage *pi = ps ? ln_storage_new(dev, (size_t)parts * 8) : NULL;
  ocl_call c;
  int rc = pi ? ocl_begin(&c, d, a->dtype, "reduce_partial") : LN_ERR;
  if (rc == LN_OK) {
    head_args(&c, op, w);
    ocl_arg_long(&c, w->rstride);
    ocl_arg_long(&c, chunks);
    ocl_arg_long(&c, len);
    ocl_arg(&c, sizeof w->sh, &w->sh);
    ocl_arg(&c, sizeof w->st[0], &w->st[0]);
    ocl_arg_mem(&c, a);
    ocl_arg_buf(&c, pv->data);
    ocl_arg_buf(&c, ps->data);
    ocl_arg_buf(&c, pi->data);
    ocl_arg_local(&c, c.local * as);
    ocl_arg_local(&c, c.local * fs);
    ocl_arg_local(&c, c.local * 8);
    rc = ocl_run_groups(&c, parts);
  }
  if (rc == LN_OK) rc = ocl_begin(&c, d, a->dtype, "reduce_finish");
  if (rc == LN_OK) {
    head_args(&c, op, w);
    ocl_arg_long(&c, chunks);
    ocl_arg_int(&c, (int)out->dtype);
    ocl_arg_int(&c, idx != NULL);
    ocl_arg_long(&c, idx ? idx->offset : 0);
    ocl_arg(&c, sizeof w->sh, &w->sh);
    ocl_arg(&c, sizeof w->st[1], &w->st[1]);
    ocl_arg_buf(&c, pv->data);
    ocl_arg_buf(&c, ps->data);
    ocl_arg_buf(&c, pi->data);
    ocl_arg_mem(&c, out);
    ocl_arg_mem(&c, idx ? idx : out);
    rc = ocl_run(&c, rows_n);
  }
  ln_storage_release(pv); /* reused only by commands queued later */
  ln_storage_release(ps);
  ln_storage_release(pi);
  return rc;
}

int ocl_reduce(ln_reduce_op op, ln_tensor *out, ln_tensor *idx,
               const ln_tensor *a, int dim) {
  if ((unsigned)op >= LN_REDUCE_COUNT)
    return ln_error("reduce: invalid op %d", (int)op);
  if (!valid(op, out, idx, a))
    return ln_error("reduce: the OpenCL kernel does not take %s into %s",
                    ln_dtype_name(a->dtype), ln_dtype_name(out->dtype));
  ocl_device *d = ocl_device_of(a->storage);
  if (!d || ocl_check_dtype(d, a->dtype, "reduce") != LN_OK) return LN_ERR;
  if (ln_tensor_numel(out) == 0) return LN_OK;
  rows w;
  rows_init(&w, a, out, dim);
  size_t local;
  if (!ocl_kernel_get(d, a->dtype, "reduce_partial", &local)) return LN_ERR;
  if (per_item(d, &w, local)) return reduce_items(d, op, &w, out, idx, a);
  return reduce_groups(d, op, &w, out, idx, a, local);
}

/* ---- softmax ------------------------------------------------------------------ */

int ocl_softmax(ln_tensor *out, const ln_tensor *a, int dim, bool log) {
  if (!ln_dtype_is_float(a->dtype) || out->dtype != a->dtype)
    return ln_error("%s: the OpenCL kernel takes float tensors, got %s",
                    log ? "log_softmax" : "softmax", ln_dtype_name(a->dtype));
  ocl_device *d = ocl_device_of(a->storage);
  if (!d || ocl_check_dtype(d, a->dtype, "softmax") != LN_OK) return LN_ERR;
  if (ln_tensor_numel(a) == 0) return LN_OK;
  rows w;
  rows_init(&w, a, out, dim);
  size_t local;
  if (!ocl_kernel_get(d, a->dtype, "softmax_groups", &local)) return LN_ERR;
  bool items = per_item(d, &w, local);
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, items ? "softmax_items" : "softmax_groups") != LN_OK)
    return LN_ERR;
  ocl_arg_int(&c, log);
  ocl_arg_long(&c, w.r);
  ocl_arg_long(&c, w.rstride);
  ocl_arg_long(&c, w.ostride);
  ocl_arg(&c, sizeof w.sh, &w.sh);
  ocl_arg(&c, sizeof w.st[0], &w.st[0]);
  ocl_arg(&c, sizeof w.st[1], &w.st[1]);
  ocl_arg_mem(&c, a);
  ocl_arg_mem(&c, out);
  if (items) return ocl_run(&c, w.sh.numel);
  ocl_arg_local(&c, c.local * ln_dtype_size(a->dtype));
  return ocl_run_groups(&c, w.sh.numel);
}
