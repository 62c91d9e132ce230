/*
** tensor.c: storage, tensor headers and their lifetime, creation, and
** moving values between tensors, dtypes, devices and host memory.
** Views live in view.c; ops in op_*.c.
*/
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "backend.h"
#include "shape.h"

static atomic_size_t bytes_allocated;

size_t ln_memory_allocated(void) { return atomic_load(&bytes_allocated); }

/* ---- storage ------------------------------------------------------------ */

ln_storage *ln_storage_new(ln_device dev, size_t nbytes) {
  ln_storage *s = calloc(1, sizeof *s);
  if (!s) return ln_error("out of memory allocating a storage"), NULL;
  s->refcount = 1;
  s->device = dev;
  s->nbytes = nbytes;
  if (dev.backend->storage_alloc(s, nbytes) != LN_OK) {
    free(s);
    return NULL;
  }
  atomic_fetch_add(&bytes_allocated, nbytes);
  return s;
}

void ln_storage_release(ln_storage *s) {
  if (!s || --s->refcount > 0) return;
  if (!s->owner) {
    s->device.backend->storage_free(s);
    atomic_fetch_sub(&bytes_allocated, s->nbytes);
  } else if (s->owner_release) {
    s->owner_release(s->owner);
  }
  free(s);
}

/* ---- tensor headers ----------------------------------------------------- */

/* Every header is made here, so this is the one place that refuses a
** geometry no later code could survive: a negative size, a size or element
** count past LN_MAX_NUMEL (or overflowing), or a window reaching outside
** the storage. Ops check their arguments first, with messages naming them;
** this is the net under those checks. */
static int check_geometry(const ln_storage *s, int64_t offset, int ndim,
                          const int64_t *shape, const int64_t *stride,
                          ln_dtype dt) {
  if (ln_check_sizes(NULL, ndim, shape) != LN_OK) return LN_ERR;
  if (ln_shape_numel(ndim, shape) == 0) return LN_OK; /* addresses nothing */
  int64_t lo = offset, hi = offset, span;
  for (int i = 0; i < ndim; i++) {
    if (__builtin_mul_overflow(shape[i] - 1, stride[i], &span) ||
        __builtin_add_overflow(span > 0 ? hi : lo, span, span > 0 ? &hi : &lo))
      return ln_error("a view's strides overflow");
  }
  int64_t capacity = (int64_t)(s->nbytes / ln_dtype_size(dt));
  if (lo < 0 || hi >= capacity)
    return ln_error("a view reaching elements %lld..%lld is outside its "
                    "storage of %lld elements", (long long)lo, (long long)hi,
                    (long long)capacity);
  return LN_OK;
}

ln_tensor *ln_tensor_new_view(ln_storage *s, int64_t offset, int ndim,
                              const int64_t *shape, const int64_t *stride,
                              ln_dtype dt) {
  if (ndim < 0 || ndim > LN_MAX_DIMS)
    return ln_error("tensors have at most %d dims, got %d", LN_MAX_DIMS, ndim),
           NULL;
  if ((unsigned)dt >= LN_DTYPE_COUNT) return ln_error("invalid dtype"), NULL;
  if (check_geometry(s, offset, ndim, shape, stride, dt) != LN_OK) return NULL;
  ln_tensor *t = calloc(1, sizeof *t);
  if (!t) return ln_error("out of memory allocating a tensor"), NULL;
  t->refcount = 1;
  t->storage = s;
  s->refcount++;
  t->offset = offset;
  t->ndim = ndim;
  t->dtype = dt;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    t->stride[i] = stride[i];
  }
  return t;
}

ln_tensor *ln_view_raw(ln_tensor *t, int64_t offset, int ndim,
                       const int64_t *shape, const int64_t *stride) {
  return ln_tensor_new_view(t->storage, offset, ndim, shape, stride, t->dtype);
}

ln_tensor *ln_tensor_retain(ln_tensor *t) {
  if (t) t->refcount++;
  return t;
}

void ln_tensor_release(ln_tensor *t) {
  if (!t || --t->refcount > 0) return;
  ln_tensor_release(t->grad);
  ln_hooks_free(t);
  ln_node_disown(t->grad_fn, t);
  ln_storage_release(t->storage);
  free(t);
}

ln_device ln_tensor_device(const ln_tensor *t) { return t->storage->device; }

/* Sizes are checked as a whole, not only by their product: an empty tensor
** of shape (2^62, 0) would pass a product check, and every loop over its
** first dim would then run for ever. So the product of the nonzero sizes
** obeys the same cap as the element count. */
int ln_check_sizes(const char *op, int ndim, const int64_t *shape) {
  const char *sep = op ? ": " : "";
  op = op ? op : "";
  double total = 1, extent = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return ln_error("%s%snegative size %lld in dim %d", op, sep,
                      (long long)shape[i], i + 1);
    total *= (double)shape[i];
    extent *= shape[i] > 0 ? (double)shape[i] : 1;
  }
  if (total > (double)LN_MAX_NUMEL)
    return ln_error("%s%s%.0f elements are too many", op, sep,
                    total);
  if (extent > (double)LN_MAX_NUMEL) {
    char str[LN_SHAPE_STRLEN];
    return ln_error("%s%sshape %s is too large: its nonzero sizes multiply to "
                    "%.0f (at most 2^40, also for an empty tensor)", op, sep,
                    ln_shape_str(ndim, shape, str, sizeof str), extent);
  }
  return LN_OK;
}

int64_t ln_shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

int64_t ln_tensor_numel(const ln_tensor *t) {
  return ln_shape_numel(t->ndim, t->shape);
}

size_t ln_tensor_nbytes(const ln_tensor *t) {
  return (size_t)ln_tensor_numel(t) * ln_dtype_size(t->dtype);
}

void ln_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
}

bool ln_tensor_is_contiguous(const ln_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

bool ln_tensor_is_leaf(const ln_tensor *t) { return t->grad_fn == NULL; }

bool ln_same_shape(const ln_tensor *a, const ln_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

const char *ln_shape_str(int ndim, const int64_t *shape, char *buf,
                         size_t len) {
  size_t n = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < ndim && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, i ? ",%lld" : "%lld",
                          (long long)shape[i]);
  if (n < len) snprintf(buf + n, len - n, ndim == 1 ? ",)" : ")");
  return buf;
}

void *ln_tensor_data(const ln_tensor *t) {
  if (t->storage->device.backend != &ln_backend_cpu) return NULL;
  return (char *)t->storage->data + t->offset * (int64_t)ln_dtype_size(t->dtype);
}

/* ---- shape helpers ------------------------------------------------------ */

int ln_wrap_dim(const char *op, int dim, int ndim, bool extra, int *out) {
  int n = ndim + (extra ? 1 : 0);
  if (n == 0 && (dim == 0 || dim == -1)) return *out = 0, LN_OK;
  if (dim < -n || dim >= n) /* messages count dims from 1, as Lua does */
    return ln_error("%s: dim %d out of range for a tensor of %d dims", op,
                    dim >= 0 ? dim + 1 : dim, ndim);
  *out = dim < 0 ? dim + n : dim;
  return LN_OK;
}

int ln_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb,
                        const int64_t *sb, int *ndim, int64_t *shape) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int64_t a = i < n - na ? 1 : sa[i - (n - na)];
    int64_t b = i < n - nb ? 1 : sb[i - (n - nb)];
    if (a != b && a != 1 && b != 1) {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      return ln_error("%s: shapes %s and %s cannot be broadcast", op,
                      ln_shape_str(na, sa, s1, sizeof s1),
                      ln_shape_str(nb, sb, s2, sizeof s2));
    }
    shape[i] = a == 1 ? b : a;
  }
  *ndim = n;
  return LN_OK;
}

ln_tensor *ln_expand_raw(ln_tensor *t, int ndim, const int64_t *shape) {
  int64_t stride[LN_MAX_DIMS];
  int lead = ndim - t->ndim;
  if (lead < 0) return ln_error("expand: cannot drop dims"), NULL;
  for (int i = 0; i < ndim; i++) {
    if (i < lead) {
      stride[i] = 0;
      continue;
    }
    int64_t size = t->shape[i - lead];
    if (size == shape[i]) {
      stride[i] = t->stride[i - lead];
    } else if (size == 1) {
      stride[i] = 0;
    } else {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      return ln_error("expand: shape %s cannot be expanded to %s",
                      ln_shape_str(t->ndim, t->shape, s1, sizeof s1),
                      ln_shape_str(ndim, shape, s2, sizeof s2)),
             NULL;
    }
  }
  return ln_view_raw(t, t->offset, ndim, shape, stride);
}

int ln_check_same_device(const char *op, const ln_tensor *a,
                         const ln_tensor *b) {
  ln_device da = ln_tensor_device(a), db = ln_tensor_device(b);
  if (ln_device_equal(da, db)) return LN_OK;
  char s1[32], s2[32];
  ln_device_name(da, s1, sizeof s1);
  ln_device_name(db, s2, sizeof s2);
  return ln_error("%s: expected tensors on the same device, got %s and %s",
                  op, s1, s2);
}

/* ---- creation ----------------------------------------------------------- */

static int check_shape(const char *op, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > LN_MAX_DIMS)
    return ln_error("%s: tensors have at most %d dims, got %d", op,
                    LN_MAX_DIMS, ndim);
  return ln_check_sizes(op, ndim, shape);
}

ln_tensor *ln_empty(int ndim, const int64_t *shape, ln_dtype dt,
                    ln_device dev) {
  if (check_shape("empty", ndim, shape) != LN_OK) return NULL;
  if ((unsigned)dt >= LN_DTYPE_COUNT) return ln_error("invalid dtype"), NULL;
  int64_t stride[LN_MAX_DIMS];
  ln_contiguous_strides(ndim, shape, stride);
  size_t nbytes = (size_t)ln_shape_numel(ndim, shape) * ln_dtype_size(dt);
  ln_storage *s = ln_storage_new(dev, nbytes);
  if (!s) return NULL;
  ln_tensor *t = ln_tensor_new_view(s, 0, ndim, shape, stride, dt);
  ln_storage_release(s);
  return t;
}

ln_tensor *ln_full(int ndim, const int64_t *shape, double value, ln_dtype dt,
                   ln_device dev) {
  ln_tensor *t = ln_empty(ndim, shape, dt, dev);
  if (t && LN_BACKEND(t)->fill(t, value) != LN_OK) {
    ln_tensor_release(t);
    return NULL;
  }
  return t;
}

ln_tensor *ln_zeros(int ndim, const int64_t *shape, ln_dtype dt,
                    ln_device dev) {
  return ln_full(ndim, shape, 0, dt, dev);
}

ln_tensor *ln_scalar(double value, ln_dtype dt, ln_device dev) {
  return ln_full(0, NULL, value, dt, dev);
}

/* Fills a fresh host buffer with values computed by f(i) and uploads it. */
static ln_tensor *from_function(int64_t n, ln_dtype dt, ln_device dev,
                                double (*f)(int64_t i, const double *p),
                                const double *p) {
  int64_t shape[1] = {n};
  ln_tensor *t = ln_empty(1, shape, LN_FLOAT64, ln_device_cpu());
  if (!t) return NULL;
  double *d = ln_tensor_data(t);
  for (int64_t i = 0; i < n; i++) d[i] = f(i, p);
  ln_tensor *r = ln_to(t, dt, dev);
  ln_tensor_release(t);
  return r;
}

static double arange_at(int64_t i, const double *p) { return p[0] + i * p[1]; }

ln_tensor *ln_arange(double start, double end, double step, ln_dtype dt,
                     ln_device dev) {
  if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(end))
    return ln_error("arange: step must be finite and non-zero"), NULL;
  double count = ceil((end - start) / step);
  if (count < 0) count = 0;
  if (count > (double)LN_MAX_NUMEL)
    return ln_error("arange: %.0f elements are too many", count), NULL;
  double p[2] = {start, step};
  return from_function((int64_t)count, dt, dev, arange_at, p);
}

/* The last point is `end` exactly, except for one point: that is `start`,
** as in PyTorch and NumPy. */
static double linspace_at(int64_t i, const double *p) {
  if (i == 0) return p[0];
  return i == (int64_t)p[2] - 1 ? p[1] : p[0] + i * (p[1] - p[0]) / (p[2] - 1);
}

ln_tensor *ln_linspace(double start, double end, int64_t steps, ln_dtype dt,
                       ln_device dev) {
  if (steps < 0) return ln_error("linspace: steps must be >= 0"), NULL;
  if (steps > LN_MAX_NUMEL)
    return ln_error("linspace: %lld steps are too many (at most 2^40)",
                    (long long)steps), NULL;
  double p[3] = {start, end, (double)steps};
  return from_function(steps, dt, dev, linspace_at, p);
}

ln_tensor *ln_eye(int64_t n, int64_t m, ln_dtype dt, ln_device dev) {
  int64_t shape[2] = {n, m < 0 ? n : m};
  ln_tensor *t = ln_zeros(2, shape, dt, dev);
  if (!t) return NULL;
  int64_t k = shape[0] < shape[1] ? shape[0] : shape[1];
  int64_t dshape[1] = {k}, dstride[1] = {shape[1] + 1};
  ln_tensor *diag = ln_view_raw(t, 0, 1, dshape, dstride);
  int rc = diag ? LN_BACKEND(t)->fill(diag, 1) : LN_ERR;
  ln_tensor_release(diag);
  if (rc != LN_OK) ln_tensor_release(t);
  return rc == LN_OK ? t : NULL;
}

ln_tensor *ln_from_buffer(const void *data, int ndim, const int64_t *shape,
                          ln_dtype dt, ln_device dev) {
  ln_tensor *t = ln_empty(ndim, shape, dt, dev);
  if (!t) return NULL;
  if (LN_BACKEND(t)->write(t->storage, 0, data, ln_tensor_nbytes(t)) != LN_OK) {
    ln_tensor_release(t);
    return NULL;
  }
  return t;
}

ln_tensor *ln_wrap_buffer(void *data, int ndim, const int64_t *shape,
                          ln_dtype dt) {
  if (check_shape("wrap_buffer", ndim, shape) != LN_OK) return NULL;
  ln_storage *s = calloc(1, sizeof *s);
  if (!s) return ln_error("out of memory allocating a storage"), NULL;
  s->refcount = 1;
  s->device = ln_device_cpu();
  s->data = data;
  s->owner = data;
  s->nbytes = (size_t)ln_shape_numel(ndim, shape) * ln_dtype_size(dt);
  int64_t stride[LN_MAX_DIMS];
  ln_contiguous_strides(ndim, shape, stride);
  ln_tensor *t = ln_tensor_new_view(s, 0, ndim, shape, stride, dt);
  ln_storage_release(s);
  return t;
}

int ln_to_buffer(const ln_tensor *t, void *data, ln_dtype dt) {
  ln_tensor *cpu = ln_to_device((ln_tensor *)t, ln_device_cpu());
  if (!cpu) return LN_ERR;
  ln_tensor *dst = ln_wrap_buffer(data, t->ndim, t->shape, dt);
  int rc = dst ? ln_backend_cpu.copy(dst, cpu) : LN_ERR;
  ln_tensor_release(dst);
  ln_tensor_release(cpu);
  return rc;
}

/* ---- copies across dtypes and devices ----------------------------------- */

ln_tensor *ln_cast_raw(ln_tensor *t, ln_dtype dt) {
  if (t->dtype == dt) return ln_tensor_retain(t);
  ln_tensor *r = ln_empty(t->ndim, t->shape, dt, ln_tensor_device(t));
  if (r && LN_BACKEND(t)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

static int cast_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  gin[0] = ln_to_dtype(gout, n->inputs[0]->dtype);
  return gin[0] ? LN_OK : LN_ERR;
}

ln_tensor *ln_to_dtype(ln_tensor *t, ln_dtype dt) {
  if (t->dtype == dt) return ln_tensor_retain(t);
  ln_tensor *r = ln_cast_raw(t, dt);
  if (!r || !ln_dtype_is_float(dt)) return r;
  ln_node *n;
  return ln_recorded(r, ln_record(&n, r, "ToCopyBackward", cast_backward, 1, &t));
}

/* Moves bytes of a contiguous tensor between devices through host memory. */
static ln_tensor *copy_across(ln_tensor *t, ln_device dev) {
  ln_tensor *src = ln_contiguous(t);
  if (!src) return NULL;
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, dev);
  size_t n = ln_tensor_nbytes(src), off = src->offset * ln_dtype_size(src->dtype);
  void *host = malloc(n ? n : 1);
  int rc = r && host ? LN_OK : LN_ERR;
  if (!host) ln_error("out of memory staging a device copy");
  if (rc == LN_OK) rc = LN_BACKEND(src)->read(src->storage, off, host, n);
  if (rc == LN_OK) rc = LN_BACKEND(r)->write(r->storage, 0, host, n);
  free(host);
  ln_tensor_release(src);
  if (rc != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

static int to_device_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  gin[0] = ln_to_device(gout, ln_tensor_device(n->inputs[0]));
  return gin[0] ? LN_OK : LN_ERR;
}

ln_tensor *ln_to_device(ln_tensor *t, ln_device dev) {
  if (ln_device_equal(ln_tensor_device(t), dev)) return ln_tensor_retain(t);
  ln_tensor *r = copy_across(t, dev);
  if (!r) return NULL;
  ln_node *n;
  return ln_recorded(r, ln_record(&n, r, "ToCopyBackward", to_device_backward,
                                  1, &t));
}

ln_tensor *ln_to(ln_tensor *t, ln_dtype dt, ln_device dev) {
  ln_tensor *typed = ln_to_dtype(t, dt);
  ln_tensor *r = typed ? ln_to_device(typed, dev) : NULL;
  ln_tensor_release(typed);
  return r;
}

static int identity_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  (void)n;
  gin[0] = ln_tensor_retain(gout);
  return LN_OK;
}

/* A contiguous copy without history. */
static ln_tensor *clone_raw(ln_tensor *t) {
  ln_tensor *r = ln_empty(t->ndim, t->shape, t->dtype, ln_tensor_device(t));
  if (r && LN_BACKEND(t)->copy(r, t) != LN_OK) {
    ln_tensor_release(r);
    return NULL;
  }
  return r;
}

ln_tensor *ln_clone(ln_tensor *t) {
  ln_tensor *r = clone_raw(t);
  if (!r) return NULL;
  ln_node *n;
  return ln_recorded(r, ln_record(&n, r, "CloneBackward", identity_backward, 1, &t));
}

ln_tensor *ln_contiguous(ln_tensor *t) {
  if (ln_tensor_is_contiguous(t)) return ln_tensor_retain(t);
  return ln_clone(t);
}

ln_tensor *ln_detach(ln_tensor *t) {
  return ln_view_raw(t, t->offset, t->ndim, t->shape, t->stride);
}

/* ---- in-place writes ---------------------------------------------------- */

static int copy_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  if (ln_node_needs_grad(n, 0)) {
    gin[0] = ln_zeros(gout->ndim, gout->shape, gout->dtype, ln_tensor_device(gout));
    if (!gin[0]) return LN_ERR;
  }
  if (ln_node_needs_grad(n, 1)) {
    ln_tensor *src = n->inputs[1];
    gin[1] = ln_sum_to(gout, src->ndim, src->shape);
    if (gin[1] && gin[1]->dtype != src->dtype) {
      ln_tensor *c = ln_cast_raw(gin[1], src->dtype);
      ln_tensor_release(gin[1]);
      gin[1] = c;
    }
    if (!gin[1]) return LN_ERR;
  }
  return LN_OK;
}

int ln_copy_(ln_tensor *dst, ln_tensor *src) {
  if (ln_check_inplace(dst) != LN_OK) return LN_ERR;
  ln_tensor *moved = ln_device_equal(ln_tensor_device(src), ln_tensor_device(dst))
                         ? ln_tensor_retain(src)
                         : copy_across(src, ln_tensor_device(dst));
  if (!moved) return LN_ERR;
  ln_tensor *b = ln_expand_raw(moved, dst->ndim, dst->shape);
  int rc = LN_ERR;
  if (!b) {
    char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
    ln_error("copy: shape %s cannot be copied into %s",
             ln_shape_str(src->ndim, src->shape, s1, sizeof s1),
             ln_shape_str(dst->ndim, dst->shape, s2, sizeof s2));
  } else {
    rc = LN_BACKEND(dst)->copy(dst, b);
  }
  ln_tensor_release(b);
  ln_tensor_release(moved);
  if (rc != LN_OK) return LN_ERR;
  ln_bump_version(dst);
  if (ln_dtype_is_float(dst->dtype) &&
      ln_any_requires_grad(2, (ln_tensor *[]){dst, src}))
    if (ln_record_inplace(dst, "CopyBackward", copy_backward, 1, &src) != LN_OK)
      return LN_ERR;
  return LN_OK;
}

static int fill_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  (void)n;
  gin[0] = ln_zeros(gout->ndim, gout->shape, gout->dtype, ln_tensor_device(gout));
  return gin[0] ? LN_OK : LN_ERR;
}

int ln_fill_(ln_tensor *dst, double value) {
  if (ln_check_inplace(dst) != LN_OK) return LN_ERR;
  if (LN_BACKEND(dst)->fill(dst, value) != LN_OK) return LN_ERR;
  ln_bump_version(dst);
  if (dst->grad_fn && ln_grad_enabled())
    if (ln_record_inplace(dst, "FillBackward", fill_backward, 0, NULL) != LN_OK)
      return LN_ERR;
  return LN_OK;
}

int ln_zero_(ln_tensor *dst) { return ln_fill_(dst, 0); }
