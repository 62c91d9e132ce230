/*
** shape.h: shape arithmetic shared by the op front ends (internal).
*/
#ifndef LUANN_SHAPE_H
#define LUANN_SHAPE_H

#include "internal.h"
#include "luann_core.h"

/* The most elements a tensor may have, views included: more is a mistake
** (no machine holds 2^40 floats) and keeps every count far from overflow. */
#define LN_MAX_NUMEL (INT64_C(1) << 40)

/* Turns a possibly negative dim into 0..ndim-1 (ndim+1 choices when
** `extra`, for unsqueeze/stack); errors name the op. */
LN_INTERNAL int ln_wrap_dim(const char *op, int dim, int ndim, bool extra,
                            int *out);
/* NumPy broadcasting of two shapes into (ndim, shape). */
LN_INTERNAL int ln_broadcast_shapes(const char *op, int na, const int64_t *sa,
                                    int nb, const int64_t *sb, int *ndim,
                                    int64_t *shape);
/* A view of t expanded to shape (stride 0 on broadcast dims), no autograd:
** kernels' operands. */
LN_INTERNAL ln_tensor *ln_expand_raw(ln_tensor *t, int ndim,
                                     const int64_t *shape);
/* Contiguous row-major strides for shape. */
LN_INTERNAL void ln_contiguous_strides(int ndim, const int64_t *shape,
                                       int64_t *stride);
LN_INTERNAL int64_t ln_shape_numel(int ndim, const int64_t *shape);
LN_INTERNAL bool ln_same_shape(const ln_tensor *a, const ln_tensor *b);
/* Errors unless a and b are on the same device ("op: expected tensors on
** the same device, got cpu and opencl:0"). */
LN_INTERNAL int ln_check_same_device(const char *op, const ln_tensor *a,
                                     const ln_tensor *b);
/* A header sharing t's storage with new geometry, no autograd. */
LN_INTERNAL ln_tensor *ln_view_raw(ln_tensor *t, int64_t offset, int ndim,
                                   const int64_t *shape, const int64_t *stride);
/* t with the dtype dt, for kernels: t retained when it already is. */
LN_INTERNAL ln_tensor *ln_cast_raw(ln_tensor *t, ln_dtype dt);

#endif
