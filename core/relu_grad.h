/*
** relu_grad.h: ReLU's backward in one pass (core/op_relu_grad.c), for
** core/op_pointwise.c's relu_backward (internal).
*/
#ifndef LUANN_RELU_GRAD_H
#define LUANN_RELU_GRAD_H

#include <stdbool.h>

#include "internal.h"
#include "luann_core.h"

/* Whether ln_relu_grad takes g and y: float32 or float64, one dtype, one
** shape and device. */
LN_INTERNAL bool ln_relu_grad_takes(const ln_tensor *g, const ln_tensor *y);
/* g where y > 0, else 0 (NaN in y gives 0), as a new contiguous tensor,
** not recorded: the backward of ReLU outside create_graph. */
LN_INTERNAL ln_tensor *ln_relu_grad(ln_tensor *g, ln_tensor *y);

#endif
