--- nn.Hardtanh: x clamped to [min_val, max_val].
-- @usage local act = nn.Hardtanh(); local act = nn.Hardtanh(-2, 2)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Hardtanh = Module:extend("Hardtanh")

--- @param min_val the lower bound (default -1)
-- @param max_val the upper bound (default 1), not below min_val
function Hardtanh:__init(min_val, max_val)
  self.min_val = check.number("nn.Hardtanh", 1, min_val, "min_val", -1, nil, nil, 3)
  self.max_val = check.number("nn.Hardtanh", 2, max_val, "max_val", 1, self.min_val, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function Hardtanh:forward(x)
  return F.hardtanh(x, self.min_val, self.max_val)
end

function Hardtanh:extra_repr()
  return "min_val=" .. self.min_val .. ", max_val=" .. self.max_val
end

return Hardtanh
