--- nn.LogSoftmax: x - log(sum(exp(x))) along a dim (numerically stable).
-- @usage local sm = nn.LogSoftmax(2)  -- over dim 2 of (N, C)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local LogSoftmax = Module:extend("LogSoftmax")

--- @param dim the 1-based dim to normalise over (default -1, the last)
function LogSoftmax:__init(dim)
  self.dim = check.integer("nn.LogSoftmax", 1, dim, "dim", -1, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function LogSoftmax:forward(x)
  return F.log_softmax(x, self.dim)
end

function LogSoftmax:extra_repr()
  return "dim=" .. self.dim
end

return LogSoftmax
