--- nn.SiLU: x * sigmoid(x) (swish), elementwise.
-- @usage local act = nn.SiLU(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local SiLU = Module:extend("SiLU")

--- Takes no settings.
function SiLU:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function SiLU:forward(x)
  return F.silu(x)
end

return SiLU
