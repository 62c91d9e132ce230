--- nn.Tanh: tanh(x), elementwise.
-- @usage local act = nn.Tanh(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Tanh = Module:extend("Tanh")

--- Takes no settings.
function Tanh:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function Tanh:forward(x)
  return F.tanh(x)
end

return Tanh
