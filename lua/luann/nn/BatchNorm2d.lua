--- nn.BatchNorm2d: batch normalisation of (N, C, H, W) per channel; the
-- arguments, parameters and buffers of nn.BatchNorm1d.
-- @usage local bn = nn.BatchNorm2d(16)
local BatchNorm1d = require "luann.nn.BatchNorm1d"

local BatchNorm2d = BatchNorm1d:extend("BatchNorm2d")
BatchNorm2d.input_dims = { 4 }

return BatchNorm2d
