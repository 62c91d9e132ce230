--- nn.Conv2d: a 2-d convolution over (N, C_in, H, W) or (C_in, H, W)
-- inputs, through F.conv2d. weight is (out_channels, in_channels/groups,
-- kh, kw), bias (out_channels), initialised as PyTorch does.
-- @usage local conv = nn.Conv2d(1, 6, 5)                  -- 5x5 kernel
-- local conv = nn.Conv2d(3, 8, 3, {padding = "same", bias = false})
-- local conv = nn.Conv2d(3, 8, {3, 5}, 2, 1)              -- stride 2, padding 1
-- local conv = nn.Conv2d(4, 4, 3, {groups = 4, padding = 1, padding_mode = "reflect"})
local ConvNd = require "luann.nn.ConvNd"
local F = require "luann.nn.functional"

local Conv2d = ConvNd:extend("Conv2d")
Conv2d.nd = 2
Conv2d.positional = { "stride", "padding", "dilation", "groups", "bias", "padding_mode" }

--- @param x (N, C_in, H, W) or (C_in, H, W)
-- @return (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
function Conv2d:forward(x)
  local input, o = self:conv_args(x)
  return F.conv2d(input, self.weight, self.bias, o)
end

return Conv2d
