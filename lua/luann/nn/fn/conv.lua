--- Convolution for nn.functional: the core's ops (core/op_conv.c), under
-- PyTorch's names. Sizes are a number or a list ({h, w}); padding may also
-- be "valid" or "same".
-- @usage F.conv2d(x, weight, bias, {stride = 2, padding = 1})
local luann = require "luann"

return function(F)
  --- (N, C, H, W) or (C, H, W) input, weight (out, in/groups, kh, kw).
  -- Options: stride, padding, dilation, groups (or by position after bias).
  F.conv2d = luann.conv2d
  --- (N, C, L) or (C, L) input, weight (out, in/groups, k).
  F.conv1d = luann.conv1d
  --- Weight (in, out/groups, kh, kw). Options: stride, padding,
  -- output_padding, groups, dilation.
  F.conv_transpose2d = luann.conv_transpose2d
  --- Sliding blocks as columns: (N, C, H, W) -> (N, C*kh*kw, L).
  -- Options: kernel_size, dilation, padding, stride.
  F.unfold = luann.im2col
  --- The adjoint of F.unfold: (N, C*kh*kw, L) -> (N, C, output_size).
  -- Options: output_size, kernel_size, dilation, padding, stride.
  F.fold = luann.col2im
  --- PyTorch's F.pad: {left, right, top, bottom, ...} from the last dim;
  -- mode "constant" (value), "reflect", "replicate" or "circular".
  F.pad = luann.pad
end
