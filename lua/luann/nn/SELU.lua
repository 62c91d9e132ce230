--- nn.SELU: scale * elu(x, alpha), alpha = 1.6732632423543772 and
-- scale = 1.0507009873554805 (self-normalising networks), elementwise.
-- @usage local act = nn.SELU(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local SELU = Module:extend("SELU")

--- Takes no settings.
function SELU:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function SELU:forward(x)
  return F.selu(x)
end

return SELU
