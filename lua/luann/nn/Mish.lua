--- nn.Mish: x * tanh(softplus(x)), elementwise.
-- @usage local act = nn.Mish(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Mish = Module:extend("Mish")

--- Takes no settings.
function Mish:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function Mish:forward(x)
  return F.mish(x)
end

return Mish
