/*
** ocl_pointwise.c: copy, fill and the elementwise ops on OpenCL
** (kernels/copy.cl, unary.cl, binary.cl).
**
** Each entry merges the operands' dims (ocl_geometry); when every operand
** is then a plain array it runs the kernel's _contig variant, else the
** strided one. Contiguous copies within a dtype and contiguous fills use
** the queue's own copy and fill commands.
*/
#include <math.h>
#include <string.h>

#include "ocl.h"

/* The device of t, after checking that it holds t's dtype. */
static ocl_device *device_for(const ln_tensor *t, const char *op) {
  ocl_device *d = ocl_device_of(t->storage);
  if (d && ocl_check_dtype(d, t->dtype, op) != LN_OK) return NULL;
  return d;
}

/* A contiguous copy within one dtype: the queue's copy command, unless
** the ranges overlap inside one buffer (the command refuses that). */
static bool copy_buffer(ocl_device *d, ln_tensor *dst, const ln_tensor *src,
                        int *rc) {
  size_t es = ln_dtype_size(dst->dtype), n = ln_tensor_nbytes(dst);
  size_t so = (size_t)src->offset * es, dof = (size_t)dst->offset * es;
  if (ocl_mem(dst) == ocl_mem(src) && so < dof + n && dof < so + n) return false;
  cl_int st = clEnqueueCopyBuffer(d->queue, ocl_mem(src), ocl_mem(dst), so, dof,
                                  n, 0, NULL, NULL);
  *rc = st == CL_SUCCESS ? LN_OK : ocl_fail(st, "clEnqueueCopyBuffer");
  return true;
}

/* dst = src converted to dst's dtype. */
int ocl_copy(ln_tensor *dst, const ln_tensor *src) {
  ocl_device *d = device_for(dst, "copy");
  if (!d || ocl_check_dtype(d, src->dtype, "copy") != LN_OK) return LN_ERR;
  if (ln_tensor_numel(dst) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[2];
  const ln_tensor *ts[2] = {dst, src};
  bool plain = ocl_geometry(2, ts, &sh, st);
  int rc;
  if (plain && dst->dtype == src->dtype && copy_buffer(d, dst, src, &rc))
    return rc;
  ocl_call c;
  if (ocl_begin(&c, d, dst->dtype, plain ? "copy_contig" : "copy") != LN_OK)
    return LN_ERR;
  ocl_arg_int(&c, (int)src->dtype);
  if (plain) {
    ocl_arg_long(&c, sh.numel);
    ocl_arg_long(&c, dst->offset);
    ocl_arg_long(&c, src->offset);
  } else {
    ocl_arg(&c, sizeof sh, &sh);
    ocl_arg(&c, sizeof st[0], &st[0]);
    ocl_arg(&c, sizeof st[1], &st[1]);
  }
  ocl_arg_mem(&c, dst);
  ocl_arg_mem(&c, src);
  return ocl_run(&c, sh.numel);
}

/* dst = value. */
int ocl_fill(ln_tensor *dst, double value) {
  ocl_device *d = device_for(dst, "fill");
  if (!d) return LN_ERR;
  if (ln_tensor_numel(dst) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st;
  const ln_tensor *ts[1] = {dst};
  if (ocl_geometry(1, ts, &sh, &st)) {
    char pattern[8];
    size_t es = ln_dtype_size(dst->dtype);
    ocl_scalar_bytes(dst->dtype, value, pattern);
    cl_int s = clEnqueueFillBuffer(d->queue, ocl_mem(dst), pattern, es,
                                   (size_t)dst->offset * es, (size_t)sh.numel * es,
                                   0, NULL, NULL);
    return s == CL_SUCCESS ? LN_OK : ocl_fail(s, "clEnqueueFillBuffer");
  }
  ocl_call c;
  if (ocl_begin(&c, d, dst->dtype, "fill") != LN_OK) return LN_ERR;
  ocl_arg_real(&c, dst->dtype, value);
  ocl_arg(&c, sizeof sh, &sh);
  ocl_arg(&c, sizeof st, &st);
  ocl_arg_mem(&c, dst);
  return ocl_run(&c, sh.numel);
}

/* ---- unary ----------------------------------------------------------------------- */

/* out = op(a) with the op's two parameters (clamp bounds, slope). */
static int unary_run(int op, double p0, double p1, ln_tensor *out,
                     const ln_tensor *a, const char *name) {
  ocl_device *d = device_for(a, name);
  if (!d) return LN_ERR;
  if (ln_tensor_numel(out) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[2];
  const ln_tensor *ts[2] = {out, a};
  bool plain = ocl_geometry(2, ts, &sh, st);
  ocl_call c;
  if (plain && op == LN_UNARY_RELU && ln_dtype_is_float(a->dtype)) {
    if (ocl_begin(&c, d, a->dtype, "relu_contig") != LN_OK) return LN_ERR;
    ocl_arg_long(&c, sh.numel);
    ocl_arg_long(&c, out->offset);
    ocl_arg_long(&c, a->offset);
    ocl_arg_mem(&c, out);
    ocl_arg_mem(&c, a);
    return ocl_run(&c, sh.numel);
  }
  if (ocl_begin(&c, d, a->dtype, plain ? "unary_contig" : "unary") != LN_OK)
    return LN_ERR;
  ocl_arg_int(&c, op);
  ocl_arg_real(&c, a->dtype, p0);
  ocl_arg_real(&c, a->dtype, p1);
  if (plain) {
    ocl_arg_long(&c, sh.numel);
    ocl_arg_long(&c, out->offset);
    ocl_arg_long(&c, a->offset);
  } else {
    ocl_arg(&c, sizeof sh, &sh);
    ocl_arg(&c, sizeof st[0], &st[0]);
    ocl_arg(&c, sizeof st[1], &st[1]);
  }
  ocl_arg_mem(&c, out);
  ocl_arg_mem(&c, a);
  return ocl_run(&c, sh.numel);
}

/* out (bool) = test(a): logical not, isnan, ... */
static int unary_test(ln_unary_op op, ln_tensor *out, const ln_tensor *a) {
  ocl_device *d = device_for(a, ln_unary_name(op));
  if (!d) return LN_ERR;
  if (ln_tensor_numel(out) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[2];
  const ln_tensor *ts[2] = {out, a};
  ocl_geometry(2, ts, &sh, st);
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, "unary_test") != LN_OK) return LN_ERR;
  ocl_arg_int(&c, (int)op);
  ocl_arg(&c, sizeof sh, &sh);
  ocl_arg(&c, sizeof st[0], &st[0]);
  ocl_arg(&c, sizeof st[1], &st[1]);
  ocl_arg_mem(&c, out);
  ocl_arg_mem(&c, a);
  return ocl_run(&c, sh.numel);
}

/* The ops integer dtypes have (the others need a float result). */
static bool unary_int_supported(ln_unary_op op) {
  switch (op) {
    case LN_UNARY_NEG: case LN_UNARY_ABS: case LN_UNARY_RELU:
    case LN_UNARY_SIGN: case LN_UNARY_SQUARE: case LN_UNARY_FLOOR:
    case LN_UNARY_CEIL: case LN_UNARY_ROUND:
      return true;
    default:
      return false;
  }
}

int ocl_unary(ln_unary_op op, ln_tensor *out, const ln_tensor *a) {
  if ((unsigned)op >= LN_UNARY_COUNT)
    return ln_error("unary: invalid op %d", (int)op);
  bool test = ln_unary_is_test(op);
  bool ok = test ? out->dtype == LN_BOOL : out->dtype == a->dtype;
  if (!ok || (!test && !ln_dtype_is_float(a->dtype) && !unary_int_supported(op)))
    return ln_error("%s: the OpenCL kernel does not take %s into %s",
                    ln_unary_name(op), ln_dtype_name(a->dtype),
                    ln_dtype_name(out->dtype));
  if (test) return unary_test(op, out, a);
  return unary_run((int)op, 0, 0, out, a, ln_unary_name(op));
}

/* An integer clamp bound: rounded inward (ceil for lo, floor for hi) and
** saturated to the dtype, as the CPU does. */
static double int_bound(double v, bool lower, double min, double max) {
  v = lower ? ceil(v) : floor(v);
  return v <= min ? min : v >= max ? max : v;
}

/* f(x) = min(max(x, lo), hi), NaN kept */
int ocl_clamp(ln_tensor *out, const ln_tensor *a, double lo, double hi) {
  if (out->dtype != a->dtype || a->dtype == LN_BOOL)
    return ln_error("clamp: the OpenCL kernel does not take %s into %s",
                    ln_dtype_name(a->dtype), ln_dtype_name(out->dtype));
  if (!ln_dtype_is_float(a->dtype)) {
    double min = a->dtype == LN_UINT8 ? 0 : -9.2233720368547758e18;
    double max = a->dtype == LN_UINT8 ? 255 : 9.2233720368547758e18;
    lo = int_bound(lo, true, min, max);
    hi = int_bound(hi, false, min, max);
  }
  return unary_run(OCL_UNARY_CLAMP, lo, hi, out, a, "clamp");
}

/* f(x) = x > 0 ? x : slope * x */
int ocl_leaky_relu(ln_tensor *out, const ln_tensor *a, double slope) {
  if (out->dtype != a->dtype || !ln_dtype_is_float(a->dtype))
    return ln_error("leaky_relu: the OpenCL kernel does not take %s into %s",
                    ln_dtype_name(a->dtype), ln_dtype_name(out->dtype));
  return unary_run(OCL_UNARY_LEAKY, slope, 0, out, a, "leaky_relu");
}

/* ---- binary and where ------------------------------------------------------------ */

/* Whether out and a are plain arrays and b is one too (*bstep 1) or a
** single value (*bstep 0, as in x * 2): the _contig kernels' case. */
static bool plain_or_scalar(const ocl_shape *sh, const ocl_strides *st,
                            int *bstep) {
  if (sh->ndim != 1) return false;
  if (sh->size[0] == 1) return *bstep = 0, true;
  if (st[0].st[0] != 1 || st[1].st[0] != 1) return false;
  if (st[2].st[0] != 0 && st[2].st[0] != 1) return false;
  *bstep = (int)st[2].st[0];
  return true;
}

/* The kernel of their own the four arithmetic ops have (binary.cl). */
static const char *fast_binary(ln_binary_op op) {
  switch (op) {
    case LN_BINARY_ADD: return "add_contig";
    case LN_BINARY_SUB: return "sub_contig";
    case LN_BINARY_MUL: return "mul_contig";
    case LN_BINARY_DIV: return "div_contig";
    default: return NULL;
  }
}

int ocl_binary(ln_binary_op op, ln_tensor *out, const ln_tensor *a,
               const ln_tensor *b) {
  if ((unsigned)op >= LN_BINARY_COUNT)
    return ln_error("binary: invalid op %d", (int)op);
  bool cmp = op >= LN_BINARY_EQ, is_float = ln_dtype_is_float(a->dtype);
  if (a->dtype != b->dtype || out->dtype != (cmp ? LN_BOOL : a->dtype) ||
      (!is_float && (op == LN_BINARY_DIV || op == LN_BINARY_ATAN2)))
    return ln_error("%s: the OpenCL kernel does not take %s and %s into %s",
                    ln_binary_name(op), ln_dtype_name(a->dtype),
                    ln_dtype_name(b->dtype), ln_dtype_name(out->dtype));
  ocl_device *d = device_for(a, ln_binary_name(op));
  if (!d) return LN_ERR;
  if (ln_tensor_numel(out) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[3];
  const ln_tensor *ts[3] = {out, a, b};
  ocl_geometry(3, ts, &sh, st);
  int bstep;
  bool plain = plain_or_scalar(&sh, st, &bstep);
  const char *fast = plain && is_float ? fast_binary(op) : NULL;
  const char *name = fast ? fast
                     : cmp ? (plain ? "compare_contig" : "compare")
                           : (plain ? "binary_contig" : "binary");
  ocl_call c;
  if (ocl_begin(&c, d, a->dtype, name) != LN_OK) return LN_ERR;
  if (!fast) ocl_arg_int(&c, (int)op);
  if (plain) {
    ocl_arg_long(&c, sh.numel);
    for (int i = 0; i < 3; i++) ocl_arg_long(&c, ts[i]->offset);
    ocl_arg_int(&c, bstep);
  } else {
    ocl_arg(&c, sizeof sh, &sh);
    for (int i = 0; i < 3; i++) ocl_arg(&c, sizeof st[i], &st[i]);
  }
  for (int i = 0; i < 3; i++) ocl_arg_mem(&c, ts[i]);
  if (!cmp && !fast) ocl_arg_buf(&c, d->flag); /* integer fmod by zero */
  if (!cmp && !is_float &&
      (op == LN_BINARY_FMOD || op == LN_BINARY_REMAINDER ||
       op == LN_BINARY_FLOOR_DIVIDE))
    d->flag_pending = true;
  return ocl_run(&c, sh.numel);
}

/* f(c, a, b) = c ? a : b */
int ocl_where(ln_tensor *out, const ln_tensor *cond, const ln_tensor *a,
              const ln_tensor *b) {
  if (cond->dtype != LN_BOOL || a->dtype != out->dtype ||
      b->dtype != out->dtype)
    return ln_error("where: the OpenCL kernel expects a bool condition and "
                    "operands of the output's dtype");
  ocl_device *d = device_for(out, "where");
  if (!d) return LN_ERR;
  if (ln_tensor_numel(out) == 0) return LN_OK;
  ocl_shape sh;
  ocl_strides st[4];
  const ln_tensor *ts[4] = {out, cond, a, b};
  bool plain = ocl_geometry(4, ts, &sh, st);
  ocl_call c;
  if (ocl_begin(&c, d, out->dtype, plain ? "where_contig" : "where") != LN_OK)
    return LN_ERR;
  if (plain) {
    ocl_arg_long(&c, sh.numel);
    for (int i = 0; i < 4; i++) ocl_arg_long(&c, ts[i]->offset);
  } else {
    ocl_arg(&c, sizeof sh, &sh);
    for (int i = 0; i < 4; i++) ocl_arg(&c, sizeof st[i], &st[i]);
  }
  for (int i = 0; i < 4; i++) ocl_arg_mem(&c, ts[i]);
  return ocl_run(&c, sh.numel);
}
