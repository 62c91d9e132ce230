--- nn.ReLU6: min(max(x, 0), 6), elementwise.
-- @usage local act = nn.ReLU6(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local ReLU6 = Module:extend("ReLU6")

--- Takes no settings.
function ReLU6:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function ReLU6:forward(x)
  return F.relu6(x)
end

return ReLU6
