--- nn.Identity: returns its input unchanged (a placeholder layer).
local Module = require "luann.nn.Module"

local Identity = Module:extend("Identity")

--- Takes and ignores any arguments, like PyTorch's.
function Identity:__init() end

--- @param x any value
-- @return x
function Identity:forward(x)
  return x
end

return Identity
