--- nn.ReLU: max(0, x), elementwise.
-- @usage local act = nn.ReLU(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local ReLU = Module:extend("ReLU")

--- Takes no settings.
function ReLU:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function ReLU:forward(x)
  return F.relu(x)
end

return ReLU
