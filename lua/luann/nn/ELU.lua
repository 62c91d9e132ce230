--- nn.ELU: x for x > 0, alpha * (exp(x) - 1) otherwise.
-- @usage local act = nn.ELU(); local act = nn.ELU(0.5)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local ELU = Module:extend("ELU")

--- @param alpha the value approached as x -> -inf is -alpha (default 1)
function ELU:__init(alpha)
  self.alpha = check.number("nn.ELU", 1, alpha, "alpha", 1, nil, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function ELU:forward(x)
  return F.elu(x, self.alpha)
end

function ELU:extra_repr()
  return "alpha=" .. self.alpha
end

return ELU
