--- nn.Conv1d: a 1-d convolution over (N, C_in, L) or (C_in, L) inputs,
-- through F.conv1d. weight is (out_channels, in_channels/groups, k), bias
-- (out_channels), initialised as PyTorch does.
-- @usage local conv = nn.Conv1d(16, 33, 3, {stride = 2})
-- local conv = nn.Conv1d(4, 4, 5, {padding = "same", padding_mode = "circular"})
local ConvNd = require "luann.nn.ConvNd"
local F = require "luann.nn.functional"

local Conv1d = ConvNd:extend("Conv1d")
Conv1d.nd = 1
Conv1d.positional = { "stride", "padding", "dilation", "groups", "bias", "padding_mode" }

--- @param x (N, C_in, L) or (C_in, L)
-- @return (N, C_out, L_out) or (C_out, L_out)
function Conv1d:forward(x)
  local input, o = self:conv_args(x)
  return F.conv1d(input, self.weight, self.bias, o)
end

return Conv1d
