--- nn.Sigmoid: 1 / (1 + exp(-x)), elementwise.
-- @usage local act = nn.Sigmoid(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Sigmoid = Module:extend("Sigmoid")

--- Takes no settings.
function Sigmoid:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function Sigmoid:forward(x)
  return F.sigmoid(x)
end

return Sigmoid
