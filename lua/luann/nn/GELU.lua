--- nn.GELU: x * Phi(x) (Phi: the standard normal CDF), elementwise.
-- @usage local act = nn.GELU(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local GELU = Module:extend("GELU")

--- Takes no settings.
function GELU:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function GELU:forward(x)
  return F.gelu(x)
end

return GELU
