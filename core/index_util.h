/*
** index_util.h: helpers shared by the index op families (op_gather.c,
** op_mask.c, op_join.c, op_sort.c); internal. None records history.
**
** Dims and index values are 0-based here, as everywhere in the core, but
** error messages print them 1-based (index + 1, dim + 1; likewise the
** position of a tensor in a cat/stack list): users read these messages in
** Lua, where the bindings turned their 1-based numbers into ours, so the
** numbers match what they typed. "gather: index 7 is out of range for
** dim 2 of size 5" is about a 0-based index 6 in dim 1. Sizes and counts
** (k of topk, num_classes) are not positions and print as they are.
**
** 0-dim tensors behave as 1-element 1-D ones (PyTorch does the same): the
** front ends hand kernels 1-D views of them (ln_as_1d).
*/
#ifndef LUANN_INDEX_UTIL_H
#define LUANN_INDEX_UTIL_H

#include "internal.h"
#include "luann_core.h"

/* A contiguous copy of t. */
LN_INTERNAL ln_tensor *ln_copy_raw(ln_tensor *t);
/* t retained, or for a 0-dim t a 1-element 1-D view of it. */
LN_INTERNAL ln_tensor *ln_as_1d(ln_tensor *t);
/* The window [start, start + len) of t along dim. */
LN_INTERNAL ln_tensor *ln_narrow_raw(ln_tensor *t, int dim, int64_t start,
                                     int64_t len);
/* Errors unless index is int64 and on a's device. */
LN_INTERNAL int ln_check_index(const char *op, const ln_tensor *a,
                               const ln_tensor *index);
/* ln_check_index, and index at most 1-D. */
LN_INTERNAL int ln_check_vector_index(const char *op, const ln_tensor *a,
                                      const ln_tensor *index);
/* Copies result (released) into a: the end of an in-place op. */
LN_INTERNAL int ln_write_back(ln_tensor *a, ln_tensor *result);
/* out[index] (+)= src along dim, in place on a contiguous out. */
LN_INTERNAL int ln_scatter_into(const char *op, ln_tensor *out, int dim,
                                ln_tensor *index, ln_tensor *src,
                                bool accumulate);
/* out[.., index[j], ..] += alpha * src[.., j, ..], in place on a contiguous
** out. */
LN_INTERNAL int ln_index_add_into(const char *op, ln_tensor *out, int dim,
                                  ln_tensor *index, ln_tensor *src,
                                  double alpha);

#endif
