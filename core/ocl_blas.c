/*
** ocl_blas.c: matrix products on OpenCL through CLBlast.
**
** CLBlast, like every BLAS, wants each matrix with one unit stride and the
** other (the leading dimension) at least the matrix's extent. The layout
** (row- or column-major) is chosen by C; A and B then go in as they are or
** through CLBlast's transpose flag, and only a matrix with no unit stride
** (a view stepping through both dims, or an expanded one) is first copied
** to a contiguous temporary. Batches use the strided-batched routine.
** CLBlast's scratch space for a single product comes from our buffer pool
** (the *WithTempBuffer routines), so training steps allocate nothing.
*/
#include <clblast_c.h>

#include "ocl.h"

/* The CLBlast statuses OpenCL does not share. */
static const char *clblast_status(CLBlastStatusCode st) {
  switch (st) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidBatchCount: return "CLBlastInvalidBatchCount";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return ocl_status_name((cl_int)st);
  }
}

static int clblast_fail(CLBlastStatusCode st, const char *what) {
  return ln_error("gemm: CLBlast %s failed: %s (%d)", what, clblast_status(st),
                  (int)st);
}

/* One operand as CLBlast takes it. */
typedef struct operand {
  ln_storage *storage;
  size_t offset, ld, bs;
  CLBlastTranspose trans;
  ln_tensor *temp; /* a contiguous copy, when one was needed */
} operand;

static int64_t max1(int64_t x) { return x > 1 ? x : 1; }

/* Row-major with leading dimension *ld: element (i,j) at i*ld + j. */
static bool row_like(int64_t r, int64_t c, int64_t rs, int64_t cs, size_t *ld) {
  if (!(cs == 1 || c == 1)) return false;
  if (r == 1) return *ld = (size_t)max1(c), true;
  if (rs < max1(c)) return false;
  return *ld = (size_t)rs, true;
}

/* Column-major: element (i,j) at i + j*ld. */
static bool col_like(int64_t r, int64_t c, int64_t rs, int64_t cs, size_t *ld) {
  return row_like(c, r, cs, rs, ld);
}

/* Describes the r x c matrix v for the layout: as is, transposed, or
** copied to a contiguous (batch, r, c) temporary, which is row-major (as
** is in that layout, transposed in the other). */
static int prepare(operand *o, ln_dtype dt, int64_t batch, int64_t r,
                   int64_t c, ln_matview v, bool row_major) {
  size_t ld;
  o->temp = NULL;
  o->storage = v.storage;
  o->offset = (size_t)v.offset;
  o->bs = (size_t)(batch > 1 ? v.bs : 0);
  bool as_is = row_major ? row_like(r, c, v.rs, v.cs, &ld)
                         : col_like(r, c, v.rs, v.cs, &ld);
  if (as_is) return o->ld = ld, o->trans = CLBlastTransposeNo, LN_OK;
  bool flipped = row_major ? col_like(r, c, v.rs, v.cs, &ld)
                           : row_like(r, c, v.rs, v.cs, &ld);
  if (flipped) return o->ld = ld, o->trans = CLBlastTransposeYes, LN_OK;
  int64_t shape[3] = {batch, r, c}, stride[3] = {v.bs, v.rs, v.cs};
  ln_tensor *view = ln_tensor_new_view(v.storage, v.offset, 3, shape, stride, dt);
  o->temp = view ? ln_empty(3, shape, dt, v.storage->device) : NULL;
  int rc = o->temp ? ocl_copy(o->temp, view) : LN_ERR;
  ln_tensor_release(view);
  if (rc != LN_OK) return LN_ERR;
  o->storage = o->temp->storage;
  o->offset = 0;
  o->bs = batch > 1 ? (size_t)(r * c) : 0;
  o->ld = (size_t)max1(c);
  o->trans = row_major ? CLBlastTransposeNo : CLBlastTransposeYes;
  return LN_OK;
}

typedef struct product {
  ln_dtype dt;
  CLBlastLayout layout;
  size_t batch, m, n, k;
  double alpha, beta;
  operand a, b, c;
} product;

/* The bytes of scratch space CLBlast wants for p (batch 1). */
static CLBlastStatusCode temp_size(ocl_device *d, const product *p,
                                   size_t *need) {
  const operand *a = &p->a, *b = &p->b, *c = &p->c;
  if (p->dt == LN_FLOAT32)
    return CLBlastSGemmTempBufferSize(p->layout, a->trans, b->trans, p->m,
                                      p->n, p->k, a->offset, a->ld, b->offset,
                                      b->ld, c->offset, c->ld, &d->queue, need);
  return CLBlastDGemmTempBufferSize(p->layout, a->trans, b->trans, p->m, p->n,
                                    p->k, a->offset, a->ld, b->offset, b->ld,
                                    c->offset, c->ld, &d->queue, need);
}

/* One product (batch 1), its scratch space from the pool. */
static int run_single(ocl_device *d, product *p) {
  size_t need = 0;
  CLBlastStatusCode st = temp_size(d, p, &need);
  if (st != CLBlastSuccess) return clblast_fail(st, "temporary buffer size");
  ln_storage *temp = ln_storage_new(p->c.storage->device, need ? need : 1);
  if (!temp) return LN_ERR;
  const operand *a = &p->a, *b = &p->b, *c = &p->c;
  cl_mem am = a->storage->data, bm = b->storage->data, cm = c->storage->data;
  if (p->dt == LN_FLOAT32)
    st = CLBlastSgemmWithTempBuffer(
        p->layout, a->trans, b->trans, p->m, p->n, p->k, (float)p->alpha, am,
        a->offset, a->ld, bm, b->offset, b->ld, (float)p->beta, cm, c->offset,
        c->ld, &d->queue, NULL, temp->data);
  else
    st = CLBlastDgemmWithTempBuffer(
        p->layout, a->trans, b->trans, p->m, p->n, p->k, p->alpha, am,
        a->offset, a->ld, bm, b->offset, b->ld, p->beta, cm, c->offset, c->ld,
        &d->queue, NULL, temp->data);
  ln_storage_release(temp); /* reused only by commands queued after these */
  return st == CLBlastSuccess ? LN_OK : clblast_fail(st, "gemm");
}

static int run_batched(ocl_device *d, product *p) {
  const operand *a = &p->a, *b = &p->b, *c = &p->c;
  cl_mem am = a->storage->data, bm = b->storage->data, cm = c->storage->data;
  CLBlastStatusCode st;
  if (p->dt == LN_FLOAT32)
    st = CLBlastSgemmStridedBatched(
        p->layout, a->trans, b->trans, p->m, p->n, p->k, (float)p->alpha, am,
        a->offset, a->ld, a->bs, bm, b->offset, b->ld, b->bs, (float)p->beta,
        cm, c->offset, c->ld, c->bs, p->batch, &d->queue, NULL);
  else
    st = CLBlastDgemmStridedBatched(
        p->layout, a->trans, b->trans, p->m, p->n, p->k, p->alpha, am,
        a->offset, a->ld, a->bs, bm, b->offset, b->ld, b->bs, p->beta, cm,
        c->offset, c->ld, c->bs, p->batch, &d->queue, NULL);
  return st == CLBlastSuccess ? LN_OK : clblast_fail(st, "strided batched gemm");
}

/* c = beta * c when there is nothing to multiply (k == 0). */
static int scale_c(ln_dtype dt, int64_t batch, int64_t m, int64_t n, double beta,
                   ln_matview c) {
  int64_t shape[3] = {batch, m, n}, stride[3] = {c.bs, c.rs, c.cs};
  ln_tensor *view = ln_tensor_new_view(c.storage, c.offset, 3, shape, stride, dt);
  if (!view) return LN_ERR;
  int rc;
  if (beta == 0) {
    rc = ocl_fill(view, 0);
  } else {
    ln_tensor *s = ln_full(0, NULL, beta, dt, c.storage->device);
    ln_tensor *sx = s ? ln_tensor_new_view(s->storage, 0, 3, shape,
                                           (int64_t[]){0, 0, 0}, dt) : NULL;
    rc = sx ? ocl_binary(LN_BINARY_MUL, view, view, sx) : LN_ERR;
    ln_tensor_release(sx);
    ln_tensor_release(s);
  }
  ln_tensor_release(view);
  return rc;
}

/* c[b] = alpha * a[b] @ b[b] + beta * c[b]; a is (m,k), b (k,n), c (m,n). */
int ocl_gemm(ln_dtype dt, int64_t batch, int64_t m, int64_t n, int64_t k,
             double alpha, ln_matview a, ln_matview b, double beta,
             ln_matview c) {
  if (dt != LN_FLOAT32 && dt != LN_FLOAT64)
    return ln_error("gemm: dtype %s is not supported on OpenCL (float32 or "
                    "float64)", ln_dtype_name(dt));
  ocl_device *d = ocl_device_of(c.storage);
  if (!d || ocl_check_dtype(d, dt, "gemm") != LN_OK) return LN_ERR;
  if (batch <= 0 || m <= 0 || n <= 0) return LN_OK;
  if (k <= 0) return scale_c(dt, batch, m, n, beta, c);
  product p = {.dt = dt, .batch = (size_t)batch, .m = (size_t)m,
               .n = (size_t)n, .k = (size_t)k, .alpha = alpha, .beta = beta};
  size_t ld; /* C decides the layout; one with no unit stride goes row-major */
  bool row_major = row_like(m, n, c.rs, c.cs, &ld) ||
                   !col_like(m, n, c.rs, c.cs, &ld);
  p.layout = row_major ? CLBlastLayoutRowMajor : CLBlastLayoutColMajor;
  int rc = prepare(&p.c, dt, batch, m, n, c, row_major);
  if (rc == LN_OK) rc = prepare(&p.a, dt, batch, m, k, a, row_major);
  if (rc == LN_OK) rc = prepare(&p.b, dt, batch, k, n, b, row_major);
  if (rc == LN_OK) rc = batch > 1 ? run_batched(d, &p) : run_single(d, &p);
  if (rc == LN_OK && p.c.temp) { /* C had no unit stride: copy it back */
    int64_t shape[3] = {batch, m, n}, stride[3] = {c.bs, c.rs, c.cs};
    ln_tensor *view =
        ln_tensor_new_view(c.storage, c.offset, 3, shape, stride, dt);
    rc = view ? ocl_copy(view, p.c.temp) : LN_ERR;
    ln_tensor_release(view);
  }
  ln_tensor_release(p.a.temp);
  ln_tensor_release(p.b.temp);
  ln_tensor_release(p.c.temp);
  return rc;
}
