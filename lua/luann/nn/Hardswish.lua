--- nn.Hardswish: x * relu6(x + 3) / 6, elementwise.
-- @usage local act = nn.Hardswish(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Hardswish = Module:extend("Hardswish")

--- Takes no settings.
function Hardswish:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function Hardswish:forward(x)
  return F.hardswish(x)
end

return Hardswish
