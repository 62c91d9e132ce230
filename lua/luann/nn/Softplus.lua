--- nn.Softplus: log(1 + exp(beta * x)) / beta, a smooth ReLU; x itself
-- where beta * x > threshold.
-- @usage local act = nn.Softplus(); local act = nn.Softplus(2, 10)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Softplus = Module:extend("Softplus")

--- @param beta the sharpness (default 1)
-- @param threshold above it (in beta * x) the layer is linear (default 20)
function Softplus:__init(beta, threshold)
  self.beta = check.number("nn.Softplus", 1, beta, "beta", 1, nil, nil, 3)
  self.threshold = check.number("nn.Softplus", 2, threshold, "threshold", 20, nil, nil, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function Softplus:forward(x)
  return F.softplus(x, self.beta, self.threshold)
end

function Softplus:extra_repr()
  return "beta=" .. self.beta .. ", threshold=" .. self.threshold
end

return Softplus
