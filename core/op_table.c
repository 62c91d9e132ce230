/*
** op_table.c: the list of op rows (core/op.h). A new op adds its name
** here; its row lives in its op file.
*/
#include <stddef.h>

#include "op.h"

#define LN_OPS(X) \
  X(unfold) X(pad) X(cumsum) X(cumprod) X(tril) X(triu) \
  X(conv2d) X(conv1d) X(conv_transpose2d) X(im2col) X(col2im) \
  X(flip) X(roll) X(repeat) X(repeatTensor) X(tile) X(nonzero) \
  X(max_pool2d_with_indices) X(layer_norm) X(_attention) X(_lstm)

#define DECLARE(name) LN_INTERNAL extern const ln_op ln_op_##name;
LN_OPS(DECLARE)

#define ENTRY(name) &ln_op_##name,
const ln_op *const ln_op_table[] = {LN_OPS(ENTRY) NULL};
