--- nn.Softmax: exp(x) / sum(exp(x)) along a dim.
-- @usage local sm = nn.Softmax(2)  -- over dim 2 of (N, C)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Softmax = Module:extend("Softmax")

--- @param dim the 1-based dim to normalise over (default -1, the last)
function Softmax:__init(dim)
  self.dim = check.integer("nn.Softmax", 1, dim, "dim", -1, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function Softmax:forward(x)
  return F.softmax(x, self.dim)
end

function Softmax:extra_repr()
  return "dim=" .. self.dim
end

return Softmax
