--- nn.LeakyReLU: x for x > 0, negative_slope * x otherwise.
-- @usage local act = nn.LeakyReLU(0.2)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local LeakyReLU = Module:extend("LeakyReLU")

--- @param negative_slope the slope for x < 0 (default 0.01)
function LeakyReLU:__init(negative_slope)
  self.negative_slope = check.number("nn.LeakyReLU", 1, negative_slope, "negative_slope", 0.01, nil, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function LeakyReLU:forward(x)
  return F.leaky_relu(x, self.negative_slope)
end

function LeakyReLU:extra_repr()
  return "negative_slope=" .. self.negative_slope
end

return LeakyReLU
